// 256-bit helpers and the tile driver, shared by the packed kernels of both ISAs (kernels_q_*, kernels_superblock_*).
// The including file defines, before including this:
//   inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s);   // acc += Σ of 4 adjacent u8·s8 products
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
