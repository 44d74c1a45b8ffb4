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

// block_q5_0: d, qh (32 bits: bit j is the fifth bit of weight j), qs[16] (low nibbles as in Q4_1);
// w = (q − 16)·d.
void dequantizeRowQ5_0(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK; ++b) {
        const std::byte* block = src + b * kQ5_0Bytes;
        const float d = loadHalf(block);
        std::uint32_t qh;
        std::memcpy(&qh, block + 2, 4);
        const std::byte* qs = block + 6;
        float* y = dst + b * kQK;
        for (int j = 0; j < kQK / 2; ++j) {
            const int high0 = int(qh >> j << 4 & 0x10), high1 = int(qh >> (j + 12) & 0x10);
            y[j] = float(int((u8(qs + j) & 0x0f) | high0) - 16) * d;
            y[j + kQK / 2] = float(int((u8(qs + j) >> 4) | high1) - 16) * d;
        }
    }
}

// block_q5_1: d, m, qh, qs[16] (as Q5_0 without the offset 16); w = q·d + m.
void dequantizeRowQ5_1(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK; ++b) {
        const std::byte* block = src + b * kQ5_1Bytes;
        const float d = loadHalf(block), m = loadHalf(block + 2);
        std::uint32_t qh;
        std::memcpy(&qh, block + 4, 4);
        const std::byte* qs = block + 8;
        float* y = dst + b * kQK;
        for (int j = 0; j < kQK / 2; ++j) {
            const int high0 = int(qh >> j << 4 & 0x10), high1 = int(qh >> (j + 12) & 0x10);
            y[j] = float(int((u8(qs + j) & 0x0f) | high0)) * d + m;
            y[j + kQK / 2] = float(int((u8(qs + j) >> 4) | high1)) * d + m;
        }
    }
}

// The 16 values of IQ4_NL's and IQ4_XS's 4-bit codes (a non-uniform grid fitted to weight distributions).
constexpr std::int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// block_iq4_nl: d, qs[16] (codes, nibbles as in Q4_1); w = d · value(code).
void dequantizeRowIQ4_NL(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK; ++b) {
        const std::byte* block = src + b * kIQ4_NLBytes;
        const float d = loadHalf(block);
        const std::byte* qs = block + 2;
        float* y = dst + b * kQK;
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = d * float(kIQ4Values[u8(qs + j) & 0x0f]);
            y[j + kQK / 2] = d * float(kIQ4Values[u8(qs + j) >> 4]);
        }
    }
}

// ---- 256-weight blocks

namespace {

// The 6-bit scale and min of sub-block j (0..7) of Q4_K and Q5_K, packed in 12 bytes: for j < 4, the low 6 bits
// of bytes j and j + 4; for j >= 4, a nibble of byte j + 4 plus the top 2 bits of bytes j − 4 and j.
void scaleMinK4(int j, const std::byte* q, int& scale, int& min)
{
    if (j < 4) {
        scale = u8(q + j) & 63;
        min = u8(q + j + 4) & 63;
    } else {
        scale = (u8(q + j + 4) & 0x0f) | (u8(q + j - 4) >> 6) << 4;
        min = (u8(q + j + 4) >> 4) | (u8(q + j) >> 6) << 4;
    }
}

} // namespace

// block_q2_K: scales[16] (low nibble scale, high nibble min, one pair per 16 weights), qs[64] (2-bit q),
// d, dmin. Each half (128 weights) uses 32 bytes of qs, bit pair k of byte l holding weight 32·k + l.
// w = (d · scale) · q − (dmin · min).
void dequantizeRowQ2_K(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kQ2_KBytes;
        const std::byte* scales = block;
        const std::byte* q = block + 16;
        const float d = loadHalf(block + 80), dmin = loadHalf(block + 82);
        float* y = dst + b * kQK_K;
        int is = 0;
        for (int half = 0; half < 2; ++half) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part) {
                    const int sc = u8(scales + is++);
                    const float dl = d * float(sc & 0x0f), ml = dmin * float(sc >> 4);
                    for (int l = 0; l < 16; ++l)
                        *y++ = dl * float(u8(q + 16 * part + l) >> shift & 3) - ml;
                }
            }
            q += 32;
        }
    }
}

// block_q3_K: hmask[32] (bit 2 of q, inverted: a clear bit subtracts 4), qs[64] (bits 0-1 of q, laid out as
// Q2_K), scales[12] (sixteen 6-bit scales: low nibbles in bytes 0-7, top bit pairs in bytes 8-11), d.
// w = (d · (scale − 32)) · (q − 4·(hmask bit clear)).
void dequantizeRowQ3_K(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kQ3_KBytes;
        const std::byte* hm = block;
        const std::byte* q = block + 32;
        const std::byte* packed = block + 96;
        const float dAll = loadHalf(block + 108);
        int scales[16];
        for (int i = 0; i < 16; ++i) {
            const int low = i < 8 ? u8(packed + i) & 0x0f : u8(packed + i - 8) >> 4;
            const int high = u8(packed + 8 + i % 4) >> (2 * (i / 4)) & 3;
            scales[i] = (low | high << 4) - 32;
        }
        float* y = dst + b * kQK_K;
        int is = 0;
        unsigned bit = 1;
        for (int half = 0; half < 2; ++half) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part) {
                    const float dl = dAll * float(scales[is++]);
                    for (int l = 16 * part; l < 16 * part + 16; ++l)
                        *y++ = dl * float(int(u8(q + l) >> shift & 3) - (u8(hm + l) & bit ? 0 : 4));
                }
                bit <<= 1;
            }
            q += 32;
        }
    }
}

// block_q4_K: d, dmin, scales[12] (eight 6-bit scale/min pairs, see scaleMinK4), qs[128]. Each 64 weights take
// 32 bytes: low nibbles the first 32 weights, high nibbles the next. w = (d · scale) · q − (dmin · min).
void dequantizeRowQ4_K(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kQ4_KBytes;
        const float d = loadHalf(block), dmin = loadHalf(block + 2);
        const std::byte* scales = block + 4;
        const std::byte* q = block + 16;
        float* y = dst + b * kQK_K;
        for (int is = 0; is < 8; is += 2) {
            int sc, m;
            scaleMinK4(is, scales, sc, m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            scaleMinK4(is + 1, scales, sc, m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * float(u8(q + l) & 0x0f) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * float(u8(q + l) >> 4) - m2;
            q += 32;
        }
    }
}

// block_q5_K: d, dmin, scales[12] (as Q4_K), qh[32] (bit 2k of byte l: fifth bit of weight 64k + l, bit 2k+1:
// of weight 64k + 32 + l), qs[128] (as Q4_K). w = (d · scale) · q − (dmin · min).
void dequantizeRowQ5_K(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kQ5_KBytes;
        const float d = loadHalf(block), dmin = loadHalf(block + 2);
        const std::byte* scales = block + 4;
        const std::byte* qh = block + 16;
        const std::byte* ql = block + 48;
        float* y = dst + b * kQK_K;
        unsigned u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2) {
            int sc, m;
            scaleMinK4(is, scales, sc, m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            scaleMinK4(is + 1, scales, sc, m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * float((u8(ql + l) & 0x0f) + (u8(qh + l) & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * float((u8(ql + l) >> 4) + (u8(qh + l) & u2 ? 16 : 0)) - m2;
            ql += 32;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

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

// block_iq4_xs: d, scales_h (16 bits: top bit pair of each 32-weight sub-block's scale), scales_l[4] (low
// nibbles, two sub-blocks a byte), qs[128] (codes, 16 bytes a sub-block, nibbles as in IQ4_NL).
// w = (d · (scale − 32)) · value(code).
void dequantizeRowIQ4_XS(const std::byte* src, float* dst, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        const std::byte* block = src + b * kIQ4_XSBytes;
        const float d = loadHalf(block);
        std::uint16_t scalesH;
        std::memcpy(&scalesH, block + 2, 2);
        const std::byte* scalesL = block + 4;
        const std::byte* qs = block + 8;
        float* y = dst + b * kQK_K;
        for (int ib = 0; ib < kQK_K / 32; ++ib) {
            const int ls = (u8(scalesL + ib / 2) >> 4 * (ib % 2) & 0x0f) | (scalesH >> 2 * ib & 3) << 4;
            const float dl = d * float(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * float(kIQ4Values[u8(qs + j) & 0x0f]);
                y[j + 16] = dl * float(kIQ4Values[u8(qs + j) >> 4]);
            }
            y += 32;
            qs += 16;
        }
    }
}

} // namespace bq::llamacpp
