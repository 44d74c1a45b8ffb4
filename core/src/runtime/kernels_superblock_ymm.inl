// 256-bit tiles of the super-block kernels (kernels_superblock.h), shared by kernels_superblock_avx2.cpp and
// kernels_superblock_avx512.cpp. The including file defines, before including this:
//   inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s);   // acc += Σ of 4 adjacent u8·s8 products
//   inline __m256i dotI16(__m256i acc, __m256i a, __m256i b);    // acc += Σ of 2 adjacent i16·i16 products
// and includes kernels_q_ymm.inl (hsum256, lane0, loadHalfF16c, driveTiles).
//
// A 256-weight super-block is 8 vectors of 32 weights. Each row's 8 weight vectors are unpacked once and used
// for the TT tokens of the tile; the 8 int32 lanes of a (row, token) pair hold exact partial sums of the block,
// converted and scaled by d_w·d_x once per block (as in the Q4_0 / Q8_0 tiles), so an output's fp32 operations
// do not depend on the tile shape: a GEMM equals T GEMVs bit for bit.
//   Q6_K   q = low nibble (ql) | 2 high bits (qh) << 4 (u8 0..63); q·x pairs by vpmaddubsw minus 32·x pairs (one
//          vpmaddubsw per token, shared by the rows) = (q − 32)·x pairs (|.| ≤ 2·32·127, exact in int16), then
//          pairs × the sub-block scales (int16) into int32 lanes.
//   TQ2_0  t = 2-bit field (u8 0..3) · x by u8×s8 dot products; each block's lane 0 starts at −Σx.
//   TQ1_0  t = base-3 digit: ((byte·3ⁿ mod 256)·3) >> 8, computed in 16-bit lanes with the byte in the high half
//          (vpmullw keeps byte·3ⁿ mod 256 there, vpmulhuw by 3 leaves the digit); then as TQ2_0.
#pragma once
#include "kernels_superblock.h"
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {

// The base-3 digits selected by p (3ⁿ per 16-bit lane) of 32 TQ1_0 bytes, as bytes 0..2.
inline __m256i tq1Digits(__m256i bytes, __m256i p)
{
    const __m256i three = _mm256_set1_epi16(3);
    const __m256i even = _mm256_mullo_epi16(_mm256_slli_epi16(bytes, 8), p);
    const __m256i odd = _mm256_mullo_epi16(_mm256_and_si256(bytes, _mm256_set1_epi16(static_cast<short>(0xff00))), p);
    return _mm256_or_si256(_mm256_mulhi_epu16(even, three), _mm256_slli_epi16(_mm256_mulhi_epu16(odd, three), 8));
}

// Q6_K scales of vector v (weights 32v..32v+31): sub-block 2v in the low 8 int16 lanes, 2v+1 in the high 8.
inline __m256i q6Scales(__m256i scales16, int v)
{
    const __m256i pair = _mm256_permutevar8x32_epi32(scales16, _mm256_set1_epi32(v)); // (sc[2v], sc[2v+1]) × 8
    const __m256i pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, //
                                          2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    return _mm256_shuffle_epi8(pair, pick);
}

template <DType TYPE, int R, int TT>
inline void tileSuper(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y,
                      std::size_t ldy, std::size_t n0, int t0)
{
    constexpr int kBytes = TYPE == DType::Q6_K ? 210 : TYPE == DType::TQ2_0 ? 66 : 54;
    constexpr int kScaleAt = TYPE == DType::Q6_K ? 208 : TYPE == DType::TQ2_0 ? 64 : 52;
    __m256 acc[R][TT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm256_setzero_ps();
    const int nb = X.blocksPerToken();
    const __m256i low2 = _mm256_set1_epi8(0x03), low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    // TQ1_0 digit selectors: 3ⁿ in every lane (vectors 0..4); the 16-byte tail qs[32..47] in both halves with
    // 3⁰ | 3¹ and 3² | 3³ (vectors 5, 6); the tail with 3⁴ | qh[0..3] ×4 with 3⁰,3⁰,3¹,3¹,3²,3²,3³,3³ (vector 7).
    const __m256i p56[2] = {_mm256_setr_epi16(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
                            _mm256_setr_epi16(9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27)};
    const __m256i p7 = _mm256_setr_epi16(81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27);
    for (int b = 0; b < nb; ++b) {
        const std::byte* blk[R];
        for (int r = 0; r < R; ++r)
            blk[r] = W + (n0 + static_cast<std::size_t>(r)) * rowBytes + static_cast<std::size_t>(b) * kBytes;
        __m256i ia[R][TT];
        for (int t = 0; t < TT; ++t) {
            const __m256i init = TYPE == DType::Q6_K ? _mm256_setzero_si256() : lane0(-X.sumRow(t0 + t)[b]);
            for (int r = 0; r < R; ++r)
                ia[r][t] = init;
        }
        const std::int8_t* xb[TT];
        for (int t = 0; t < TT; ++t)
            xb[t] = X.qRow(t0 + t) + static_cast<std::ptrdiff_t>(b) * kSuperBlock;

        if constexpr (TYPE == DType::Q6_K) {
            __m256i sc16[R];
            for (int r = 0; r < R; ++r)
                sc16[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[r] + 192)));
#pragma GCC unroll 8
            for (int v = 0; v < 8; ++v) {
                const int h = v / 4, g = v % 4;
                __m256i q[R], sc[R];
                for (int r = 0; r < R; ++r) {
                    const __m256i ql =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r] + 64 * h + 32 * (g % 2)));
                    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r] + 128 + 32 * h));
                    const __m256i lo = _mm256_and_si256(g < 2 ? ql : _mm256_srli_epi16(ql, 4), low4);
                    // bits 2g, 2g+1 of qh moved to bits 4, 5
                    const __m256i hiShift = g == 0   ? _mm256_slli_epi16(qh, 4)
                                            : g == 1 ? _mm256_slli_epi16(qh, 2)
                                            : g == 2 ? qh
                                                     : _mm256_srli_epi16(qh, 2);
                    q[r] = _mm256_or_si256(lo, _mm256_and_si256(hiShift, bits45));
                    sc[r] = q6Scales(sc16[r], v);
                }
                for (int t = 0; t < TT; ++t) {
                    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t] + 32 * v));
                    const __m256i off = _mm256_maddubs_epi16(_mm256_set1_epi8(32), x); // 32·x pairs, for every row
                    for (int r = 0; r < R; ++r)
                        ia[r][t] = dotI16(ia[r][t], _mm256_sub_epi16(_mm256_maddubs_epi16(q[r], x), off), sc[r]);
                }
            }
        } else if constexpr (TYPE == DType::TQ2_0) {
#pragma GCC unroll 2
            for (int c = 0; c < 2; ++c) {
                __m256i raw[R];
                for (int r = 0; r < R; ++r)
                    raw[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r] + 32 * c));
#pragma GCC unroll 4
                for (int l = 0; l < 4; ++l) {
                    __m256i w[R];
                    for (int r = 0; r < R; ++r) {
                        w[r] = _mm256_and_si256(raw[r], low2);
                        raw[r] = _mm256_srli_epi16(raw[r], 2);
                    }
                    for (int t = 0; t < TT; ++t) {
                        const __m256i x =
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t] + 128 * c + 32 * l));
                        for (int r = 0; r < R; ++r)
                            ia[r][t] = dotU8S8(ia[r][t], w[r], x);
                    }
                }
            }
        } else {
            __m256i head[R], tail[R];
            for (int r = 0; r < R; ++r) {
                head[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]));
                const __m128i rest = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[r] + 32));
                tail[r] = _mm256_set_m128i(rest, rest);
            }
#pragma GCC unroll 8
            for (int v = 0; v < 8; ++v) {
                __m256i w[R];
                for (int r = 0; r < R; ++r) {
                    if (v < 5) {
                        static constexpr short kPow3[5] = {1, 3, 9, 27, 81};
                        w[r] = tq1Digits(head[r], _mm256_set1_epi16(kPow3[v < 5 ? v : 0]));
                    } else if (v < 7) {
                        w[r] = tq1Digits(tail[r], p56[v - 5]);
                    } else {
                        std::int32_t qh;
                        std::memcpy(&qh, blk[r] + 48, 4);
                        const __m256i last = _mm256_inserti128_si256(tail[r], _mm_set1_epi32(qh), 1);
                        w[r] = tq1Digits(last, p7);
                    }
                }
                for (int t = 0; t < TT; ++t) {
                    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t] + 32 * v));
                    for (int r = 0; r < R; ++r)
                        ia[r][t] = dotU8S8(ia[r][t], w[r], x);
                }
            }
        }
        for (int r = 0; r < R; ++r) {
            const __m256 dw = _mm256_set1_ps(loadHalfF16c(blk[r] + kScaleAt));
            for (int t = 0; t < TT; ++t)
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[r][t]),
                                            _mm256_mul_ps(dw, _mm256_set1_ps(X.scaleRow(t0 + t)[b])), acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            Y[static_cast<std::size_t>(t0 + t) * ldy + n0 + static_cast<std::size_t>(r)] = hsum256(acc[r][t]);
}

template <int RV, int RM, int TM>
inline void superBlockRows(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                           float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    switch (type) {
    case DType::Q6_K: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) { tileSuper<DType::Q6_K, R, TT>(W, rowBytes, X, Y, ldy, n, t); };
        driveTiles<RV, RM, TM>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    case DType::TQ2_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) { tileSuper<DType::TQ2_0, R, TT>(W, rowBytes, X, Y, ldy, n, t); };
        driveTiles<RV, RM, TM>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    case DType::TQ1_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) { tileSuper<DType::TQ1_0, R, TT>(W, rowBytes, X, Y, ldy, n, t); };
        driveTiles<RV, RM, TM>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    default: return;
    }
}

} // namespace
} // namespace bq::kernels::detail
