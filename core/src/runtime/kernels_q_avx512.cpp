// AVX-512 (F/BW/VL/VNNI) packed kernels. Q1_0: each 64 sign bits load straight into a k-mask, a zero-masked
// move turns them into bytes 0/2, and vpdpbusd sums 2·q over the set bits; the block's lane 0 starts at −Σq so
// the lanes add up to Σ(2·bit − 1)·q with no weight multiplications. The unpacked 0/2 bytes of a block are
// reused for every token of the tile (prefill). Q4_0 / Q8_0 use the shared 256-bit tiles with ymm vpdpbusd.
#include "bq/runtime/kernels_q.h"
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
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(hi));
    return hsum256(s8);
}

template <int R, int TT>
inline void tileQ1(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y, std::size_t ldy,
                   std::size_t n0, int t0)
{
    __m512 acc[R][TT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm512_setzero_ps();
    const int nb = X.blocksPerToken();
    const __m512i two = _mm512_set1_epi8(2);
    const std::byte* rows[R];
    for (int r = 0; r < R; ++r)
        rows[r] = W + (n0 + static_cast<std::size_t>(r)) * rowBytes;
    for (int b = 0; b < nb; ++b) {
        __m512i wlo[R], whi[R];
        __m512 dw[R];
        for (int r = 0; r < R; ++r) {
            const std::byte* blk = rows[r] + static_cast<std::size_t>(b) * 18;
            std::uint64_t lo, hi;
            std::memcpy(&lo, blk + 2, 8);
            std::memcpy(&hi, blk + 10, 8);
            wlo[r] = _mm512_maskz_mov_epi8(_cvtu64_mask64(lo), two);
            whi[r] = _mm512_maskz_mov_epi8(_cvtu64_mask64(hi), two);
            dw[r] = _mm512_set1_ps(loadHalfF16c(blk));
        }
        for (int t = 0; t < TT; ++t) {
            const std::int8_t* xq = X.qRow(t0 + t) + b * 128;
            const __m512i xl = _mm512_loadu_si512(xq);
            const __m512i xh = _mm512_loadu_si512(xq + 64);
            const __m512i init = _mm512_maskz_mov_epi32(1, _mm512_set1_epi32(-X.sumRow(t0 + t)[b]));
            const __m512 dx = _mm512_set1_ps(X.scaleRow(t0 + t)[b]);
            for (int r = 0; r < R; ++r) {
                const __m512i i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, wlo[r], xl), whi[r], xh);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_mul_ps(dw[r], dx), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            Y[static_cast<std::size_t>(t0 + t) * ldy + n0 + static_cast<std::size_t>(r)] = hsum512(acc[r][t]);
}

} // namespace

void quantizeActRowAvx512(const float* x, int cols, int block, std::int8_t* q, float* scale, std::int32_t* sum)
{
    for (int b = 0; b < cols / block; ++b) {
        const float* xb = x + static_cast<std::ptrdiff_t>(b) * block;
        std::int8_t* qb = q + static_cast<std::ptrdiff_t>(b) * block;
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < block; j += 16)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xb + j)));
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        __m512i s = _mm512_setzero_si512();
        for (int j = 0; j < block; j += 16) {
            const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + j), vid));
            s = _mm512_add_epi32(s, v);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + j), _mm512_cvtsepi32_epi8(v));
        }
        scale[b] = d;
        sum[b] = _mm512_reduce_add_epi32(s);
    }
}

void packedMatmulRowsAvx512(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                            float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    switch (type) {
    case DType::Q1_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) { tileQ1<R, TT>(W, rowBytes, X, Y, ldy, n, t); };
        driveTiles<8, 4, 4>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    case DType::Q4_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) {
            tile32<DType::Q4_0, R, TT>(W, rowBytes, X, Y, ldy, n, t);
        };
        driveTiles<4, 4, 4>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    case DType::Q8_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) {
            tile32<DType::Q8_0, R, TT>(W, rowBytes, X, Y, ldy, n, t);
        };
        driveTiles<4, 4, 4>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    default: return;
    }
}

} // namespace bq::kernels::detail
