// Scalar reference of the super-block kernels (kernels_superblock.h): the Q6_K / TQ2_0 / TQ1_0 block layouts
// decoded to integers, exact integer block sums, sequential fp32 accumulation.
#include "kernels_superblock.h"
#include "bq/util/fp16.h"
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace bq::kernels::detail {

namespace {

std::uint8_t u8(const std::byte* p) { return static_cast<std::uint8_t>(*p); }

std::uint16_t u16(const std::byte* p)
{
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

// Q6_K, 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], fp16 d. Each half h (128
// weights) uses ql[64h..64h+63] and qh[32h..32h+31]; for l < 32 weight 128h + l + 32g (g = 0..3) takes the
// low (g = 0, 1) or high (g = 2, 3) nibble of ql[64h + l + 32·(g % 2)] and bits 2g, 2g+1 of qh[32h + l]; its
// scale is scales[(128h + l + 32g) / 16]; value d · scale · (q − 32).
std::uint16_t decodeQ6K(const std::byte* blk, std::int8_t* q, std::int8_t* scales)
{
    for (int h = 0; h < 2; ++h) {
        const std::byte* ql = blk + 64 * h;
        const std::byte* qh = blk + 128 + 32 * h;
        for (int l = 0; l < 32; ++l) {
            const int hi = u8(qh + l);
            for (int g = 0; g < 4; ++g) {
                const int lo = u8(ql + l + 32 * (g % 2));
                const int nib = g < 2 ? lo & 0x0f : lo >> 4;
                q[128 * h + l + 32 * g] = static_cast<std::int8_t>((nib | ((hi >> (2 * g)) & 3) << 4) - 32);
            }
        }
    }
    for (int s = 0; s < 16; ++s)
        scales[s] = static_cast<std::int8_t>(u8(blk + 192 + s));
    return u16(blk + 208);
}

// TQ2_0, 66 bytes: qs[64], fp16 d. Weight 128c + 32l + m (c = 0, 1; l = 0..3; m < 32) is bits 2l, 2l+1 of
// qs[32c + m]; value d · (t − 1).
std::uint16_t decodeTQ2(const std::byte* blk, std::int8_t* q)
{
    for (int c = 0; c < 2; ++c)
        for (int l = 0; l < 4; ++l)
            for (int m = 0; m < 32; ++m)
                q[128 * c + 32 * l + m] = static_cast<std::int8_t>(((u8(blk + 32 * c + m) >> (2 * l)) & 3) - 1);
    return u16(blk + 64);
}

// Base-3 digit n of a TQ1_0 byte: the byte holds ⌈code·256/243⌉, so digit n is ((byte·3ⁿ mod 256)·3) >> 8.
int tq1Digit(std::uint8_t byte, int n)
{
    static constexpr std::uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const auto shifted = static_cast<std::uint8_t>(byte * kPow3[n]);
    return (shifted * 3) >> 8;
}

// TQ1_0, 54 bytes: qs[48], qh[4], fp16 d. Weights 32n + m (m < 32, n < 5) are digit n of qs[m]; 160 + 16n + m
// (m < 16, n < 5) digit n of qs[32 + m]; 240 + 4n + j (j < 4, n < 4) digit n of qh[j]; value d · (t − 1).
std::uint16_t decodeTQ1(const std::byte* blk, std::int8_t* q)
{
    for (int n = 0; n < 5; ++n) {
        for (int m = 0; m < 32; ++m)
            q[32 * n + m] = static_cast<std::int8_t>(tq1Digit(u8(blk + m), n) - 1);
        for (int m = 0; m < 16; ++m)
            q[160 + 16 * n + m] = static_cast<std::int8_t>(tq1Digit(u8(blk + 32 + m), n) - 1);
    }
    for (int n = 0; n < 4; ++n)
        for (int j = 0; j < 4; ++j)
            q[240 + 4 * n + j] = static_cast<std::int8_t>(tq1Digit(u8(blk + 48 + j), n) - 1);
    return u16(blk + 52);
}

} // namespace

std::uint16_t decodeSuperBlock(DType type, const std::byte* block, std::int8_t* q, std::int8_t* scales)
{
    switch (type) {
    case DType::Q6_K: return decodeQ6K(block, q, scales);
    case DType::TQ2_0:
        std::memset(scales, 1, 16);
        return decodeTQ2(block, q);
    case DType::TQ1_0:
        std::memset(scales, 1, 16);
        return decodeTQ1(block, q);
    default:
        throw std::invalid_argument(std::string("super-block kernels: unsupported weight type ") + dtypeName(type));
    }
}

void superBlockMatmulRowsScalar(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                                float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    const int nb = X.blocksPerToken();
    const auto blockBytes = static_cast<std::size_t>(dtypeBlockBytes(type));
    std::vector<std::int8_t> q(static_cast<std::size_t>(X.cols));
    std::vector<std::int8_t> sc(static_cast<std::size_t>(nb) * 16);
    std::vector<float> d(static_cast<std::size_t>(nb));
    for (std::size_t n = rowBegin; n < rowEnd; ++n) {
        const std::byte* row = W + n * rowBytes;
        for (int b = 0; b < nb; ++b)
            d[static_cast<std::size_t>(b)] =
                halfToFloat(decodeSuperBlock(type, row + static_cast<std::size_t>(b) * blockBytes,
                                             q.data() + static_cast<std::ptrdiff_t>(b) * kSuperBlock,
                                             sc.data() + static_cast<std::ptrdiff_t>(b) * 16));
        for (int t = 0; t < X.tokens; ++t) {
            const std::int8_t* x = X.qRow(t);
            const float* dx = X.scaleRow(t);
            float acc = 0.0f;
            for (int b = 0; b < nb; ++b) {
                std::int32_t isum = 0;
                for (int s = 0; s < 16; ++s) {
                    std::int32_t sub = 0;
                    for (int j = 0; j < 16; ++j) {
                        const std::ptrdiff_t k = static_cast<std::ptrdiff_t>(b) * kSuperBlock + 16 * s + j;
                        sub += static_cast<std::int32_t>(q[static_cast<std::size_t>(k)]) * x[k];
                    }
                    isum += static_cast<std::int32_t>(sc[static_cast<std::size_t>(b) * 16 + static_cast<std::size_t>(s)]) * sub;
                }
                acc += (d[static_cast<std::size_t>(b)] * dx[b]) * static_cast<float>(isum);
            }
            Y[static_cast<std::size_t>(t) * ldy + n] = acc;
        }
    }
}

} // namespace bq::kernels::detail
