// SentencePiece-style BPE over a scored vocabulary: the algorithm of llama2.c run.c and of SentencePiece's BPE
// model — a dummy-prefix space, whitespace written as "▁", one symbol per UTF-8 code point (unknown code
// points fall back to <0xHH> byte tokens), then repeatedly merge the adjacent pair whose merged piece has the
// highest score (leftmost on ties). Used for llama2.c tokenizer.bin, SentencePiece .model files parsed by
// sentencepiece_model.h, and GGUF `tokenizer.ggml.model = llama` vocabularies.
// Encoding is a linked list + binary heap (SentencePiece's bpe_model.cc), run per segment: the text is cut
// where two adjacent characters appear side by side in no mergeable piece, which no merge can cross — the
// same ids as the quadratic loop, in O(n log w).
#pragma once
#include "bq/tokenizer/tokenizer.h"
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace bq {

struct SpVocabEntry {
    std::string piece; // as stored: "▁the" (SentencePiece/GGUF) or " the" (llama2.c), "<0x0A>", "<s>"
    float score = 0.0f;
    TokenKind kind = TokenKind::Normal;
};

struct SpBpeOptions {
    bool addDummyPrefix = true;   // prepend a space to non-empty text before encoding
    bool spacesAsMetaspace = true; // pieces store spaces as "▁" (false for llama2.c tokenizer.bin pieces)
    bool byteFallback = true;
    std::int32_t bosId = 1, eosId = 2, unkId = 0; // -1 when absent
    bool addBos = true;            // what addsBosByDefault() reports
    std::string family = "sentencepiece";
    // SentencePiece normalizer rule: drop leading and trailing spaces and collapse runs of spaces.
    bool removeExtraWhitespaces = false;
    // llama2.c run.c rules instead of SentencePiece's: any piece may be a merge result, a code point missing
    // from the vocabulary (or an invalid UTF-8 byte) becomes byte tokens before merging, and pieces scoring
    // <= -1e10 never merge. SentencePiece rules (false): invalid UTF-8 bytes become U+FFFD, only normal,
    // user-defined and unused pieces are merge results, unused results are split back, unknown symbols fall
    // back to bytes (or one <unk> per run of unknown symbols) after merging.
    bool runcCompat = false;
};

class SpBpeTokenizer final : public Tokenizer {
public:
    SpBpeTokenizer(std::vector<SpVocabEntry> vocab, SpBpeOptions options);

    // llama2.c tokenizer.bin: `uint32 max_token_length`, then per id {float score, uint32 len, bytes}.
    // vocabSize comes from the model. Throws FormatError naming the file, the token index and the offset.
    static std::shared_ptr<SpBpeTokenizer> fromLlama2cFile(const std::filesystem::path& path, int vocabSize);

    std::vector<std::int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const override;
    std::string decodeToken(std::int32_t prev, std::int32_t id, bool includeSpecial = false) const override;
    std::int32_t vocabSize() const override { return static_cast<std::int32_t>(m_vocab.size()); }
    std::string piece(std::int32_t id) const override;
    float score(std::int32_t id) const override;
    TokenKind kind(std::int32_t id) const override;
    std::int32_t bosId() const override { return m_options.bosId; }
    std::int32_t eosId() const override { return m_options.eosId; }
    bool addsBosByDefault() const override { return m_options.addBos && m_options.bosId >= 0; }
    std::int32_t findPiece(std::string_view piece) const override;
    std::string family() const override { return m_options.family; }
    const SpBpeOptions& options() const noexcept { return m_options; }

private:
    std::vector<SpVocabEntry> m_vocab;
    SpBpeOptions m_options;
    std::unordered_map<std::string, std::int32_t> m_index; // normalised piece (spaces as "▁") -> id
    std::int32_t m_byteIds[256];

    struct Symbol;
    std::int32_t lookup(std::string_view s) const noexcept; // exact stored piece -> id, -1 when absent
    bool mergeable(std::int32_t id) const noexcept;
    std::string normalize(std::string_view text, bool dummyPrefix) const;
    void encodeText(std::string_view text, bool dummyPrefix, std::vector<std::int32_t>& out) const;
    std::vector<std::int32_t> m_slots;      // open-addressing hash of stored pieces (ids; -1 = empty)
    std::vector<std::string> m_text;         // decoded bytes of each id ("" for control/unknown)
    std::vector<std::string> m_display;      // what includeSpecial shows for control/unknown ids
    std::vector<std::int32_t> m_userDefined; // user-defined ids, longest piece first (matched whole)
    std::vector<std::int32_t> m_special;     // control + user-defined ids recognised by parseSpecial
    bool m_hasUnused = false;
    // Adjacent character pairs found inside mergeable pieces (open-addressing set, ~0 = empty): a text
    // boundary between characters forming no such pair can never be crossed by a merge.
    std::vector<std::uint64_t> m_pairSlots;
    bool hasPair(std::uint32_t a, std::uint32_t b) const noexcept;
};

} // namespace bq
