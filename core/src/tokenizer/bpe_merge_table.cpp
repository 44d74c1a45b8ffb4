#include "bq/tokenizer/bpe_merge_table.h"

#include <algorithm>

namespace bq {

namespace {

inline std::size_t slotOf(std::uint64_t key, std::size_t mask) noexcept
{
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 29) & mask;
}

} // namespace

void BpeMergeTable::reserve(std::size_t merges)
{
    std::size_t cap = 16;
    while (cap < merges * 2)
        cap *= 2;
    if (cap <= m_slots.size())
        return;
    std::vector<Entry> old = std::move(m_slots);
    m_slots.assign(cap, Entry{});
    m_count = 0;
    for (const Entry& e : old)
        if (e.key != kEmpty)
            set(static_cast<std::int32_t>(e.key >> 32), static_cast<std::int32_t>(e.key & 0xFFFFFFFFu), e.rank,
                e.merged);
}

void BpeMergeTable::grow()
{
    reserve(std::max<std::size_t>(m_count + 1, m_slots.size()));
}

void BpeMergeTable::set(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t merged)
{
    if ((m_count + 1) * 2 > m_slots.size())
        grow();
    const std::uint64_t k = key(left, right);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = slotOf(k, mask);; i = (i + 1) & mask) {
        Entry& e = m_slots[i];
        if (e.key == k) {
            m_maxRank = std::max(m_maxRank, rank);
            e.rank = rank;
            e.merged = merged;
            return;
        }
        if (e.key == kEmpty) {
            m_maxRank = std::max(m_maxRank, rank);
            e = Entry{k, rank, merged};
            ++m_count;
            return;
        }
    }
}

const BpeMergeTable::Entry* BpeMergeTable::find(std::int32_t left, std::int32_t right) const noexcept
{
    if (m_slots.empty())
        return nullptr;
    const std::uint64_t k = key(left, right);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = slotOf(k, mask);; i = (i + 1) & mask) {
        const Entry& e = m_slots[i];
        if (e.key == k)
            return &e;
        if (e.key == kEmpty)
            return nullptr;
    }
}

void BpeMergeTable::mergeAll(std::vector<std::int32_t>& symbols) const
{
    const std::size_t n = symbols.size();
    if (n < 2 || m_count == 0)
        return;
    if (n > 4096 && m_maxRank >= 0 && m_maxRank < (1 << 24)) {
        mergeLong(symbols);
        return;
    }
    struct Sym {
        std::int32_t id, prev, next;
    };
    struct Cand {
        std::int32_t rank, pos, merged;
    };
    // std heap functions build a max-heap: "less" means lower priority = higher rank, then later position.
    const auto lower = [](const Cand& a, const Cand& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::vector<Sym> sym(n);
    std::vector<Cand> heap;
    heap.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        sym[i] = {symbols[i], static_cast<std::int32_t>(i) - 1, i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1};
    for (std::size_t i = 0; i + 1 < n; ++i)
        if (const Entry* e = find(symbols[i], symbols[i + 1]))
            heap.push_back({e->rank, static_cast<std::int32_t>(i), e->merged});
    std::make_heap(heap.begin(), heap.end(), lower);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), lower);
        const Cand top = heap.back();
        heap.pop_back();
        Sym& cur = sym[static_cast<std::size_t>(top.pos)];
        if (cur.id < 0 || cur.next < 0)
            continue; // removed, or now the last symbol
        Sym& right = sym[static_cast<std::size_t>(cur.next)];
        const Entry* now = find(cur.id, right.id);
        if (!now || now->merged != top.merged)
            continue; // stale: one side has merged since this entry was queued
        cur.id = top.merged;
        right.id = -1;
        cur.next = right.next;
        if (cur.next >= 0)
            sym[static_cast<std::size_t>(cur.next)].prev = top.pos;
        if (cur.prev >= 0) {
            if (const Entry* e = find(sym[static_cast<std::size_t>(cur.prev)].id, cur.id)) {
                heap.push_back({e->rank, cur.prev, e->merged});
                std::push_heap(heap.begin(), heap.end(), lower);
            }
        }
        if (cur.next >= 0) {
            if (const Entry* e = find(cur.id, sym[static_cast<std::size_t>(cur.next)].id)) {
                heap.push_back({e->rank, top.pos, e->merged});
                std::push_heap(heap.begin(), heap.end(), lower);
            }
        }
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (sym[i].id >= 0)
            symbols[out++] = sym[i].id;
    symbols.resize(out);
}

void BpeMergeTable::mergeLong(std::vector<std::int32_t>& symbols) const
{
    // Same order as mergeAll — lowest rank first, then lowest position — but candidates live in per-rank
    // buckets. The current bucket is kept sorted by descending position so its back is the next merge.
    const std::size_t n = symbols.size();
    struct Sym {
        std::int32_t id, prev, next;
    };
    struct Cand {
        std::int32_t pos, merged;
    };
    std::vector<Sym> sym(n);
    for (std::size_t i = 0; i < n; ++i)
        sym[i] = {symbols[i], static_cast<std::int32_t>(i) - 1, i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1};
    std::vector<std::vector<Cand>> buckets(static_cast<std::size_t>(m_maxRank) + 1);
    std::size_t live = 0;
    std::int32_t cur = m_maxRank + 1;
    bool sorted = false;
    const auto byPosDesc = [](const Cand& a, const Cand& b) { return a.pos > b.pos; };
    const auto push = [&](const Entry& e, std::int32_t pos) {
        auto& bucket = buckets[static_cast<std::size_t>(e.rank)];
        ++live;
        if (e.rank == cur && sorted) {
            bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), Cand{pos, e.merged}, byPosDesc),
                          Cand{pos, e.merged});
            return;
        }
        bucket.push_back({pos, e.merged});
        if (e.rank < cur) {
            cur = e.rank;
            sorted = false;
        }
    };
    for (std::size_t i = 0; i + 1 < n; ++i)
        if (const Entry* e = find(symbols[i], symbols[i + 1]))
            push(*e, static_cast<std::int32_t>(i));

    while (live > 0) {
        while (buckets[static_cast<std::size_t>(cur)].empty()) {
            ++cur;
            sorted = false;
        }
        auto& bucket = buckets[static_cast<std::size_t>(cur)];
        if (!sorted) {
            std::sort(bucket.begin(), bucket.end(), byPosDesc);
            sorted = true;
        }
        const Cand top = bucket.back();
        bucket.pop_back();
        --live;
        Sym& s = sym[static_cast<std::size_t>(top.pos)];
        if (s.id < 0 || s.next < 0)
            continue;
        Sym& right = sym[static_cast<std::size_t>(s.next)];
        const Entry* now = find(s.id, right.id);
        if (!now || now->merged != top.merged)
            continue;
        s.id = top.merged;
        right.id = -1;
        s.next = right.next;
        if (s.next >= 0)
            sym[static_cast<std::size_t>(s.next)].prev = top.pos;
        if (s.prev >= 0)
            if (const Entry* e = find(sym[static_cast<std::size_t>(s.prev)].id, s.id))
                push(*e, s.prev);
        if (s.next >= 0)
            if (const Entry* e = find(s.id, sym[static_cast<std::size_t>(s.next)].id))
                push(*e, top.pos);
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (sym[i].id >= 0)
            symbols[out++] = sym[i].id;
    symbols.resize(out);
}

} // namespace bq
