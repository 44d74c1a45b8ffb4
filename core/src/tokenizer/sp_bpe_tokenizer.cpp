#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/mapped_file.h"
#include <algorithm>
#include <cstring>
#include <limits>
#include <queue>
#include <stdexcept>
#include <unordered_map>

namespace bq {

namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81"; // U+2581 "▁"
constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

std::uint64_t hashBytes(std::string_view s) noexcept
{
    std::uint64_t h = 1469598103934665603ull; // FNV-1a
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

int hexDigit(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

// "<0xHH>" -> HH, else -1.
int parseBytePiece(std::string_view p) noexcept
{
    if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>')
        return -1;
    const int hi = hexDigit(p[3]), lo = hexDigit(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Length of a UTF-8 character from its lead byte alone (SentencePiece's OneCharLen; continuation bytes count 1).
std::size_t oneCharLen(unsigned char c) noexcept
{
    if (c < 0x80 || c < 0xC0)
        return 1;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    return 4;
}

bool isTrail(unsigned char c) noexcept { return (c & 0xC0u) == 0x80u; }

// Length of the valid UTF-8 character at s[0] (SentencePiece's IsValidDecodeUTF8 rules: no overlongs, no
// surrogates, at most U+10FFFF), or 0 when invalid.
std::size_t validCharLen(std::string_view s) noexcept
{
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    if (c < 0x80)
        return 1;
    if ((c & 0xE0u) == 0xC0u && s.size() >= 2 && isTrail(b(1))) {
        const std::uint32_t cp = ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
        return cp >= 0x80 ? 2 : 0;
    }
    if ((c & 0xF0u) == 0xE0u && s.size() >= 3 && isTrail(b(1)) && isTrail(b(2))) {
        const std::uint32_t cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
        return cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ? 3 : 0;
    }
    if ((c & 0xF8u) == 0xF0u && s.size() >= 4 && isTrail(b(1)) && isTrail(b(2)) && isTrail(b(3))) {
        const std::uint32_t cp =
            ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
        return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0;
    }
    return 0;
}

bool isControlPiece(std::string_view p) noexcept
{
    return p == "\n<s>\n" || p == "\n</s>\n" || p == "<s>" || p == "</s>";
}

std::string replaceAll(std::string_view s, std::string_view from, std::string_view to)
{
    std::string out;
    out.reserve(s.size());
    std::size_t pos = 0;
    for (;;) {
        const std::size_t hit = s.find(from, pos);
        if (hit == std::string_view::npos)
            break;
        out.append(s.substr(pos, hit - pos));
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s.substr(pos));
    return out;
}

// A character (1-4 bytes) as a number; distinct characters may share one (that only makes a boundary look
// unsafe, never the reverse).
std::uint32_t packChar(std::string_view c) noexcept
{
    std::uint32_t v = 0;
    for (char b : c.substr(0, 4))
        v = v << 8 | static_cast<unsigned char>(b);
    return v;
}

std::uint64_t pairKey(std::uint32_t a, std::uint32_t b) noexcept
{
    return static_cast<std::uint64_t>(a) << 32 | b;
}

std::uint64_t mixKey(std::uint64_t k) noexcept
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

// Length of the text symbol starting at s[0]: run.c's group (a byte and up to three continuation bytes) or
// SentencePiece's one character by its lead byte.
std::size_t symbolLen(std::string_view s, bool runc) noexcept
{
    if (runc) {
        std::size_t len = 1;
        while (len < s.size() && len < 4 && isTrail(static_cast<unsigned char>(s[len])))
            ++len;
        return len;
    }
    return std::min(oneCharLen(static_cast<unsigned char>(s[0])), s.size());
}

} // namespace

// One symbol of the merge list: a span of the working string, linked to its live neighbours.
struct SpBpeTokenizer::Symbol {
    std::uint32_t start = 0, len = 0;
    std::int32_t prev = -1, next = -1;
    std::int32_t fixedId = -1; // byte fallback decided before merging (run.c rules)
    bool frozen = false;        // never merges (user-defined pieces, run.c byte fallback)
};

SpBpeTokenizer::SpBpeTokenizer(std::vector<SpVocabEntry> vocab, SpBpeOptions options)
    : m_vocab(std::move(vocab)), m_options(std::move(options))
{
    std::fill(std::begin(m_byteIds), std::end(m_byteIds), -1);
    const std::size_t n = m_vocab.size();
    if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() / 4))
        throw std::length_error("SpBpeTokenizer: vocabulary too large");

    std::size_t cap = 16;
    while (cap < 2 * n + 1)
        cap <<= 1;
    m_slots.assign(cap, -1);
    m_text.resize(n);
    m_display.resize(n);

    for (std::size_t i = 0; i < n; ++i) {
        const auto id = static_cast<std::int32_t>(i);
        const SpVocabEntry& e = m_vocab[i];
        // Byte value of a byte token: "<0xHH>", or the raw byte itself (one llama2.c tokenizer.py variant).
        int byteValue = -1;
        if (e.kind == TokenKind::Byte) {
            byteValue = parseBytePiece(e.piece);
            if (byteValue < 0 && e.piece.size() == 1)
                byteValue = static_cast<unsigned char>(e.piece[0]);
            if (byteValue >= 0 && m_byteIds[byteValue] < 0)
                m_byteIds[byteValue] = id;
        }
        if (e.kind == TokenKind::Unused)
            m_hasUnused = true;

        switch (e.kind) {
        case TokenKind::Control:
        case TokenKind::Unknown: {
            std::string shown = e.piece;
            while (!shown.empty() && shown.front() == '\n')
                shown.erase(0, 1);
            while (!shown.empty() && shown.back() == '\n')
                shown.pop_back();
            m_display[i] = shown;
            break;
        }
        case TokenKind::Byte:
            m_text[i] = byteValue >= 0 ? std::string(1, static_cast<char>(byteValue)) : e.piece;
            break;
        default:
            m_text[i] = m_options.spacesAsMetaspace ? replaceAll(e.piece, kMetaspace, " ") : e.piece;
            break;
        }

        // Raw single-byte byte pieces stay out of the lookup: the text's own character (or the same byte
        // fallback) must win.
        const bool rawByte = e.kind == TokenKind::Byte && e.piece.size() == 1;
        if (!rawByte && !e.piece.empty()) {
            std::size_t slot = hashBytes(e.piece) & (cap - 1);
            bool duplicate = false;
            while (m_slots[slot] >= 0) {
                if (m_vocab[static_cast<std::size_t>(m_slots[slot])].piece == e.piece) {
                    duplicate = true; // the first id keeps the piece, as SentencePiece and a stable lookup do
                    break;
                }
                slot = (slot + 1) & (cap - 1);
            }
            if (!duplicate)
                m_slots[slot] = id;
        }
        const std::string key = m_options.spacesAsMetaspace ? e.piece : replaceAll(e.piece, " ", kMetaspace);
        m_index.emplace(key, id);

        if (e.kind == TokenKind::UserDefined && !e.piece.empty()) {
            m_userDefined.push_back(id);
            m_display[i] = m_text[i];
        }
        if ((e.kind == TokenKind::Control || e.kind == TokenKind::UserDefined) && !m_display[i].empty())
            m_special.push_back(id);
    }
    // Character pairs inside mergeable pieces, split into characters exactly as the text is.
    std::vector<std::uint64_t> pairs;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view p = m_vocab[i].piece;
        if (p.size() < 2 || !mergeable(static_cast<std::int32_t>(i)))
            continue;
        std::size_t pos = symbolLen(p, m_options.runcCompat);
        std::uint32_t prevChar = packChar(p.substr(0, pos));
        while (pos < p.size()) {
            const std::size_t len = symbolLen(p.substr(pos), m_options.runcCompat);
            const std::uint32_t c = packChar(p.substr(pos, len));
            pairs.push_back(pairKey(prevChar, c));
            prevChar = c;
            pos += len;
        }
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    std::size_t pairCap = 16;
    while (pairCap < 2 * pairs.size() + 1)
        pairCap <<= 1;
    m_pairSlots.assign(pairCap, ~std::uint64_t{0});
    for (std::uint64_t k : pairs) {
        std::size_t slot = mixKey(k) & (pairCap - 1);
        while (m_pairSlots[slot] != ~std::uint64_t{0})
            slot = (slot + 1) & (pairCap - 1);
        m_pairSlots[slot] = k;
    }

    auto longerFirst = [this](std::int32_t a, std::int32_t b) {
        return m_vocab[static_cast<std::size_t>(a)].piece.size() > m_vocab[static_cast<std::size_t>(b)].piece.size();
    };
    std::stable_sort(m_userDefined.begin(), m_userDefined.end(), longerFirst);
    std::stable_sort(m_special.begin(), m_special.end(), [this](std::int32_t a, std::int32_t b) {
        return m_display[static_cast<std::size_t>(a)].size() > m_display[static_cast<std::size_t>(b)].size();
    });
}

std::int32_t SpBpeTokenizer::lookup(std::string_view s) const noexcept
{
    const std::size_t mask = m_slots.size() - 1;
    std::size_t slot = hashBytes(s) & mask;
    for (;;) {
        const std::int32_t id = m_slots[slot];
        if (id < 0)
            return -1;
        if (m_vocab[static_cast<std::size_t>(id)].piece == s)
            return id;
        slot = (slot + 1) & mask;
    }
}

bool SpBpeTokenizer::hasPair(std::uint32_t a, std::uint32_t b) const noexcept
{
    const std::uint64_t k = pairKey(a, b);
    const std::size_t mask = m_pairSlots.size() - 1;
    for (std::size_t slot = mixKey(k) & mask;; slot = (slot + 1) & mask) {
        const std::uint64_t v = m_pairSlots[slot];
        if (v == k)
            return true;
        if (v == ~std::uint64_t{0})
            return false;
    }
}

bool SpBpeTokenizer::mergeable(std::int32_t id) const noexcept
{
    const SpVocabEntry& e = m_vocab[static_cast<std::size_t>(id)];
    if (m_options.runcCompat)
        return e.score > -1e10f; // run.c starts its best score at -1e10 and needs a strictly higher one
    return e.kind == TokenKind::Normal || e.kind == TokenKind::UserDefined || e.kind == TokenKind::Unused;
}

// SentencePiece's identity normalizer (normalizer.cc): invalid UTF-8 bytes become U+FFFD (not in run.c mode),
// optional removal of extra spaces, the dummy prefix, and spaces written as the vocabulary stores them.
std::string SpBpeTokenizer::normalize(std::string_view text, bool dummyPrefix) const
{
    std::string out;
    if (text.empty())
        return out;
    const bool removeExtra = m_options.removeExtraWhitespaces;
    const std::string_view space = m_options.spacesAsMetaspace ? kMetaspace : std::string_view(" ");
    std::size_t i = 0;
    if (removeExtra)
        while (i < text.size() && text[i] == ' ')
            ++i;
    if (i == text.size())
        return out;
    out.reserve((text.size() - i) * 3 / 2 + 8);
    if (dummyPrefix)
        out.append(space);
    bool prevSpace = removeExtra;
    while (i < text.size()) {
        const char c = text[i];
        if (c == ' ') {
            if (!prevSpace)
                out.append(space);
            prevSpace = removeExtra;
            ++i;
            continue;
        }
        prevSpace = false;
        if (static_cast<unsigned char>(c) < 0x80 || m_options.runcCompat) {
            out.push_back(c);
            ++i;
            continue;
        }
        const std::size_t len = validCharLen(text.substr(i));
        if (len == 0) {
            out.append(kReplacement);
            ++i;
        } else {
            out.append(text.substr(i, len));
            i += len;
        }
    }
    if (removeExtra)
        while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space)
            out.resize(out.size() - space.size());
    return out;
}

void SpBpeTokenizer::encodeText(std::string_view text, bool dummyPrefix, std::vector<std::int32_t>& out) const
{
    const std::string work = normalize(text, dummyPrefix);
    if (work.empty())
        return;
    if (work.size() >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error("SpBpeTokenizer::encode: text longer than 2 GiB");
    const std::string_view w(work);
    const bool runc = m_options.runcCompat;
    auto fallbackByte = [&](unsigned char b) {
        const std::int32_t id = m_byteIds[b];
        return id >= 0 ? id : m_options.unkId;
    };

    // 1. Initial symbols.
    std::vector<Symbol> symbols;
    symbols.reserve(work.size());
    auto addSymbol = [&](std::size_t start, std::size_t len, bool frozen, std::int32_t fixedId) {
        Symbol s;
        s.start = static_cast<std::uint32_t>(start);
        s.len = static_cast<std::uint32_t>(len);
        s.frozen = frozen;
        s.fixedId = fixedId;
        symbols.push_back(s);
    };
    std::size_t pos = 0;
    while (pos < w.size()) {
        if (runc) {
            // run.c: a byte plus the continuation bytes that follow it (at most 4 bytes) is one code point.
            const std::size_t len = symbolLen(w.substr(pos), true);
            if (lookup(w.substr(pos, len)) >= 0) {
                addSymbol(pos, len, false, -1);
            } else {
                for (std::size_t k = 0; k < len; ++k)
                    addSymbol(pos + k, 1, true, fallbackByte(static_cast<unsigned char>(w[pos + k])));
            }
            pos += len;
            continue;
        }
        std::size_t len = 0;
        bool frozen = false;
        for (std::int32_t id : m_userDefined) {
            const std::string& p = m_vocab[static_cast<std::size_t>(id)].piece;
            if (w.substr(pos, p.size()) == p) {
                len = p.size();
                frozen = true;
                break;
            }
        }
        if (len == 0)
            len = symbolLen(w.substr(pos), false);
        addSymbol(pos, len, frozen, -1);
        pos += len;
    }
    const auto count = static_cast<std::int32_t>(symbols.size());
    for (std::int32_t i = 0; i < count; ++i) {
        symbols[static_cast<std::size_t>(i)].prev = i - 1;
        symbols[static_cast<std::size_t>(i)].next = i + 1 < count ? i + 1 : -1;
    }

    // 2. Merge the best adjacent pair (highest score, leftmost on ties) until none is in the vocabulary.
    // The text is cut into segments first: no merge can cross a boundary between two characters that no
    // mergeable piece holds side by side, and merges on either side of it never interact, so running each
    // segment on its own gives exactly the whole-text result with small, cache-resident heaps. (With unused
    // pieces SentencePiece's split-back table depends on the global merge order: then one segment.)
    struct Pair {
        float score;
        std::int32_t left, right;
        std::uint32_t size;
    };
    auto worse = [](const Pair& a, const Pair& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::vector<Pair> agenda;
    std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> revMerge;
    const bool segmented = !(m_hasUnused && !runc);

    auto piece = [&](const Symbol& s) { return w.substr(s.start, s.len); };
    auto tryPair = [&](std::int32_t left, std::int32_t right) {
        if (left < 0 || right < 0)
            return;
        const Symbol& l = symbols[static_cast<std::size_t>(left)];
        const Symbol& r = symbols[static_cast<std::size_t>(right)];
        if (l.frozen || r.frozen)
            return;
        const std::string_view merged = w.substr(l.start, l.len + r.len);
        const std::int32_t id = lookup(merged);
        if (id < 0 || !mergeable(id))
            return;
        agenda.push_back({m_vocab[static_cast<std::size_t>(id)].score, left, right, l.len + r.len});
        std::push_heap(agenda.begin(), agenda.end(), worse);
        if (m_hasUnused && !runc && m_vocab[static_cast<std::size_t>(id)].kind == TokenKind::Unused)
            revMerge[merged] = {piece(l), piece(r)};
    };
    auto mergeSegment = [&](std::int32_t first, std::int32_t last) {
        if (first >= last)
            return;
        agenda.clear();
        for (std::int32_t i = first; i < last; ++i)
            tryPair(i, i + 1);
        while (!agenda.empty()) {
            std::pop_heap(agenda.begin(), agenda.end(), worse);
            const Pair top = agenda.back();
            agenda.pop_back();
            Symbol& l = symbols[static_cast<std::size_t>(top.left)];
            Symbol& r = symbols[static_cast<std::size_t>(top.right)];
            // Stale entry: one side was merged away or grew since the pair was queued.
            if (l.len == 0 || r.len == 0 || l.len + r.len != top.size)
                continue;
            l.len += r.len;
            l.next = r.next;
            if (r.next >= 0)
                symbols[static_cast<std::size_t>(r.next)].prev = top.left;
            r.len = 0;
            tryPair(l.prev, top.left);
            tryPair(top.left, l.next);
        }
    };
    std::int32_t segStart = 0;
    for (std::int32_t i = 0; i + 1 < count; ++i) {
        const Symbol& a = symbols[static_cast<std::size_t>(i)];
        const Symbol& b = symbols[static_cast<std::size_t>(i + 1)];
        if (!segmented || !(a.frozen || b.frozen || !hasPair(packChar(piece(a)), packChar(piece(b)))))
            continue;
        symbols[static_cast<std::size_t>(i)].next = -1;
        symbols[static_cast<std::size_t>(i + 1)].prev = -1;
        mergeSegment(segStart, i);
        segStart = i + 1;
    }
    mergeSegment(segStart, count - 1);

    // 3. Emit ids: unused pieces split back into what formed them, unknown symbols fall back to bytes.
    bool prevUnk = false;
    auto emitUnknown = [&](std::string_view p) {
        if (m_options.byteFallback) {
            for (char b : p)
                out.push_back(fallbackByte(static_cast<unsigned char>(b)));
            prevUnk = true;
            return;
        }
        if (!prevUnk && m_options.unkId >= 0)
            out.push_back(m_options.unkId); // SentencePiece folds a run of unknown pieces into one
        prevUnk = true;
    };
    auto emitPiece = [&](auto&& self, std::string_view p) -> void {
        const std::int32_t id = lookup(p);
        if (id < 0) {
            emitUnknown(p);
            return;
        }
        if (m_hasUnused && !runc && m_vocab[static_cast<std::size_t>(id)].kind == TokenKind::Unused) {
            const auto it = revMerge.find(p);
            if (it != revMerge.end()) {
                self(self, it->second.first);
                self(self, it->second.second);
                return;
            }
        }
        out.push_back(id);
        prevUnk = id == m_options.unkId;
    };
    for (const Symbol& s : symbols) {
        if (s.len == 0)
            continue; // merged into its left neighbour
        if (s.fixedId >= 0) {
            out.push_back(s.fixedId);
            prevUnk = false;
        } else {
            emitPiece(emitPiece, piece(s));
        }
    }
}

std::vector<std::int32_t> SpBpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const
{
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (options.addBos && m_options.bosId >= 0)
        out.push_back(m_options.bosId);
    if (!options.parseSpecial || m_special.empty()) {
        encodeText(text, m_options.addDummyPrefix, out);
    } else {
        // Special pieces written in the text become their ids; each text fragment is encoded on its own with
        // the dummy prefix (llama.cpp's rule for fragments after a special token).
        std::size_t start = 0, pos = 0;
        while (pos < text.size()) {
            std::int32_t hit = -1;
            for (std::int32_t id : m_special) {
                const std::string& d = m_display[static_cast<std::size_t>(id)];
                if (text.compare(pos, d.size(), d) == 0) {
                    hit = id;
                    break;
                }
            }
            if (hit < 0) {
                ++pos;
                continue;
            }
            encodeText(text.substr(start, pos - start), m_options.addDummyPrefix, out);
            out.push_back(hit);
            pos += m_display[static_cast<std::size_t>(hit)].size();
            start = pos;
        }
        encodeText(text.substr(start), m_options.addDummyPrefix, out);
    }
    if (options.addEos && m_options.eosId >= 0)
        out.push_back(m_options.eosId);
    return out;
}

std::string SpBpeTokenizer::decodeToken(std::int32_t prev, std::int32_t id, bool includeSpecial) const
{
    if (id < 0 || id >= vocabSize())
        return {};
    const auto i = static_cast<std::size_t>(id);
    const TokenKind k = m_vocab[i].kind;
    if (k == TokenKind::Control || k == TokenKind::Unknown)
        return includeSpecial ? m_display[i] : std::string();
    const std::string& t = m_text[i];
    // The encoder's dummy-prefix space is not part of the text: drop it at the start of a stream / after BOS.
    const bool atStart = prev == -1 || (prev == m_options.bosId && m_options.bosId >= 0);
    const bool stripsPrefix = m_options.runcCompat || m_options.addDummyPrefix || m_options.removeExtraWhitespaces;
    if (atStart && stripsPrefix && k != TokenKind::Byte && !t.empty() && t[0] == ' ')
        return t.substr(1);
    return t;
}

std::string SpBpeTokenizer::piece(std::int32_t id) const
{
    return id >= 0 && id < vocabSize() ? m_vocab[static_cast<std::size_t>(id)].piece : std::string();
}

float SpBpeTokenizer::score(std::int32_t id) const
{
    return id >= 0 && id < vocabSize() ? m_vocab[static_cast<std::size_t>(id)].score : 0.0f;
}

TokenKind SpBpeTokenizer::kind(std::int32_t id) const
{
    return id >= 0 && id < vocabSize() ? m_vocab[static_cast<std::size_t>(id)].kind : TokenKind::Unknown;
}

std::int32_t SpBpeTokenizer::findPiece(std::string_view p) const
{
    const std::int32_t direct = lookup(p);
    if (direct >= 0)
        return direct;
    const auto it = m_index.find(replaceAll(p, " ", kMetaspace));
    if (it != m_index.end())
        return it->second;
    // "<s>" / "</s>" find llama2.c's "\n<s>\n" / "\n</s>\n" and the like.
    for (std::int32_t id : m_special)
        if (m_display[static_cast<std::size_t>(id)] == p)
            return id;
    if (const int b = parseBytePiece(p); b >= 0 && m_byteIds[b] >= 0)
        return m_byteIds[b];
    return -1;
}

std::shared_ptr<SpBpeTokenizer> SpBpeTokenizer::fromLlama2cFile(const std::filesystem::path& path, int vocabSize)
{
    const std::string name = path.string();
    if (vocabSize <= 0 || vocabSize > (1 << 24))
        throw FormatError(name, "vocab_size", "a vocabulary size between 1 and 16777216 from the model, got " +
                                                  std::to_string(vocabSize));
    const auto file = MappedFile::open(path);
    const auto* data = reinterpret_cast<const unsigned char*>(file->data());
    const std::size_t size = file->size();
    auto readU32 = [&](std::size_t off) {
        std::uint32_t v;
        std::memcpy(&v, data + off, 4);
        return v;
    };
    if (size < 4)
        throw FormatError(name, "max_token_length", "a 4-byte header (file has " + std::to_string(size) + " bytes)", 0);
    // Every token takes at least 8 bytes (score, length): check the count against the file before allocating.
    if (static_cast<std::uint64_t>(vocabSize) > (size - 4) / 8)
        throw FormatError(name, "vocab_size",
                          "a file holding vocab_size " + std::to_string(vocabSize) + " tokens of at least 8 bytes each (" +
                              std::to_string(8ull * static_cast<std::uint64_t>(vocabSize) + 4) +
                              " bytes; the file has " + std::to_string(size) + ")",
                          4);
    std::size_t off = 4;
    std::vector<SpVocabEntry> vocab(static_cast<std::size_t>(vocabSize));
    for (int i = 0; i < vocabSize; ++i) {
        if (size - off < 8)
            throw FormatError(name, "token " + std::to_string(i) + " score/length",
                              "8 bytes before the end of the file (" + std::to_string(size) + " bytes; " +
                                  std::to_string(vocabSize) + " tokens expected)",
                              static_cast<std::int64_t>(off));
        float score;
        std::memcpy(&score, data + off, 4);
        const std::uint32_t len = readU32(off + 4);
        off += 8;
        if (len > size - off)
            throw FormatError(name, "token " + std::to_string(i) + " length",
                              std::to_string(len) + " bytes of text before the end of the file (only " +
                                  std::to_string(size - off) + " left)",
                              static_cast<std::int64_t>(off - 4));
        SpVocabEntry& e = vocab[static_cast<std::size_t>(i)];
        e.piece.assign(reinterpret_cast<const char*>(data + off), len);
        e.score = score;
        off += len;
        if (e.piece == "<unk>")
            e.kind = TokenKind::Unknown;
        else if (isControlPiece(e.piece))
            e.kind = TokenKind::Control;
        else if (parseBytePiece(e.piece) >= 0)
            e.kind = TokenKind::Byte;
    }
    // The raw-byte variant: ids 3..258 hold the bytes 0..255 themselves.
    if (vocabSize >= 259) {
        bool raw = true;
        for (int b = 0; b < 256 && raw; ++b) {
            const std::string& p = vocab[static_cast<std::size_t>(b + 3)].piece;
            raw = p.size() == 1 && static_cast<unsigned char>(p[0]) == b;
        }
        if (raw)
            for (int b = 0; b < 256; ++b)
                vocab[static_cast<std::size_t>(b + 3)].kind = TokenKind::Byte;
    }
    auto findKind = [&](TokenKind k, std::string_view a, std::string_view b, std::int32_t fallback) {
        for (int i = 0; i < vocabSize; ++i) {
            const SpVocabEntry& e = vocab[static_cast<std::size_t>(i)];
            if (e.kind == k && (e.piece == a || e.piece == b))
                return static_cast<std::int32_t>(i);
        }
        return fallback < vocabSize ? fallback : -1;
    };
    SpBpeOptions options;
    options.addDummyPrefix = true;
    options.spacesAsMetaspace = false;
    options.byteFallback = true;
    options.unkId = findKind(TokenKind::Unknown, "<unk>", "<unk>", 0);
    options.bosId = findKind(TokenKind::Control, "\n<s>\n", "<s>", 1);
    options.eosId = findKind(TokenKind::Control, "\n</s>\n", "</s>", 2);
    options.addBos = true;
    options.family = "llama2c";
    options.runcCompat = true;
    return std::make_shared<SpBpeTokenizer>(std::move(vocab), std::move(options));
}

} // namespace bq
