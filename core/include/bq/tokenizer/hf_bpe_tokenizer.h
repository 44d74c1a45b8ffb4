// Hugging Face tokenizer.json BPE, both families:
//  - SentencePiece-style: normalizer Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer, byte_fallback,
//    decoder Replace/ByteFallback/Fuse/Strip (Llama 2 / Mistral / TinyLlama / the shared sp32k);
//  - byte-level: Split by a regex (GPT-2, Llama 3, Qwen2/3 patterns via PCRE2 with \p{L}/\p{N}) then the
//    GPT-2 byte-to-unicode map, ranked merges, optional NFC normalizer (Qwen) via utf8proc.
// Added tokens (special or not) are matched before the model runs; special ones only with parseSpecial.
// Also built from GGUF `tokenizer.ggml.model = gpt2` vocabularies.
#pragma once
#include "bq/tokenizer/tokenizer.h"
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace bq {

class HfBpeTokenizer final : public Tokenizer {
public:
    // tokenizer.json (+ tokenizer_config.json next to it when present: bos/eos tokens, add_bos_token,
    // chat_template). Throws FormatError naming the file and the JSON field.
    static std::shared_ptr<HfBpeTokenizer> fromJsonFile(const std::filesystem::path& tokenizerJson);

    // GGUF: tokens, token types (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte),
    // "a b" merges, and tokenizer.ggml.pre (a name of gguf_pre_tokenizer.h: "llama-bpe", "qwen2", "smollm", ...). sourcePath is the
    // GGUF file, named by every error.
    static std::shared_ptr<HfBpeTokenizer> fromGguf(std::vector<std::string> tokens, std::vector<std::int32_t> types,
                                                    std::vector<std::string> merges, const std::string& pre,
                                                    std::int32_t bosId, std::int32_t eosId, bool addBos,
                                                    const std::string& sourcePath = "GGUF");

    ~HfBpeTokenizer() override;
    std::vector<std::int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const override;
    std::string decodeToken(std::int32_t prev, std::int32_t id, bool includeSpecial = false) const override;
    std::int32_t vocabSize() const override;
    std::string piece(std::int32_t id) const override;
    TokenKind kind(std::int32_t id) const override;
    std::int32_t bosId() const override;
    std::int32_t eosId() const override;
    std::vector<std::int32_t> stopIds() const override;
    bool addsBosByDefault() const override;
    std::int32_t findPiece(std::string_view piece) const override;
    std::string family() const override;

    // For writers (GGUF export): the merges in rank order as "a b", the pre-tokenizer name, the chat template.
    const std::vector<std::string>& merges() const;
    std::string preTokenizerName() const; // "llama-bpe", "qwen2", "smollm", "gpt-2", "default", ... (gguf_pre_tokenizer.h)
    bool isByteLevel() const;
    const std::string& chatTemplate() const;

    struct Impl;

private:
    explicit HfBpeTokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace bq
