// The text pipeline of a Hugging Face tokenizer.json before the BPE model runs: the normalizer (NFC/NFD/NFKC/
// NFKD via utf8proc, Prepend, Replace, Sequence) and the pre-tokenizer (Split by a regex or string with a
// split behaviour, ByteLevel, Metaspace, Sequence), with the split semantics of the Rust library
// (tokenizers/src/tokenizer/normalizer.rs `split`). Parsing from JSON lives in hf_bpe_tokenizer.cpp.
#pragma once
#include "bq/tokenizer/pcre2_regex.h"
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bq::hf {

// The pre-tokenizer regexes llama.cpp knows by name (tokenizer.ggml.pre).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// tokenizers' Digits pre-tokenizer (splits on char::is_numeric = \p{N}): each digit alone with individual_digits
// (behaviour Isolated), runs of digits otherwise (behaviour Contiguous).
inline constexpr const char* kDigitPattern = R"(\p{N})";

struct NormalizerStep {
    enum class Kind { Nfc, Nfd, Nfkc, Nfkd, Prepend, Replace, Lowercase };
    Kind kind = Kind::Nfc;
    std::string text;                          // Prepend: what to prepend; Replace: the replacement
    std::shared_ptr<const Pcre2Regex> pattern; // Replace
};

class Normalizer {
public:
    void add(NormalizerStep step) { m_steps.push_back(std::move(step)); }
    bool empty() const noexcept { return m_steps.empty(); }
    std::string run(std::string_view text) const;

private:
    std::vector<NormalizerStep> m_steps;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokenizerStep {
    enum class Kind { Split, ByteLevel, Metaspace };
    Kind kind = Kind::Split;
    std::shared_ptr<const Pcre2Regex> pattern; // Split; ByteLevel with use_regex (the GPT-2 pattern)
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    bool addPrefixSpace = false;                // ByteLevel
    std::string replacement = "\xE2\x96\x81";  // Metaspace ("▁")
    enum class Prepend { Always, First, Never } prepend = Prepend::Always;
    bool split = true;                          // Metaspace
};

class PreTokenizer {
public:
    void add(PreTokenizerStep step) { m_steps.push_back(std::move(step)); }
    bool empty() const noexcept { return m_steps.empty(); }
    const std::vector<PreTokenizerStep>& steps() const noexcept { return m_steps; }
    // Splits `text` into non-empty pieces appended to `out`. Pieces view `text` or strings stored in `arena`
    // (steps that insert characters). atTextStart: the text begins the whole input (Metaspace "first").
    void run(std::string_view text, bool atTextStart, std::vector<std::string_view>& out,
             std::deque<std::string>& arena) const;

private:
    std::vector<PreTokenizerStep> m_steps;
};

// Splits `text` by `pattern` with a Hugging Face split behaviour; appends non-empty pieces.
void splitByPattern(std::string_view text, const Pcre2Regex& pattern, SplitBehavior behavior, bool invert,
                    std::vector<std::string_view>& out);

} // namespace bq::hf
