#include "bq/tokenizer/byte_level.h"

namespace bq::byte_level {

namespace {

struct Tables {
    std::array<char32_t, 256> toCp{};
    std::array<std::int16_t, 324> toByte{}; // stand-ins are all below U+0144
    Tables()
    {
        toByte.fill(-1);
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            toCp[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
            toByte[toCp[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
        }
    }
};

const Tables& tables()
{
    static const Tables t;
    return t;
}

void appendUtf8(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

} // namespace

const std::array<char32_t, 256>& byteToCodepoint() noexcept
{
    return tables().toCp;
}

int codepointToByte(char32_t cp) noexcept
{
    const auto& t = tables().toByte;
    return cp < t.size() ? t[cp] : -1;
}

std::string encode(std::string_view raw)
{
    const auto& toCp = tables().toCp;
    std::string out;
    out.reserve(raw.size() * 2);
    for (char c : raw)
        appendUtf8(out, toCp[static_cast<unsigned char>(c)]);
    return out;
}

std::string decode(std::string_view mapped)
{
    std::string out;
    out.reserve(mapped.size());
    std::size_t i = 0;
    while (i < mapped.size()) {
        const auto c = static_cast<unsigned char>(mapped[i]);
        // Only 1- and 2-byte sequences can be table entries (all stand-ins are below U+0800).
        if (c < 0x80) {
            const int b = codepointToByte(c);
            out += b >= 0 ? static_cast<char>(b) : static_cast<char>(c);
            ++i;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < mapped.size() && (static_cast<unsigned char>(mapped[i + 1]) & 0xC0) == 0x80) {
            const char32_t cp = (static_cast<char32_t>(c & 0x1F) << 6) | (static_cast<unsigned char>(mapped[i + 1]) & 0x3F);
            const int b = codepointToByte(cp);
            if (b >= 0)
                out += static_cast<char>(b);
            else
                out.append(mapped.substr(i, 2));
            i += 2;
        } else {
            out += mapped[i++];
        }
    }
    return out;
}

} // namespace bq::byte_level
