// AVX-512 VNNI super-block kernels (Q6_K, TQ2_0, TQ1_0; kernels_superblock.h) in 512-bit registers: a 256-weight
// super-block is 4 vectors of 64 weights, vpdpbusd / vpdpwssd accumulate exact int32 lane sums, and one
// conversion + FMA with d_w·d_x per block folds them into 16 fp32 lanes.
//   Q6_K   q (u8 0..63) from ql/qh as in the 256-bit tiles, two 32-weight groups per vector; vpmaddubsw gives
//          q·x pairs, minus 32·x pairs (vpmaddubsw of 32 with x, once per token and vector, shared by the rows)
//          = (q − 32)·x pairs (|.| ≤ 2·32·127, exact in int16); vpdpwssd multiplies them by the sub-block
//          scales (vpermw spreads the 4 scales of a vector over their 16-lane groups) into int32 lanes.
//   TQ2_0  the 64 bytes of 2-bit fields in one register; field l of byte m is weight 32l + m (low half) or
//          128 + 32l + m (high half), so each token's activations are gathered in that order (two 256-bit loads).
//   TQ1_0  digit n of a byte b is ((b·3ⁿ mod 256)·3) >> 8, in 16-bit lanes with the byte in the high half (vpmullw
//          keeps b·3ⁿ mod 256 there, vpmulhuw by 3 leaves the digit); the byte sources of two 32-weight vectors
//          side by side with their own powers of 3. (The byte-addition form of the 256-bit tiles measured 9 %
//          slower here: 0.95 against 0.87 ns per 32 weights.)
// TQ types start each block's lane 0 at −Σx. An output's fp32 operations do not depend on the tile shape, so a
// GEMM equals T GEMVs bit for bit; the lane order differs from the AVX2 path (fp32 sums agree to a few ulps).
#include "kernels_superblock.h"
#include <immintrin.h>

// GCC 12's AVX-512 headers build their don't-care operands from self-initialised variables (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bq::kernels::detail {
namespace {
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"

namespace bq::kernels::detail {

namespace {

inline float hsum512(__m512 v)
{
    const __m512 hi = _mm512_shuffle_f32x4(v, v, 0xEE);
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(hi)));
}

inline __m512i join256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Base-3 digits (bytes 0..2) of 64 TQ1_0 bytes, digit selected by p (3ⁿ per 16-bit lane).
inline __m512i tq1Digits512(__m512i bytes, __m512i p)
{
    const __m512i three = _mm512_set1_epi16(3);
    const __m512i even = _mm512_mullo_epi16(_mm512_slli_epi16(bytes, 8), p);
    const __m512i odd = _mm512_mullo_epi16(_mm512_and_si512(bytes, _mm512_set1_epi16(static_cast<short>(0xff00))), p);
    return _mm512_or_si512(_mm512_mulhi_epu16(even, three), _mm512_slli_epi16(_mm512_mulhi_epu16(odd, three), 8));
}

// 16-bit lanes: a for lanes 0..15, b for lanes 16..31 (eight values each, as given).
inline __m512i powers(__m256i a, __m256i b) { return join256(a, b); }

template <DType TYPE, int R, int TT>
inline void tileSuper512(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y,
                         std::size_t ldy, std::size_t n0, int t0)
{
    constexpr int kBytes = TYPE == DType::Q6_K ? 210 : TYPE == DType::TQ2_0 ? 66 : 54;
    constexpr int kScaleAt = kBytes - 2;
    __m512 acc[R][TT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm512_setzero_ps();
    const int nb = X.blocksPerToken();
    const __m512i low2 = _mm512_set1_epi8(0x03), low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    const __m512i thirtyTwo = _mm512_set1_epi8(32);
    // TQ1_0 powers of 3 per 16-bit lane for the 4 vectors (see the file comment; kernels_superblock_ymm.inl).
    const __m256i p1 = _mm256_set1_epi16(1), p3 = _mm256_set1_epi16(3), p9 = _mm256_set1_epi16(9),
                  p27 = _mm256_set1_epi16(27), p81 = _mm256_set1_epi16(81);
    const __m512i pw[4] = {powers(p1, p3), powers(p9, p27),
                           powers(p81, _mm256_setr_epi16(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3)),
                           powers(_mm256_setr_epi16(9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27),
                                  _mm256_setr_epi16(81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27))};
    for (int b = 0; b < nb; ++b) {
        const std::byte* blk[R];
        for (int r = 0; r < R; ++r)
            blk[r] = W + (n0 + static_cast<std::size_t>(r)) * rowBytes + static_cast<std::size_t>(b) * kBytes;
        __m512i ia[R][TT];
        const std::int8_t* xb[TT];
        for (int t = 0; t < TT; ++t) {
            xb[t] = X.qRow(t0 + t) + static_cast<std::ptrdiff_t>(b) * kSuperBlock;
            const __m512i init = TYPE == DType::Q6_K ? _mm512_setzero_si512()
                                                     : _mm512_zextsi128_si512(_mm_cvtsi32_si128(-X.sumRow(t0 + t)[b]));
            for (int r = 0; r < R; ++r)
                ia[r][t] = init;
        }
        if constexpr (TYPE == DType::Q6_K) {
            __m512i sc16[R];
            for (int r = 0; r < R; ++r)
                sc16[r] = _mm512_castsi256_si512(
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[r] + 192))));
#pragma GCC unroll 4
            for (int j = 0; j < 4; ++j) {
                const int h = j / 2;
                // Scales 4j..4j+3, each over 8 int16 lanes (the pair sums of its 16 weights).
                const __m512i spread = _mm512_add_epi16(_mm512_set1_epi16(static_cast<short>(4 * j)),
                                                        _mm512_srli_epi16(_mm512_setr_epi32(0x00010000, 0x00030002, 0x00050004, 0x00070006,
                                                                                            0x00090008, 0x000b000a, 0x000d000c, 0x000f000e,
                                                                                            0x00110010, 0x00130012, 0x00150014, 0x00170016,
                                                                                            0x00190018, 0x001b001a, 0x001d001c, 0x001f001e),
                                                                          3));
                __m512i q[R], sc[R];
                for (int r = 0; r < R; ++r) {
                    const __m512i ql = load512(blk[r] + 64 * h);
                    const __m256i qh = load256(blk[r] + 128 + 32 * h);
                    const __m512i lo = _mm512_and_si512(j % 2 == 0 ? ql : _mm512_srli_epi16(ql, 4), low4);
                    // bits 2g, 2g+1 of qh to bits 4, 5: g = 0, 1 (j even) or 2, 3 (j odd) in the two halves
                    const __m512i hi = j % 2 == 0 ? join256(_mm256_slli_epi16(qh, 4), _mm256_slli_epi16(qh, 2))
                                                  : join256(qh, _mm256_srli_epi16(qh, 2));
                    q[r] = _mm512_or_si512(lo, _mm512_and_si512(hi, bits45));
                    sc[r] = _mm512_permutexvar_epi16(spread, sc16[r]);
                }
                for (int t = 0; t < TT; ++t) {
                    const __m512i x = load512(xb[t] + 64 * j);
                    const __m512i off = _mm512_maddubs_epi16(thirtyTwo, x);
                    for (int r = 0; r < R; ++r)
                        ia[r][t] = _mm512_dpwssd_epi32(ia[r][t], _mm512_sub_epi16(_mm512_maddubs_epi16(q[r], x), off), sc[r]);
                }
            }
        } else if constexpr (TYPE == DType::TQ2_0) {
            __m512i raw[R];
            for (int r = 0; r < R; ++r)
                raw[r] = load512(blk[r]);
#pragma GCC unroll 4
            for (int l = 0; l < 4; ++l) {
                __m512i w[R];
                for (int r = 0; r < R; ++r) {
                    w[r] = _mm512_and_si512(raw[r], low2);
                    raw[r] = _mm512_srli_epi16(raw[r], 2);
                }
                for (int t = 0; t < TT; ++t) {
                    const __m512i x = join256(load256(xb[t] + 32 * l), load256(xb[t] + 128 + 32 * l));
                    for (int r = 0; r < R; ++r)
                        ia[r][t] = _mm512_dpbusd_epi32(ia[r][t], w[r], x);
                }
            }
        } else {
            __m512i src[R][3]; // qs[0..31] twice; qs[0..31] | tail ×2; tail ×2 | tail, qh ×4
            for (int r = 0; r < R; ++r) {
                const __m256i head = load256(blk[r]);
                const __m128i tail = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[r] + 32));
                std::int32_t qh;
                std::memcpy(&qh, blk[r] + 48, 4);
                const __m256i tails = _mm256_set_m128i(tail, tail);
                src[r][0] = join256(head, head);
                src[r][1] = join256(head, tails);
                src[r][2] = join256(tails, _mm256_set_m128i(_mm_set1_epi32(qh), tail));
            }
#pragma GCC unroll 4
            for (int j = 0; j < 4; ++j) {
                __m512i w[R];
                for (int r = 0; r < R; ++r)
                    w[r] = tq1Digits512(src[r][j == 0 ? 0 : j - 1], pw[j]);
                for (int t = 0; t < TT; ++t) {
                    const __m512i x = load512(xb[t] + 64 * j);
                    for (int r = 0; r < R; ++r)
                        ia[r][t] = _mm512_dpbusd_epi32(ia[r][t], w[r], x);
                }
            }
        }
        for (int r = 0; r < R; ++r) {
            const __m512 dw = _mm512_set1_ps(loadHalfF16c(blk[r] + kScaleAt));
            for (int t = 0; t < TT; ++t)
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[r][t]),
                                            _mm512_mul_ps(dw, _mm512_set1_ps(X.scaleRow(t0 + t)[b])), acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            Y[static_cast<std::size_t>(t0 + t) * ldy + n0 + static_cast<std::size_t>(r)] = hsum512(acc[r][t]);
}

template <DType TYPE>
void rowsOf(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y, std::size_t ldy,
            std::size_t rowBegin, std::size_t rowEnd)
{
    // GEMV one row at a time: the weights are then read as one sequential stream (4-row tiles interleave 4 rows
    // 840+ bytes apart, which streamed a 151,936 × 1,024 Q6_K head from memory 3–7× slower here); prefill tiles
    // of 4 rows × 2 tokens reuse each unpacked vector.
    auto tile = [&]<int R, int TT>(std::size_t n, int t) { tileSuper512<TYPE, R, TT>(W, rowBytes, X, Y, ldy, n, t); };
    driveTiles<1, 4, 2>(tile, X.tokens, rowBegin, rowEnd);
}

} // namespace

void superBlockMatmulRowsAvx512(DType type, const std::byte* W, std::size_t rowBytes,
                                const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                                std::size_t rowEnd)
{
    switch (type) {
    case DType::Q6_K: rowsOf<DType::Q6_K>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case DType::TQ2_0: rowsOf<DType::TQ2_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case DType::TQ1_0: rowsOf<DType::TQ1_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    default: return;
    }
}

} // namespace bq::kernels::detail
