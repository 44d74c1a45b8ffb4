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
//   TQ1_0  t = base-3 digit n of a byte b: the leading digit ((q·3) >> 8 = (q ≥ 86) + (q ≥ 171)) of q = b·3ⁿ
//          mod 256, with b·3ⁿ by byte additions (q + q + q wraps mod 256); no multiplies. Then as TQ2_0.
#pragma once
#include "kernels_superblock.h"
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {

// 3·v mod 256 per byte (the next base-3 digit of a TQ1_0 byte moves to the top).
inline __m256i times3(__m256i v) { return _mm256_add_epi8(v, _mm256_add_epi8(v, v)); }
inline __m128i times3(__m128i v) { return _mm_add_epi8(v, _mm_add_epi8(v, v)); }

// The leading base-3 digit of each byte q: (3·q) >> 8 = (q ≥ 86) + (q ≥ 171), as bytes 0..2.
inline __m256i tq1Digit(__m256i q)
{
    const __m256i ge86 = _mm256_cmpeq_epi8(_mm256_max_epu8(q, _mm256_set1_epi8(86)), q);
    const __m256i ge171 = _mm256_cmpeq_epi8(_mm256_max_epu8(q, _mm256_set1_epi8(static_cast<char>(171))), q);
    return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(ge86, ge171));
}

// The 16 bytes qh[j]·3ⁿ (n = i / 4, j = i % 4 for byte i) of a TQ1_0 block's last 16 weights.
inline __m128i tq1Last16(const std::byte* qhp)
{
    std::int32_t qh;
    std::memcpy(&qh, qhp, 4);
    const __m128i v1 = _mm_set1_epi32(qh), v3 = times3(v1), v9 = times3(v3), v27 = times3(v9);
    return _mm_unpacklo_epi64(_mm_unpacklo_epi32(v1, v3), _mm_unpacklo_epi32(v9, v27));
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
            // Digit n of qs[m] is the leading digit of qs[m]·3ⁿ mod 256: vectors 0..4 scale the 32 head bytes by
            // 3 each step; vectors 5..7 pair the 16 tail bytes qs[32..47] (·1|·3, ·9|·27, ·81|qh pattern).
            __m256i cur[R], tail[R][3];
            for (int r = 0; r < R; ++r) {
                cur[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]));
                const __m128i t1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[r] + 32));
                const __m128i t3 = times3(t1), t9 = times3(t3), t27 = times3(t9), t81 = times3(t27);
                tail[r][0] = _mm256_set_m128i(t3, t1);
                tail[r][1] = _mm256_set_m128i(t27, t9);
                tail[r][2] = _mm256_set_m128i(tq1Last16(blk[r] + 48), t81);
            }
#pragma GCC unroll 8
            for (int v = 0; v < 8; ++v) {
                __m256i w[R];
                for (int r = 0; r < R; ++r) {
                    if (v < 5) {
                        w[r] = tq1Digit(cur[r]);
                        cur[r] = times3(cur[r]);
                    } else {
                        w[r] = tq1Digit(tail[r][v - 5]);
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
