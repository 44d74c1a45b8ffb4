// The tokenizer interface every model carries. Implementations: Llama2cTokenizer (llama2.c tokenizer.bin and
// GGUF `llama` vocabularies, run.c's score-merge algorithm), SentencePieceTokenizer (.model files),
// HfBpeTokenizer (tokenizer.json, SentencePiece-style and byte-level BPE; GGUF `gpt2` vocabularies).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bq {

struct EncodeOptions {
    bool addBos = false;
    bool addEos = false;
    bool parseSpecial = false; // recognise special/added tokens written in the text (chat templates)
};

enum class TokenKind : std::uint8_t { Normal, Unknown, Control, UserDefined, Unused, Byte };

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    virtual std::vector<std::int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const = 0;

    // The bytes token `id` contributes when it follows token `prev` (prev = -1 at the start of a stream).
    // The result may be an incomplete UTF-8 sequence (byte tokens); TokenStreamDecoder reassembles those.
    // Control tokens decode to "" unless includeSpecial.
    virtual std::string decodeToken(std::int32_t prev, std::int32_t id, bool includeSpecial = false) const = 0;
    // Decodes a whole sequence (concatenates decodeToken, then applies any whole-string decoder rule).
    virtual std::string decode(const std::vector<std::int32_t>& ids, bool includeSpecial = false) const;

    virtual std::int32_t vocabSize() const = 0;
    virtual std::string piece(std::int32_t id) const = 0; // the vocabulary string as stored
    virtual float score(std::int32_t id) const { (void)id; return 0.0f; }
    virtual TokenKind kind(std::int32_t id) const { (void)id; return TokenKind::Normal; }
    virtual std::int32_t bosId() const = 0; // -1 if none
    virtual std::int32_t eosId() const = 0; // -1 if none
    // Extra end-of-generation ids (e.g. <|eot_id|>, <|im_end|>); includes eosId().
    virtual std::vector<std::int32_t> stopIds() const { return eosId() >= 0 ? std::vector<std::int32_t>{eosId()} : std::vector<std::int32_t>{}; }
    virtual bool addsBosByDefault() const { return bosId() >= 0; }
    // Looks a piece up; -1 when absent.
    virtual std::int32_t findPiece(std::string_view piece) const = 0;
    // "llama2c", "sentencepiece", "bpe-sentencepiece", "bpe-byte-level"
    virtual std::string family() const = 0;
};

// Streaming decode that never splits a UTF-8 character: push() returns only complete characters and keeps
// the bytes of an unfinished one until the next token completes it; flush() returns what is left (invalid
// leftovers become U+FFFD).
class TokenStreamDecoder {
public:
    explicit TokenStreamDecoder(const Tokenizer& tokenizer, bool includeSpecial = false)
        : m_tokenizer(tokenizer), m_includeSpecial(includeSpecial) {}
    std::string push(std::int32_t id);
    std::string flush();
    void reset() { m_prev = -1; m_pending.clear(); }

private:
    const Tokenizer& m_tokenizer;
    bool m_includeSpecial;
    std::int32_t m_prev = -1;
    std::string m_pending;
};

// Length of the longest prefix of s that ends on a UTF-8 character boundary, treating an unfinished trailing
// sequence as incomplete (invalid bytes count as complete single characters).
std::size_t completeUtf8Prefix(std::string_view s) noexcept;

} // namespace bq
