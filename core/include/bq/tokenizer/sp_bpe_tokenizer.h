// SentencePiece-style BPE over a scored vocabulary: the algorithm of llama2.c run.c and of SentencePiece's BPE
// model — a dummy-prefix space, whitespace written as "▁", one symbol per UTF-8 code point (unknown code
// points fall back to <0xHH> byte tokens), then repeatedly merge the adjacent pair whose merged piece has the
// highest score (leftmost on ties). Used for llama2.c tokenizer.bin, SentencePiece .model files parsed by
// sentencepiece_model.h, and GGUF `tokenizer.ggml.model = llama` vocabularies.
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
};

} // namespace bq
