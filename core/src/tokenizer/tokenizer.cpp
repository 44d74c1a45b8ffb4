#include "bq/tokenizer/tokenizer.h"

namespace bq {

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, bool includeSpecial) const
{
    std::string out;
    std::int32_t prev = -1;
    for (std::int32_t id : ids) {
        out += decodeToken(prev, id, includeSpecial);
        prev = id;
    }
    return out;
}

std::size_t completeUtf8Prefix(std::string_view s) noexcept
{
    // Look back at most 3 bytes for the start of a trailing multi-byte sequence.
    const std::size_t n = s.size();
    for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
        const auto c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0u) == 0x80u)
            continue; // continuation byte: keep looking for the lead byte
        std::size_t need = 1;
        if ((c & 0xE0u) == 0xC0u)
            need = 2;
        else if ((c & 0xF0u) == 0xE0u)
            need = 3;
        else if ((c & 0xF8u) == 0xF0u)
            need = 4;
        return back < need ? n - back : n;
    }
    return n;
}

std::string TokenStreamDecoder::push(std::int32_t id)
{
    m_pending += m_tokenizer.decodeToken(m_prev, id, m_includeSpecial);
    m_prev = id;
    const std::size_t cut = completeUtf8Prefix(m_pending);
    std::string out = m_pending.substr(0, cut);
    m_pending.erase(0, cut);
    return out;
}

std::string TokenStreamDecoder::flush()
{
    std::string out;
    if (!m_pending.empty())
        out = "\xEF\xBF\xBD"; // an unfinished character at the end of the stream
    m_pending.clear();
    return out;
}

} // namespace bq
