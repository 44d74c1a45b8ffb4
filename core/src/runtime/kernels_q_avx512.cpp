// AVX-512 (F/BW/VL/VNNI) packed kernels. Q1_0 runs on the split planes (kernels_q.h): each 64-bit mask of a
// 4-block group loads straight into a k-register, a zero-masked move turns it into bytes 0/2, and vpdpbusd sums
// 2·q over the set bits of 16 weights of each of the 4 blocks (lanes 4k..4k+3 = block k). Each group's lanes
// start at −Σq of their block, so they add up to Σ(2·bit − 1)·q; one conversion and one FMA with the 4 blocks'
// d_w·d_x (spread over their lanes) then serve the 4 blocks. GEMV passes take 8 rows (one planes tile, one
// contiguous stream); prefill tiles take 4 rows × 3 tokens and reuse each 0/2 vector for the 3 tokens.
// Measured on Zen 5 (2 vpdpbusd/cycle): ~2.9 cycles per 128-weight block-row in the GEMV, where the mask
// expansion and vpdpbusd share the vector ports (~2.3-cycle bound for that instruction mix), ~2 cycles per
// block-row-token in prefill. Q4_0 / Q8_0 use the shared kernels of kernels_q_blocks.inl with ymm vpdpbusd.
#include "bq/runtime/kernels_q.h"
#include <algorithm>
#include <immintrin.h>
#include <vector>

// GCC 12's AVX-512 headers build their don't-care operands from self-initialised variables (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bq::kernels::detail {
namespace {
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
constexpr bool kVnni = true;
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"
#include "kernels_q_blocks.inl"

namespace bq::kernels::detail {

namespace {

inline float hsum512(__m512 v)
{
    const __m512 hi = _mm512_shuffle_f32x4(v, v, 0xEE);
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(hi));
    return hsum256(s8);
}

inline __mmask64 loadMask64(const std::uint8_t* p)
{
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return _cvtu64_mask64(v);
}

// One thread's copy of the activations in the planes' grouped order, with each block's −Σq start vector, and
// the scale products of the rows × tokens of the current tile.
struct Q1Prepared {
    int nb = 0, groups = 0, tail = 0, tokens = 0;
    std::vector<std::int8_t> x;      // [tokens][K]: per group, vector j holds bytes 16j..16j+15 of blocks 0..3
    std::vector<std::int32_t> start; // [tokens][groups + tail][16]: −Σq of block k in lane 4k (a group) or lane 0
    std::vector<float> dx;           // [tokens][groups][16]: the activation scale of block k in lanes 4k..4k+3
    const std::int8_t* xRow(int t) const noexcept { return x.data() + static_cast<std::size_t>(t) * nb * 128; }
};

void prepareQ1(const QuantizedActivations& X, Q1Prepared& P)
{
    P.nb = X.blocksPerToken();
    P.groups = P.nb / 4;
    P.tail = P.nb - 4 * P.groups;
    P.tokens = X.tokens;
    P.x.resize(static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(X.cols));
    P.start.assign(static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(P.groups + P.tail) * 16, 0);
    P.dx.resize(static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(P.groups) * 16);
    for (int t = 0; t < X.tokens; ++t) {
        const std::int8_t* src = X.qRow(t);
        std::int8_t* dst = P.x.data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(X.cols);
        const std::int32_t* sum = X.sumRow(t);
        std::int32_t* st = P.start.data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(P.groups + P.tail) * 16;
        for (int g = 0; g < P.groups; ++g) {
            for (int j = 0; j < 8; ++j)
                for (int k = 0; k < 4; ++k)
                    std::memcpy(dst + g * 512 + j * 64 + k * 16, src + (4 * g + k) * 128 + 16 * j, 16);
            for (int k = 0; k < 4; ++k) {
                st[g * 16 + 4 * k] = -sum[4 * g + k];
                for (int l = 0; l < 4; ++l)
                    P.dx[(static_cast<std::size_t>(t) * static_cast<std::size_t>(P.groups) + static_cast<std::size_t>(g)) * 16 +
                         static_cast<std::size_t>(4 * k + l)] = X.scaleRow(t)[4 * g + k];
            }
        }
        const int plain = 4 * P.groups;
        std::memcpy(dst + plain * 128, src + plain * 128, static_cast<std::size_t>(P.tail) * 128);
        for (int b = 0; b < P.tail; ++b)
            st[(P.groups + b) * 16] = -sum[plain + b];
    }
}

// The fp32 scales of 4 consecutive blocks, each in 4 lanes (lanes 4k..4k+3 = block k), from 4 fp16 values.
inline __m512 spreadScales4(const std::uint16_t* h)
{
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    return _mm512_permutexvar_ps(spread,
                                 _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h)))));
}

// R rows (within one 8-row tile of the planes) × TT tokens. Each 64-bit mask becomes bytes 0/2 with one
// zero-masked move, shared by the TT tokens; vpdpbusd then sums 2·q over the set bits of 4 blocks at once.
// The fp32 operations of an output do not depend on R or TT, so a GEMM equals T GEMVs bit for bit.
template <int R, int TT>
inline void tileQ1(const Q1Planes& W, const QuantizedActivations& X, const Q1Prepared& P, float* Y, std::size_t ldy,
                   std::size_t n0, int t0)
{
    // Locals, not P's fields: the stores through float pointers below could alias them.
    const int nb = P.nb, ng = P.groups, tail = P.tail, starts = P.groups + P.tail;
    const std::int32_t* start[TT];
    const __m512i two = _mm512_set1_epi8(2);
    const std::uint8_t* tile = W.bits + q1BitsOffset(nb, n0, 0, 0); // row r's masks at + r·8
    const std::int8_t* xrow[TT];
    const float* dxrow[TT];
    const std::uint16_t* dwrow[R];
    __m512 acc[R][TT];
#pragma GCC unroll 16
    for (int t = 0; t < TT; ++t) {
        xrow[t] = P.xRow(t0 + t);
        dxrow[t] = P.dx.data() + static_cast<std::size_t>(t0 + t) * static_cast<std::size_t>(ng) * 16;
        start[t] = P.start.data() + static_cast<std::size_t>(t0 + t) * static_cast<std::size_t>(starts) * 16;
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        dwrow[r] = W.scales + (n0 + static_cast<std::size_t>(r)) * static_cast<std::size_t>(nb);
#pragma GCC unroll 16
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm512_setzero_ps();
    }
    for (int g = 0; g < ng; ++g) {
        const std::uint8_t* mg = tile + g * 512;
        __m512i ia[R][TT];
#pragma GCC unroll 16
        for (int t = 0; t < TT; ++t) {
            const __m512i st = _mm512_loadu_si512(start[t] + g * 16);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
                ia[r][t] = st;
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            __m512i w[R];
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
                w[r] = _mm512_maskz_mov_epi8(loadMask64(mg + j * 64 + r * 8), two);
#pragma GCC unroll 16
            for (int t = 0; t < TT; ++t) {
                const __m512i xj = _mm512_loadu_si512(xrow[t] + g * 512 + j * 64);
#pragma GCC unroll 16
                for (int r = 0; r < R; ++r)
                    ia[r][t] = _mm512_dpbusd_epi32(ia[r][t], w[r], xj);
            }
        }
        // Block scale products d_w·d_x (exact fp32 products, as in the scalar path), 4 blocks per vector.
        __m512 dw[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
            dw[r] = spreadScales4(dwrow[r] + 4 * g);
#pragma GCC unroll 16
        for (int t = 0; t < TT; ++t) {
            const __m512 dx = _mm512_loadu_ps(dxrow[t] + 16 * g);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[r][t]), _mm512_mul_ps(dw[r], dx), acc[r][t]);
        }
    }
    for (int b = 0; b < tail; ++b) {
        const std::uint8_t* mb = tile + ng * 512 + b * 128;
        __m512i wlo[R], whi[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            wlo[r] = _mm512_maskz_mov_epi8(loadMask64(mb + r * 8), two);
            whi[r] = _mm512_maskz_mov_epi8(loadMask64(mb + 64 + r * 8), two);
        }
#pragma GCC unroll 16
        for (int t = 0; t < TT; ++t) {
            const std::int8_t* xb = xrow[t] + (4 * ng + b) * 128;
            const __m512i xl = _mm512_loadu_si512(xb), xh = _mm512_loadu_si512(xb + 64);
            const __m512i st = _mm512_loadu_si512(start[t] + (ng + b) * 16);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const __m512i i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(st, wlo[r], xl), whi[r], xh);
                const float scale = _cvtsh_ss(dwrow[r][4 * ng + b]) * X.scaleRow(t0 + t)[4 * ng + b];
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_set1_ps(scale), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            Y[static_cast<std::size_t>(t0 + t) * ldy + n0 + static_cast<std::size_t>(r)] = hsum512(acc[r][t]);
}

// Rows [rowBegin, rowEnd) in tiles of R rows (R divides 8) that never straddle an 8-row tile of the planes.
template <int R, class Tile>
inline void alignedRowTiles(const Tile& tile, std::size_t rowBegin, std::size_t rowEnd)
{
    std::size_t n = rowBegin;
    for (; n < rowEnd && (n % R != 0 || n + R > rowEnd); ++n)
        tile.template operator()<1>(n);
    for (; n + R <= rowEnd; n += R)
        tile.template operator()<R>(n);
    for (; n < rowEnd; ++n)
        tile.template operator()<1>(n);
}

} // namespace

void quantizeActRowAvx512(const float* x, int cols, int block, std::int8_t* q, float* scale, std::int32_t* sum)
{
    for (int b = 0; b < cols / block; ++b) {
        const float* xb = x + static_cast<std::ptrdiff_t>(b) * block;
        std::int8_t* qb = q + static_cast<std::ptrdiff_t>(b) * block;
        __m512 m = _mm512_setzero_ps();
        #pragma GCC unroll 16
        for (int j = 0; j < block; j += 16)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xb + j)));
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        __m512i s = _mm512_setzero_si512();
        #pragma GCC unroll 16
        for (int j = 0; j < block; j += 16) {
            const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + j), vid));
            s = _mm512_add_epi32(s, v);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + j), _mm512_cvtsepi32_epi8(v));
        }
        scale[b] = d;
        sum[b] = _mm512_reduce_add_epi32(s);
    }
}

void q1MatmulRowsAvx512(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                        std::size_t rowBegin, std::size_t rowEnd)
{
    // 4 × 3 measured best among 1..8 rows × 1..4 tokens (ties within noise with 4 × 2, 4 × 4, 8 × 3).
    constexpr int kGemvRows = 8, kTileRows = 4, kTileTokens = 3;
    thread_local Q1Prepared P;
    prepareQ1(X, P);
    if (X.tokens == 1) {
        auto rows = [&]<int R>(std::size_t n) { tileQ1<R, 1>(W, X, P, Y, ldy, n, 0); };
        alignedRowTiles<kGemvRows>(rows, rowBegin, rowEnd);
        return;
    }
    for (int g = 0; g < X.tokens; g += kTokenGroup) {
        const int ge = std::min(X.tokens, g + kTokenGroup);
        auto rows = [&]<int R>(std::size_t n) {
            auto tile = [&]<int RR, int TT>(std::size_t nn, int t) { tileQ1<RR, TT>(W, X, P, Y, ldy, nn, t); };
            tokenTiles<R, kTileTokens>(tile, n, g, ge);
        };
        alignedRowTiles<kTileRows>(rows, rowBegin, rowEnd);
    }
}

void packedMatmulRowsAvx512(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                            float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    switch (type) {
    case DType::Q4_0: blockMatmulRows<DType::Q4_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case DType::Q8_0: blockMatmulRows<DType::Q8_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    default: return;
    }
}

} // namespace bq::kernels::detail
