// Simple quantizers to Q6_K, TQ2_0 and TQ1_0 for the packed runtime's in-memory conversions (`bench` on an fp32
// or synthetic model, the tests), used where the tensor-type table has no reference quantizer for the type.
// They write the block layouts that kernels_superblock.cpp decodes (ggml-common.h), with plain rounding rather
// than ggml's scale searches (make_qx_quants), so their error is a little above llama-quantize's:
//   Q6_K   per 16 weights s = max|w| / 31.5; d = max s / 127 (fp16); scale = round(s / d) (int8);
//          q = clamp(round(w / (d·scale)), −32, 31)
//   TQ2_0, TQ1_0   d = max|w| per 256 (fp16); t = round(w / d) ∈ {−1, 0, 1}
#include "kernels_superblock.h"
#include "bq/util/fp16.h"
#include <algorithm>
#include <cmath>
#include <cstring>

namespace bq::kernels::detail {

namespace {

void storeHalf(std::byte* p, std::uint16_t h) { std::memcpy(p, &h, 2); }

void quantizeRowQ6K(const float* x, std::byte* y, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kSuperBlock; ++b) {
        const float* w = x + b * kSuperBlock;
        std::byte* blk = y + b * 210;
        float s[16], smax = 0.0f;
        for (int i = 0; i < 16; ++i) {
            float amax = 0.0f;
            for (int j = 0; j < 16; ++j)
                amax = std::max(amax, std::fabs(w[16 * i + j]));
            s[i] = amax / 31.5f;
            smax = std::max(smax, s[i]);
        }
        const std::uint16_t dh = floatToHalf(smax / 127.0f);
        const float d = halfToFloat(dh);
        std::int8_t q[kSuperBlock], sc[16];
        for (int i = 0; i < 16; ++i) {
            sc[i] = static_cast<std::int8_t>(d > 0.0f ? std::min(127.0f, std::nearbyint(s[i] / d)) : 0.0f);
            const float step = d * float(sc[i]);
            for (int j = 0; j < 16; ++j) {
                const float v = step > 0.0f ? std::nearbyint(w[16 * i + j] / step) : 0.0f;
                q[16 * i + j] = static_cast<std::int8_t>(std::clamp(v, -32.0f, 31.0f));
            }
        }
        // Inverse of kernels_superblock.cpp's decodeQ6K.
        std::memset(blk, 0, 210);
        for (int h = 0; h < 2; ++h)
            for (int l = 0; l < 32; ++l) {
                unsigned hi = 0;
                for (int g = 0; g < 4; ++g) {
                    const unsigned u = static_cast<unsigned>(q[128 * h + l + 32 * g] + 32);
                    auto& lo = blk[static_cast<std::size_t>(64 * h + l + 32 * (g % 2))];
                    lo |= static_cast<std::byte>(g < 2 ? (u & 15u) : (u & 15u) << 4);
                    hi |= (u >> 4) << (2 * g);
                }
                blk[static_cast<std::size_t>(128 + 32 * h + l)] = static_cast<std::byte>(hi);
            }
        for (int i = 0; i < 16; ++i)
            blk[192 + i] = static_cast<std::byte>(sc[i]);
        storeHalf(blk + 208, dh);
    }
}

// t + 1 ∈ {0, 1, 2} per weight of a 256-block, and its fp16 d = max|w|.
std::uint16_t ternary(const float* w, std::uint8_t* t)
{
    float amax = 0.0f;
    for (int j = 0; j < kSuperBlock; ++j)
        amax = std::max(amax, std::fabs(w[j]));
    const std::uint16_t dh = floatToHalf(amax);
    const float d = halfToFloat(dh);
    for (int j = 0; j < kSuperBlock; ++j)
        t[j] = static_cast<std::uint8_t>(d > 0.0f ? std::clamp(std::nearbyint(w[j] / d), -1.0f, 1.0f) + 1.0f : 1.0f);
    return dh;
}

void quantizeRowTQ2(const float* x, std::byte* y, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kSuperBlock; ++b) {
        std::uint8_t t[kSuperBlock];
        const std::uint16_t dh = ternary(x + b * kSuperBlock, t);
        std::byte* blk = y + b * 66;
        for (int c = 0; c < 2; ++c)
            for (int m = 0; m < 32; ++m) {
                unsigned v = 0;
                for (int l = 0; l < 4; ++l)
                    v |= static_cast<unsigned>(t[128 * c + 32 * l + m]) << (2 * l);
                blk[32 * c + m] = static_cast<std::byte>(v);
            }
        storeHalf(blk + 64, dh);
    }
}

// Digits t_0..t_{k-1} (t_0 most significant), padded to 5 digits, stored as ⌈code·256/243⌉.
std::byte tq1Byte(const std::uint8_t* const* digits, int k)
{
    unsigned code = 0;
    for (int i = 0; i < 5; ++i)
        code = code * 3 + (i < k ? *digits[i] : 0u);
    return static_cast<std::byte>((code * 256 + 242) / 243);
}

void quantizeRowTQ1(const float* x, std::byte* y, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kSuperBlock; ++b) {
        std::uint8_t t[kSuperBlock];
        const std::uint16_t dh = ternary(x + b * kSuperBlock, t);
        std::byte* blk = y + b * 54;
        const std::uint8_t* d[5];
        for (int m = 0; m < 32; ++m) {
            for (int i = 0; i < 5; ++i)
                d[i] = &t[32 * i + m];
            blk[m] = tq1Byte(d, 5);
        }
        for (int m = 0; m < 16; ++m) {
            for (int i = 0; i < 5; ++i)
                d[i] = &t[160 + 16 * i + m];
            blk[32 + m] = tq1Byte(d, 5);
        }
        for (int j = 0; j < 4; ++j) {
            for (int i = 0; i < 4; ++i)
                d[i] = &t[240 + 4 * i + j];
            blk[48 + j] = tq1Byte(d, 4);
        }
        storeHalf(blk + 52, dh);
    }
}

} // namespace

TensorTypeTraits::QuantizeRow superBlockQuantizer(DType type) noexcept
{
    switch (type) {
    case DType::Q6_K: return quantizeRowQ6K;
    case DType::TQ2_0: return quantizeRowTQ2;
    case DType::TQ1_0: return quantizeRowTQ1;
    default: return nullptr;
    }
}

} // namespace bq::kernels::detail
