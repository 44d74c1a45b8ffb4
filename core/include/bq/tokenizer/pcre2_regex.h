// A compiled PCRE2 pattern for the pre-tokenizer regexes of Hugging Face tokenizer.json files. UTF + UCP mode,
// so \p{L}, \p{N}, \s and (?i:...) follow Unicode as in the Rust regex/Oniguruma engines the Rust library
// uses; lookahead such as \s+(?!\S) works. JIT-compiled once; matching is const and thread-safe (each call
// has its own match data). Invalid UTF-8 in a subject never matches (PCRE2_MATCH_INVALID_UTF) instead of
// failing, so the bytes end up in the gaps between matches.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace bq {

class Pcre2Regex {
public:
    // Throws std::invalid_argument with PCRE2's message and the offset in the pattern.
    explicit Pcre2Regex(std::string pattern, bool literal = false);
    ~Pcre2Regex();
    Pcre2Regex(const Pcre2Regex&) = delete;
    Pcre2Regex& operator=(const Pcre2Regex&) = delete;

    // Calls onMatch(begin, end) for every non-overlapping match, left to right (byte offsets; empty matches
    // are skipped).
    void forEachMatch(std::string_view subject, const std::function<void(std::size_t, std::size_t)>& onMatch) const;
    // True when the pattern matches the whole subject (anchored at both ends), as std::regex_match.
    bool matchesWhole(std::string_view subject) const;
    const std::string& pattern() const noexcept { return m_pattern; }
    bool literal() const noexcept { return m_literal; }

private:
    struct Code;
    std::string m_pattern;
    bool m_literal;
    std::unique_ptr<Code> m_code;
};

} // namespace bq
