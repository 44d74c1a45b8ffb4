// Ranked BPE merges keyed by the pair of token ids, and the merge loop of Hugging Face tokenizers
// (models/bpe/word.rs `Word::merge_all`): a min-heap of (rank, position) over a linked list of symbols;
// the lowest-ranked adjacent pair merges first, the leftmost on ties; stale heap entries are skipped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bq {

class BpeMergeTable {
public:
    struct Entry {
        std::uint64_t key = kEmpty;
        std::int32_t rank = 0;
        std::int32_t merged = -1;
    };

    void reserve(std::size_t merges);
    // Later calls for the same pair overwrite earlier ones (as the Rust HashMap collect does).
    void set(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t merged);
    const Entry* find(std::int32_t left, std::int32_t right) const noexcept;
    std::size_t size() const noexcept { return m_count; }

    // Merges `symbols` (token ids) in place. Long inputs (a SentencePiece-style text is one word) use a
    // bucket queue indexed by rank instead of one big binary heap; the merge order is the same.
    void mergeAll(std::vector<std::int32_t>& symbols) const;

private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    static std::uint64_t key(std::int32_t l, std::int32_t r) noexcept
    {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(l)) << 32) | static_cast<std::uint32_t>(r);
    }
    void grow();
    void mergeLong(std::vector<std::int32_t>& symbols) const;
    std::vector<Entry> m_slots;
    std::size_t m_count = 0;
    std::int32_t m_maxRank = -1;
};

} // namespace bq
