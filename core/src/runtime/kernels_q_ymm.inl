// 256-bit Q4_0 / Q8_0 tiles and the tile driver, shared by kernels_q_avx2.cpp and kernels_q_avx512.cpp.
// The including file defines, before including this:
//   inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s);   // acc += Σ of 4 adjacent u8·s8 products
// One 32-weight block is one ymm: 8 int32 lanes of exact partial sums, converted and scaled once per block.
#pragma once
#include "bq/runtime/kernels_q.h"
#include <algorithm>
#include <cstring>
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {

inline float loadHalfF16c(const std::byte* p)
{
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// A fixed reduction tree, the same for every tile.
inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// An int32 vector with v in lane 0 and zeros elsewhere (the per-block correction −c·Σq).
inline __m256i lane0(std::int32_t v) { return _mm256_zextsi128_si256(_mm_cvtsi32_si128(v)); }

// R rows × TT tokens of Q4_0 (nibbles q: value (q−8)·d) or Q8_0 (int8 q: value q·d).
template <DType TYPE, int R, int TT>
inline void tile32(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y,
                   std::size_t ldy, std::size_t n0, int t0)
{
    constexpr int kBytes = TYPE == DType::Q4_0 ? 18 : 34;
    __m256 acc[R][TT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm256_setzero_ps();
    const int nb = X.blocksPerToken();
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int b = 0; b < nb; ++b) {
        __m256i w[R], wsign[R];
        __m256 dw[R];
        for (int r = 0; r < R; ++r) {
            const std::byte* blk = W + (n0 + static_cast<std::size_t>(r)) * rowBytes + static_cast<std::size_t>(b) * kBytes;
            dw[r] = _mm256_set1_ps(loadHalfF16c(blk));
            if constexpr (TYPE == DType::Q4_0) {
                const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
                w[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), low4);
                wsign[r] = w[r];
            } else {
                wsign[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
                w[r] = _mm256_abs_epi8(wsign[r]); // |q| as u8 (128 for −128), sign moved onto x
            }
        }
        for (int t = 0; t < TT; ++t) {
            const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(X.qRow(t0 + t) + b * 32));
            const __m256 dx = _mm256_set1_ps(X.scaleRow(t0 + t)[b]);
            if constexpr (TYPE == DType::Q4_0) {
                const __m256i init = lane0(-8 * X.sumRow(t0 + t)[b]);
                for (int r = 0; r < R; ++r) {
                    const __m256i i = dotU8S8(init, w[r], x);
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(dw[r], dx), acc[r][t]);
                }
            } else {
                for (int r = 0; r < R; ++r) {
                    const __m256i i = dotU8S8(_mm256_setzero_si256(), w[r], _mm256_sign_epi8(x, wsign[r]));
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(dw[r], dx), acc[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            Y[static_cast<std::size_t>(t0 + t) * ldy + n0 + static_cast<std::size_t>(r)] = hsum256(acc[r][t]);
}

// Tokens are taken in groups (their int8 activations stay in L2 while a group's row tiles stream the weights);
// each row tile then reuses its unpacked weight block for TT tokens at a time.
constexpr int kTokenGroup = 64;

template <int R, int TT, class Tile>
inline void tokenTiles(const Tile& tile, std::size_t n, int tb, int te)
{
    int t = tb;
    for (; t + TT <= te; t += TT)
        tile.template operator()<R, TT>(n, t);
    for (; t < te; ++t)
        tile.template operator()<R, 1>(n, t);
}

// RV rows per GEMV tile; RM × TM tiles for several tokens.
template <int RV, int RM, int TM, class Tile>
inline void driveTiles(const Tile& tile, int tokens, std::size_t rowBegin, std::size_t rowEnd)
{
    if (tokens == 1) {
        std::size_t n = rowBegin;
        for (; n + RV <= rowEnd; n += RV)
            tile.template operator()<RV, 1>(n, 0);
        for (; n < rowEnd; ++n)
            tile.template operator()<1, 1>(n, 0);
        return;
    }
    for (int g = 0; g < tokens; g += kTokenGroup) {
        const int ge = std::min(tokens, g + kTokenGroup);
        std::size_t n = rowBegin;
        for (; n + RM <= rowEnd; n += RM)
            tokenTiles<RM, TM>(tile, n, g, ge);
        for (; n < rowEnd; ++n)
            tokenTiles<1, TM>(tile, n, g, ge);
    }
}

} // namespace
} // namespace bq::kernels::detail
