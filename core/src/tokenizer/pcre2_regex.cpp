#include "bq/tokenizer/pcre2_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <cstdint>
#include <stdexcept>

namespace bq {

struct Pcre2Regex::Code {
    pcre2_code* code = nullptr;
    ~Code() { pcre2_code_free(code); }
};

Pcre2Regex::Pcre2Regex(std::string pattern, bool literal)
    : m_pattern(std::move(pattern)), m_literal(literal), m_code(std::make_unique<Code>())
{
    // PCRE2_LITERAL rejects PCRE2_UCP (which only matters for classes anyway).
    std::uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    int err = 0;
    PCRE2_SIZE errOffset = 0;
    m_code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(m_pattern.data()), m_pattern.size(), options, &err,
                                 &errOffset, nullptr);
    if (!m_code->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw std::invalid_argument("regex error at pattern offset " + std::to_string(errOffset) + ": " +
                                    reinterpret_cast<const char*>(msg));
    }
    // JIT failure (e.g. an architecture without JIT) just leaves the interpreter in charge.
    pcre2_jit_compile(m_code->code, PCRE2_JIT_COMPLETE);
}

Pcre2Regex::~Pcre2Regex() = default;

void Pcre2Regex::forEachMatch(std::string_view subject,
                              const std::function<void(std::size_t, std::size_t)>& onMatch) const
{
    struct MatchData {
        pcre2_match_data* md;
        pcre2_match_context* ctx = nullptr;
        pcre2_jit_stack* stack = nullptr;
        ~MatchData()
        {
            pcre2_match_data_free(md);
            pcre2_match_context_free(ctx);
            pcre2_jit_stack_free(stack);
        }
    } data{pcre2_match_data_create_from_pattern(m_code->code, nullptr)};
    if (!data.md)
        throw std::bad_alloc();

    const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    const std::size_t n = subject.size();
    std::size_t pos = 0;
    while (pos <= n) {
        int rc = pcre2_match(m_code->code, s, n, pos, 0, data.md, data.ctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !data.stack) {
            // Pathological subjects only: give the JIT a large stack and retry.
            data.ctx = pcre2_match_context_create(nullptr);
            data.stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
            if (!data.ctx || !data.stack)
                throw std::bad_alloc();
            pcre2_jit_stack_assign(data.ctx, nullptr, data.stack);
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH)
            return;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            throw std::runtime_error(std::string("regex match failed: ") + reinterpret_cast<const char*>(msg));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
        const std::size_t b = ov[0], e = ov[1];
        if (e > b) {
            onMatch(b, e);
            pos = e;
        } else {
            // Empty match: step over one UTF-8 character.
            pos = e + 1;
            while (pos < n && (static_cast<unsigned char>(subject[pos]) & 0xC0) == 0x80)
                ++pos;
        }
    }
}

bool Pcre2Regex::matchesWhole(std::string_view subject) const
{
    std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
        pcre2_match_data_create_from_pattern(m_code->code, nullptr), pcre2_match_data_free);
    if (!md)
        throw std::bad_alloc();
    // PCRE2_ENDANCHORED is not honoured by JIT code, so the interpreter runs (bounded by PCRE2's match limit).
    const int rc = pcre2_match(m_code->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                               PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NO_JIT, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
        return false;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        throw std::runtime_error(std::string("regex match failed: ") + reinterpret_cast<const char*>(msg));
    }
    return true;
}

} // namespace bq
