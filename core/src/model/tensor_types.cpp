#include "bq/model/tensor_types.h"
#include "tensor_types_llamacpp.h"
#include "bq/util/fp16.h"
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace bq {

namespace {

std::uint16_t loadU16(const std::byte* p)
{
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

void storeU16(std::byte* p, std::uint16_t v) { std::memcpy(p, &v, 2); }

// ---- plain types

void dequantizeRowF32(const std::byte* src, float* dst, std::int64_t n)
{
    std::memcpy(dst, src, static_cast<std::size_t>(n) * 4);
}

void quantizeRowF32(const float* src, std::byte* dst, std::int64_t n)
{
    std::memcpy(dst, src, static_cast<std::size_t>(n) * 4);
}

void dequantizeRowF16(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        dst[i] = halfToFloat(loadU16(src + 2 * i));
}

void quantizeRowF16(const float* src, std::byte* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        storeU16(dst + 2 * i, floatToHalf(src[i]));
}

void dequantizeRowBF16(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        dst[i] = bf16ToFloat(loadU16(src + 2 * i));
}

void quantizeRowBF16(const float* src, std::byte* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        storeU16(dst + 2 * i, floatToBf16(src[i]));
}

void dequantizeRowI8(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        dst[i] = float(static_cast<std::int8_t>(src[i]));
}

void dequantizeRowI32(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i) {
        std::int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        dst[i] = float(v);
    }
}

// ---- blocks of one fp16 scale times integers

template <int Block, int Bytes, TensorTypeTraits::DecodeBlock Decode>
void dequantizeScaledRow(const std::byte* src, float* dst, std::int64_t n)
{
    std::int8_t q[Block];
    for (std::int64_t b = 0; b < n / Block; ++b) {
        const float d = halfToFloat(Decode(src + b * Bytes, q));
        for (int j = 0; j < Block; ++j)
            dst[b * Block + j] = d * float(q[j]);
    }
}

// Q8_0: d, int8 q[32].
constexpr int kQ8Block = 32, kQ8Bytes = 34;

void encodeQ8_0(std::uint16_t d, const std::int8_t* q, std::byte* block)
{
    storeU16(block, d);
    std::memcpy(block + 2, q, kQ8Block);
}

std::uint16_t decodeQ8_0(const std::byte* block, std::int8_t* q)
{
    std::memcpy(q, block + 2, kQ8Block);
    return loadU16(block);
}

// ggml quantize_row_q8_0_ref: d = amax / 127, q = round(x · (1/d)) (halves away from zero).
void quantizeRowQ8_0(const float* x, std::byte* y, std::int64_t n)
{
    std::int8_t q[kQ8Block];
    for (std::int64_t b = 0; b < n / kQ8Block; ++b) {
        const float* xb = x + b * kQ8Block;
        float amax = 0.0f;
        for (int j = 0; j < kQ8Block; ++j)
            amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < kQ8Block; ++j)
            q[j] = static_cast<std::int8_t>(std::round(xb[j] * id));
        encodeQ8_0(floatToHalf(d), q, y + b * kQ8Bytes);
    }
}

// Q4_0: d, 16 bytes of nibbles (element j low, element j + 16 high), stored as q + 8.
constexpr int kQ4Block = 32, kQ4Bytes = 18;

void encodeQ4_0(std::uint16_t d, const std::int8_t* q, std::byte* block)
{
    storeU16(block, d);
    for (int j = 0; j < kQ4Block / 2; ++j)
        block[2 + j] = static_cast<std::byte>(((q[j] + 8) & 0x0f) | ((q[j + kQ4Block / 2] + 8) & 0x0f) << 4);
}

std::uint16_t decodeQ4_0(const std::byte* block, std::int8_t* q)
{
    for (int j = 0; j < kQ4Block / 2; ++j) {
        const auto v = static_cast<std::uint8_t>(block[2 + j]);
        q[j] = static_cast<std::int8_t>((v & 0x0f) - 8);
        q[j + kQ4Block / 2] = static_cast<std::int8_t>((v >> 4) - 8);
    }
    return loadU16(block);
}

// ggml quantize_row_q4_0_ref: d = (the value of largest magnitude) / −8, nibble = min(15, (int8)(x/d + 8.5)).
void quantizeRowQ4_0(const float* x, std::byte* y, std::int64_t n)
{
    std::int8_t q[kQ4Block];
    for (std::int64_t b = 0; b < n / kQ4Block; ++b) {
        const float* xb = x + b * kQ4Block;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < kQ4Block; ++j)
            if (amax < std::fabs(xb[j])) {
                amax = std::fabs(xb[j]);
                max = xb[j];
            }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < kQ4Block; ++j)
            q[j] = static_cast<std::int8_t>(std::min(15, int(static_cast<std::int8_t>(xb[j] * id + 8.5f))) - 8);
        encodeQ4_0(floatToHalf(d), q, y + b * kQ4Bytes);
    }
}

// Q1_0: d, 16 bytes of signs (element j is bit j % 8 of byte j / 8; 1 = +d).
constexpr int kQ1Block = 128, kQ1Bytes = 18;

void encodeQ1_0(std::uint16_t d, const std::int8_t* q, std::byte* block)
{
    storeU16(block, d);
    for (int j = 0; j < kQ1Block / 8; ++j) {
        unsigned bits = 0;
        for (int k = 0; k < 8; ++k)
            bits |= (q[8 * j + k] >= 0 ? 1u : 0u) << k;
        block[2 + j] = static_cast<std::byte>(bits);
    }
}

std::uint16_t decodeQ1_0(const std::byte* block, std::int8_t* q)
{
    for (int j = 0; j < kQ1Block; ++j)
        q[j] = (static_cast<std::uint8_t>(block[2 + j / 8]) >> (j % 8)) & 1u ? 1 : -1;
    return loadU16(block);
}

// sign(w) (w >= 0 -> +1, as ggml's bit = (w >= 0)) times fp16(mean |w|), the least-squares scale of the signs.
void quantizeRowQ1_0(const float* x, std::byte* y, std::int64_t n)
{
    std::int8_t q[kQ1Block];
    for (std::int64_t b = 0; b < n / kQ1Block; ++b) {
        const float* xb = x + b * kQ1Block;
        float s = 0.0f;
        for (int j = 0; j < kQ1Block; ++j) {
            s += std::fabs(xb[j]);
            q[j] = xb[j] >= 0.0f ? 1 : -1;
        }
        encodeQ1_0(floatToHalf(s / float(kQ1Block)), q, y + b * kQ1Bytes);
    }
}

// Indexed by DType.
constexpr std::array<TensorTypeTraits, 21> kTypes{{
    {DType::F32, "F32", 0, 1, 4, "32-bit IEEE float", dequantizeRowF32, quantizeRowF32, nullptr, nullptr},
    {DType::F16, "F16", 1, 1, 2, "16-bit IEEE half float", dequantizeRowF16, quantizeRowF16, nullptr, nullptr},
    {DType::BF16, "BF16", 30, 1, 2, "bfloat16 (8-bit exponent, 7-bit mantissa)", dequantizeRowBF16,
     quantizeRowBF16, nullptr, nullptr},
    {DType::Q8_0, "Q8_0", 8, kQ8Block, kQ8Bytes,
     "8-bit integers q plus one fp16 scale d per 32 weights; each weight decodes to d·q",
     dequantizeScaledRow<kQ8Block, kQ8Bytes, decodeQ8_0>, quantizeRowQ8_0, encodeQ8_0, decodeQ8_0},
    {DType::Q4_0, "Q4_0", 2, kQ4Block, kQ4Bytes,
     "4-bit integers q (0..15) plus one fp16 scale d per 32 weights; each weight decodes to d·(q − 8)",
     dequantizeScaledRow<kQ4Block, kQ4Bytes, decodeQ4_0>, quantizeRowQ4_0, encodeQ4_0, decodeQ4_0},
    {DType::Q1_0, "Q1_0", 41, kQ1Block, kQ1Bytes,
     "one sign bit per weight plus one fp16 scale d per 128 weights; each weight decodes to +d (bit 1) or −d",
     dequantizeScaledRow<kQ1Block, kQ1Bytes, decodeQ1_0>, quantizeRowQ1_0, encodeQ1_0, decodeQ1_0},
    {DType::I8, "I8", 24, 1, 1, "8-bit signed integers", dequantizeRowI8, nullptr, nullptr, nullptr},
    {DType::I32, "I32", 26, 1, 4, "32-bit signed integers", dequantizeRowI32, nullptr, nullptr, nullptr},
    // llama.cpp's other CPU types (ggml-common.h block structs), decoded in tensor_types_llamacpp.cpp.
    {DType::Q4_1, "Q4_1", 3, llamacpp::kQK, llamacpp::kQ4_1Bytes,
     "4-bit integers q (0..15) plus an fp16 scale d and an fp16 offset m per 32 weights; each weight decodes to d·q + m",
     llamacpp::dequantizeRowQ4_1, nullptr, nullptr, nullptr},
    {DType::Q5_0, "Q5_0", 6, llamacpp::kQK, llamacpp::kQ5_0Bytes,
     "5-bit integers q (0..31) plus one fp16 scale d per 32 weights; each weight decodes to d·(q − 16)",
     llamacpp::dequantizeRowQ5_0, nullptr, nullptr, nullptr},
    {DType::Q5_1, "Q5_1", 7, llamacpp::kQK, llamacpp::kQ5_1Bytes,
     "5-bit integers q (0..31) plus an fp16 scale d and an fp16 offset m per 32 weights; "
     "each weight decodes to d·q + m",
     llamacpp::dequantizeRowQ5_1, nullptr, nullptr, nullptr},
    {DType::Q2_K, "Q2_K", 10, llamacpp::kQK_K, llamacpp::kQ2_KBytes,
     "2-bit integers q, a 4-bit scale s and a 4-bit min m per 16 weights, fp16 d and dmin per 256; "
     "each weight decodes to d·s·q − dmin·m",
     llamacpp::dequantizeRowQ2_K, nullptr, nullptr, nullptr},
    {DType::Q3_K, "Q3_K", 11, llamacpp::kQK_K, llamacpp::kQ3_KBytes,
     "3-bit integers q (−4..3), a 6-bit scale s per 16 weights and one fp16 scale d per 256; "
     "each weight decodes to d·(s − 32)·q",
     llamacpp::dequantizeRowQ3_K, nullptr, nullptr, nullptr},
    {DType::Q4_K, "Q4_K", 12, llamacpp::kQK_K, llamacpp::kQ4_KBytes,
     "4-bit integers q, a 6-bit scale s and a 6-bit min m per 32 weights, fp16 d and dmin per 256; "
     "each weight decodes to d·s·q − dmin·m",
     llamacpp::dequantizeRowQ4_K, nullptr, nullptr, nullptr},
    {DType::Q5_K, "Q5_K", 13, llamacpp::kQK_K, llamacpp::kQ5_KBytes,
     "5-bit integers q, a 6-bit scale s and a 6-bit min m per 32 weights, fp16 d and dmin per 256; "
     "each weight decodes to d·s·q − dmin·m",
     llamacpp::dequantizeRowQ5_K, nullptr, nullptr, nullptr},
    {DType::Q6_K, "Q6_K", 14, llamacpp::kQK_K, llamacpp::kQ6_KBytes,
     "6-bit integers q (0..63) per weight, an 8-bit signed scale s per 16 weights and one fp16 scale d per 256; "
     "each weight decodes to d·s·(q − 32)",
     llamacpp::dequantizeRowQ6_K, nullptr, nullptr, nullptr},
    {DType::Q8_K, "Q8_K", 15, llamacpp::kQK_K, llamacpp::kQ8_KBytes,
     "8-bit integers q plus one fp32 scale d and 16 block sums per 256 weights (ggml's dot-product operand); "
     "each weight decodes to d·q",
     llamacpp::dequantizeRowQ8_K, nullptr, nullptr, nullptr},
    {DType::IQ4_NL, "IQ4_NL", 20, llamacpp::kQK, llamacpp::kIQ4_NLBytes,
     "4-bit codes into a fixed non-uniform grid of 16 values v (−127..113) plus one fp16 scale d per "
     "32 weights; each weight decodes to d·v",
     llamacpp::dequantizeRowIQ4_NL, nullptr, nullptr, nullptr},
    {DType::IQ4_XS, "IQ4_XS", 23, llamacpp::kQK_K, llamacpp::kIQ4_XSBytes,
     "4-bit codes into IQ4_NL's 16-value grid v, a 6-bit scale s per 32 weights and one fp16 scale d "
     "per 256; each weight decodes to d·(s − 32)·v",
     llamacpp::dequantizeRowIQ4_XS, nullptr, nullptr, nullptr},
    {DType::TQ1_0, "TQ1_0", 34, llamacpp::kQK_K, llamacpp::kTQ1_0Bytes,
     "ternary weights t (−1, 0, 1) packed five to a byte in base 3, plus one fp16 scale d per 256 weights; "
     "each weight decodes to d·t",
     llamacpp::dequantizeRowTQ1_0, nullptr, nullptr, nullptr},
    {DType::TQ2_0, "TQ2_0", 35, llamacpp::kQK_K, llamacpp::kTQ2_0Bytes,
     "ternary weights t (−1, 0, 1) stored as 2-bit codes t + 1, plus one fp16 scale d per 256 weights; "
     "each weight decodes to d·t",
     llamacpp::dequantizeRowTQ2_0, nullptr, nullptr, nullptr},
}};

constexpr bool tableInDTypeOrder()
{
    for (std::size_t i = 0; i < kTypes.size(); ++i)
        if (static_cast<std::size_t>(kTypes[i].type) != i)
            return false;
    return true;
}
static_assert(tableInDTypeOrder(), "kTypes rows must follow the DType values");

} // namespace

const TensorTypeTraits& tensorType(DType t) noexcept { return kTypes[static_cast<std::size_t>(t)]; }

const TensorTypeTraits* tensorTypeFromGgml(std::uint32_t id) noexcept
{
    for (const auto& t : kTypes)
        if (t.ggmlType == id)
            return &t;
    return nullptr;
}

std::span<const TensorTypeTraits> tensorTypes() noexcept { return kTypes; }

} // namespace bq
