#include "bq/tokenizer/hf_pipeline.h"

#include <algorithm>
#include <cstdlib>
#include <utf8proc.h>

namespace bq::hf {

namespace {

bool isAscii(std::string_view s) noexcept
{
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80)
            return false;
    return true;
}

std::string unicodeNormalize(std::string_view text, int options)
{
    if (isAscii(text))
        return std::string(text); // ASCII is invariant under every normal form
    utf8proc_uint8_t* dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &dst,
                                            static_cast<utf8proc_option_t>(options));
    if (n < 0) { // invalid UTF-8: leave it alone, the byte-level/byte-fallback model still encodes it
        std::free(dst);
        return std::string(text);
    }
    std::string out(reinterpret_cast<const char*>(dst), static_cast<std::size_t>(n));
    std::free(dst);
    return out;
}

std::string lowercase(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t len = utf8proc_iterate(p, left, &cp);
        if (len <= 0) { // invalid byte: copy it
            out += static_cast<char>(*p);
            ++p;
            --left;
            continue;
        }
        utf8proc_uint8_t buf[4];
        const utf8proc_ssize_t w = utf8proc_encode_char(utf8proc_tolower(cp), buf);
        out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(w));
        p += len;
        left -= len;
    }
    return out;
}

} // namespace

std::string Normalizer::run(std::string_view input) const
{
    std::string text(input);
    for (const NormalizerStep& step : m_steps) {
        switch (step.kind) {
        case NormalizerStep::Kind::Nfc:
            text = unicodeNormalize(text, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            break;
        case NormalizerStep::Kind::Nfd:
            text = unicodeNormalize(text, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
            break;
        case NormalizerStep::Kind::Nfkc:
            text = unicodeNormalize(text, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
            break;
        case NormalizerStep::Kind::Nfkd:
            text = unicodeNormalize(text, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
            break;
        case NormalizerStep::Kind::Prepend:
            if (!text.empty())
                text.insert(0, step.text);
            break;
        case NormalizerStep::Kind::Replace: {
            std::string out;
            out.reserve(text.size() + text.size() / 4);
            std::size_t last = 0;
            step.pattern->forEachMatch(text, [&](std::size_t b, std::size_t e) {
                out.append(text, last, b - last);
                out += step.text;
                last = e;
            });
            out.append(text, last, std::string::npos);
            text = std::move(out);
            break;
        }
        case NormalizerStep::Kind::Lowercase:
            text = lowercase(text);
            break;
        }
    }
    return text;
}

void splitByPattern(std::string_view text, const Pcre2Regex& pattern, SplitBehavior behavior, bool invert,
                    std::vector<std::string_view>& out)
{
    struct Span {
        std::size_t b, e;
        bool match;
    };
    std::vector<Span> spans;
    std::size_t prev = 0;
    pattern.forEachMatch(text, [&](std::size_t b, std::size_t e) {
        if (b != prev)
            spans.push_back({prev, b, false});
        spans.push_back({b, e, true});
        prev = e;
    });
    if (prev != text.size())
        spans.push_back({prev, text.size(), false});
    if (invert)
        for (Span& s : spans)
            s.match = !s.match;

    // The folds of normalizer.rs `NormalizedString::split`.
    std::vector<Span> pieces;
    bool previousMatch = false;
    switch (behavior) {
    case SplitBehavior::Isolated:
        pieces = std::move(spans);
        break;
    case SplitBehavior::Removed:
        for (const Span& s : spans)
            if (!s.match)
                pieces.push_back(s);
        break;
    case SplitBehavior::MergedWithPrevious:
        for (const Span& s : spans) {
            if (s.match && !previousMatch && !pieces.empty())
                pieces.back().e = s.e;
            else
                pieces.push_back(s);
            previousMatch = s.match;
        }
        break;
    case SplitBehavior::MergedWithNext:
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
            if (it->match && !previousMatch && !pieces.empty())
                pieces.back().b = it->b;
            else
                pieces.push_back(*it);
            previousMatch = it->match;
        }
        std::reverse(pieces.begin(), pieces.end());
        break;
    case SplitBehavior::Contiguous:
        for (const Span& s : spans) {
            if (s.match == previousMatch && !pieces.empty())
                pieces.back().e = s.e;
            else
                pieces.push_back(s);
            previousMatch = s.match;
        }
        break;
    }
    for (const Span& s : pieces)
        if (s.e > s.b)
            out.push_back(text.substr(s.b, s.e - s.b));
}

void PreTokenizer::run(std::string_view text, bool atTextStart, std::vector<std::string_view>& out,
                       std::deque<std::string>& arena) const
{
    if (text.empty())
        return;
    std::vector<std::string_view> cur{text}, next;
    for (const PreTokenizerStep& step : m_steps) {
        next.clear();
        for (std::size_t i = 0; i < cur.size(); ++i) {
            std::string_view piece = cur[i];
            switch (step.kind) {
            case PreTokenizerStep::Kind::Split:
                splitByPattern(piece, *step.pattern, step.behavior, step.invert, next);
                break;
            case PreTokenizerStep::Kind::ByteLevel:
                if (step.addPrefixSpace && !piece.starts_with(' ')) {
                    std::string& spaced = arena.emplace_back();
                    spaced.reserve(piece.size() + 1);
                    spaced += ' ';
                    spaced += piece;
                    piece = spaced;
                }
                if (step.pattern)
                    splitByPattern(piece, *step.pattern, SplitBehavior::Isolated, false, next);
                else
                    next.push_back(piece);
                break;
            case PreTokenizerStep::Kind::Metaspace: {
                std::string s;
                s.reserve(piece.size() + 8);
                for (char c : piece) {
                    if (c == ' ')
                        s += step.replacement;
                    else
                        s += c;
                }
                const bool prepend = step.prepend == PreTokenizerStep::Prepend::Always ||
                                     (step.prepend == PreTokenizerStep::Prepend::First && atTextStart && i == 0);
                if (prepend && !std::string_view(s).starts_with(step.replacement))
                    s.insert(0, step.replacement);
                arena.push_back(std::move(s));
                if (step.split)
                    splitByPattern(arena.back(), *step.pattern, SplitBehavior::MergedWithNext, false, next);
                else
                    next.push_back(arena.back());
                break;
            }
            }
        }
        std::swap(cur, next);
    }
    for (std::string_view p : cur)
        if (!p.empty())
            out.push_back(p);
}

} // namespace bq::hf
