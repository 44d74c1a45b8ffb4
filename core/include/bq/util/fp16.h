// IEEE binary16 and bfloat16 conversion. float -> half rounds to nearest even, as ggml does.
#pragma once
#include <cstdint>
#include <cstring>

namespace bq {

float halfToFloat(std::uint16_t h) noexcept;
std::uint16_t floatToHalf(float f) noexcept;

inline float bf16ToFloat(std::uint16_t b) noexcept
{
    std::uint32_t u = std::uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
// Round to nearest even, NaN stays NaN.
std::uint16_t floatToBf16(float f) noexcept;

// The float value after a round trip through fp16 (what a stored fp16 scale really is).
inline float roundToHalf(float f) noexcept { return halfToFloat(floatToHalf(f)); }

} // namespace bq
