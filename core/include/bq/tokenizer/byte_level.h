// GPT-2's byte-to-unicode table (the ByteLevel pre-tokenizer/decoder of Hugging Face tokenizers): every byte
// maps to one printable code point — bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves, the other
// 68 bytes to U+0100.. in byte order (space -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A). Byte-level vocabularies store
// their pieces in this alphabet.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bq::byte_level {

// The code point that stands for each byte.
const std::array<char32_t, 256>& byteToCodepoint() noexcept;
// The byte a code point stands for, or -1 when it is not one of the 256 table entries.
int codepointToByte(char32_t cp) noexcept;
// Raw bytes -> the UTF-8 of their stand-in code points.
std::string encode(std::string_view raw);
// The reverse; code points outside the table (and invalid UTF-8) are copied through unchanged.
std::string decode(std::string_view mapped);

} // namespace bq::byte_level
