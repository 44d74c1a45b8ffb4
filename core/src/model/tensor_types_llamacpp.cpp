#include "tensor_types_llamacpp.h"
#include "bq/util/fp16.h"
#include <cstring>

// Every product below is written as ggml writes it (e.g. Q4_K: (d · sc) · q − (dmin · m)), because float
// multiplication is not associative and the results must match ggml's bit for bit.

namespace bq::llamacpp {

namespace {

std::uint8_t u8(const std::byte* p) { return static_cast<std::uint8_t>(*p); }

float loadHalf(const std::byte* p)
{
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return halfToFloat(v);
}

} // namespace

// ---- 32-weight blocks

// block_q4_1: d, m, qs[16] (element j in the low nibble of byte j, element j + 16 in the high); w = q·d + m.
void dequantizeRowQ4_1(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK; ++b) {
        const std::byte* block = src + b * kQ4_1Bytes;
        const float d = loadHalf(block), m = loadHalf(block + 2);
        const std::byte* qs = block + 4;
        float* y = dst + b * kQK;
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = float(u8(qs + j) & 0x0f) * d + m;
            y[j + kQK / 2] = float(u8(qs + j) >> 4) * d + m;
        }
    }
}

// ---- 256-weight blocks

// block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16] (one per 16 weights), d.
// Each half of the block (128 weights) takes 64 bytes of ql and 32 of qh: for l < 32, ql[l] holds the low bits
// of weights l (low nibble) and l + 64 (high nibble), ql[l + 32] those of l + 32 and l + 96, and qh[l] the high
// bits of l, l + 32, l + 64, l + 96 at bit pairs 0, 2, 4, 6. w = d · scale · (q − 32).
void dequantizeRowQ6_K(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kQ6_KBytes;
        const std::byte* ql = block;
        const std::byte* qh = block + 128;
        const auto* sc = reinterpret_cast<const std::int8_t*>(block + 192);
        const float d = loadHalf(block + 208);
        float* y = dst + b * kQK_K;
        for (int half = 0; half < 2; ++half) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = int((u8(ql + l) & 0x0f) | ((u8(qh + l) >> 0 & 3) << 4)) - 32;
                const int q2 = int((u8(ql + l + 32) & 0x0f) | ((u8(qh + l) >> 2 & 3) << 4)) - 32;
                const int q3 = int((u8(ql + l) >> 4) | ((u8(qh + l) >> 4 & 3) << 4)) - 32;
                const int q4 = int((u8(ql + l + 32) >> 4) | ((u8(qh + l) >> 6 & 3) << 4)) - 32;
                y[l] = d * float(sc[is + 0]) * float(q1);
                y[l + 32] = d * float(sc[is + 2]) * float(q2);
                y[l + 64] = d * float(sc[is + 4]) * float(q3);
                y[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

// block_q8_K: float32 d, int8 qs[256], int16 bsums[16] (sums of 16 q's, for dot products only); w = d · q.
void dequantizeRowQ8_K(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kQ8_KBytes;
        float d;
        std::memcpy(&d, block, 4);
        for (int j = 0; j < kQK_K; ++j)
            dst[b * kQK_K + j] = d * float(static_cast<std::int8_t>(block[4 + j]));
    }
}

// block_tq1_0: qs[48], qh[4], d. Five trits per byte in qs, four in qh, stored as the fraction
// byte = ceil(t · 256 / 243) of the base-3 number t; trit k of a byte is (uint8(byte · 3^k) · 3) >> 8, the
// digit that lands in the top after multiplying by 3^k (mod 256). Trit 0..2 decodes to −1..1, w = d · trit.
// Order: qs[0..31] give weights 32·k + m (k = trit, m = byte), qs[32..47] weights 160 + 16·k + m,
// qh[0..3] weights 240 + 4·k + m.
void dequantizeRowTQ1_0(const std::byte* src, float* dst, std::int64_t n)
{
    static constexpr std::uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kTQ1_0Bytes;
        const std::byte* qs = block;
        const std::byte* qh = block + 48;
        const float d = loadHalf(block + 52);
        float* y = dst + b * kQK_K;
        auto trit = [](std::uint8_t byte, std::uint8_t pow3) {
            const auto q = static_cast<std::uint8_t>(byte * pow3);
            return int((std::uint16_t(q) * 3) >> 8) - 1;
        };
        for (int k = 0; k < 5; ++k)
            for (int m = 0; m < 32; ++m)
                *y++ = float(trit(u8(qs + m), kPow3[k])) * d;
        for (int k = 0; k < 5; ++k)
            for (int m = 0; m < 16; ++m)
                *y++ = float(trit(u8(qs + 32 + m), kPow3[k])) * d;
        for (int k = 0; k < 4; ++k)
            for (int m = 0; m < 4; ++m)
                *y++ = float(trit(u8(qh + m), kPow3[k])) * d;
    }
}

// block_tq2_0: qs[64], d. 2-bit codes 0..2 for −1..1; byte m of each 32-byte half holds weights
// 128·half + 32·k + m at bit pair k. w = d · (code − 1).
void dequantizeRowTQ2_0(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kTQ2_0Bytes;
        const float d = loadHalf(block + 64);
        float* y = dst + b * kQK_K;
        for (int half = 0; half < 2; ++half)
            for (int k = 0; k < 4; ++k)
                for (int m = 0; m < 32; ++m)
                    *y++ = float(int(u8(block + 32 * half + m) >> (2 * k) & 3) - 1) * d;
    }
}

} // namespace bq::llamacpp
