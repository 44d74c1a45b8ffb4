// AVX2 packed kernels (ggml's x86 style): 32 sign bits expand to a byte mask (shuffle + or + compare), the mask
// selects bytes 0/2, vpmaddubsw + vpmaddwd sum 2·q over the set bits; lane 0 starts at −Σq. Q4_0 / Q8_0 use
// the shared 256-bit tiles. Also the F16C helpers of the fp16 KV cache.
#include "bq/runtime/kernels_q.h"
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {
// Pairs of u8·s8 products fit int16: |u| ≤ 128 (Q8_0 magnitude), 15 (Q4_0) or 2 (Q1_0), |s| ≤ 127.
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"

namespace bq::kernels::detail {

namespace {

// 0/2 bytes from 32 sign bits (bit j of byte j/8, LSB first → byte j).
inline __m256i twosFromBits(std::uint32_t bits)
{
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuffle);
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe); // every bit but bit j in byte j
    const __m256i set = _mm256_cmpeq_epi8(_mm256_or_si256(bytes, others), _mm256_set1_epi64x(-1));
    return _mm256_and_si256(set, _mm256_set1_epi8(2));
}

template <int R, int TT>
inline void tileQ1(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t n0, int t0)
{
    __m256 acc[R][TT];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm256_setzero_ps();
    const int nb = X.blocksPerToken();
    for (int b = 0; b < nb; ++b) {
        __m256i iacc[R][TT];
        for (int t = 0; t < TT; ++t) {
            const __m256i init = lane0(-X.sumRow(t0 + t)[b]);
            for (int r = 0; r < R; ++r)
                iacc[r][t] = init;
        }
        for (int c = 0; c < 4; ++c) {
            __m256i w[R];
            for (int r = 0; r < R; ++r) {
                std::uint32_t bits;
                // Bytes 4c..4c+3 of the block: two 16-bit pieces in the planes' grouped layout.
                const std::size_t n = n0 + static_cast<std::size_t>(r);
                std::uint16_t lo, hi;
                std::memcpy(&lo, W.bits + q1BitsOffset(nb, n, b, 4 * c), 2);
                std::memcpy(&hi, W.bits + q1BitsOffset(nb, n, b, 4 * c + 2), 2);
                bits = static_cast<std::uint32_t>(lo) | static_cast<std::uint32_t>(hi) << 16;
                w[r] = twosFromBits(bits);
            }
            for (int t = 0; t < TT; ++t) {
                const __m256i x =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(X.qRow(t0 + t) + b * 128 + 32 * c));
                for (int r = 0; r < R; ++r)
                    iacc[r][t] = dotU8S8(iacc[r][t], w[r], x);
            }
        }
        for (int r = 0; r < R; ++r) {
            const __m256 dw = _mm256_set1_ps(
                _cvtsh_ss(W.scales[(n0 + static_cast<std::size_t>(r)) * static_cast<std::size_t>(nb) + static_cast<std::size_t>(b)]));
            for (int t = 0; t < TT; ++t)
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[r][t]),
                                            _mm256_mul_ps(dw, _mm256_set1_ps(X.scaleRow(t0 + t)[b])), acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < TT; ++t)
            Y[static_cast<std::size_t>(t0 + t) * ldy + n0 + static_cast<std::size_t>(r)] = hsum256(acc[r][t]);
}

inline float hmax256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

} // namespace

void quantizeActRowAvx2(const float* x, int cols, int block, std::int8_t* q, float* scale, std::int32_t* sum)
{
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int b = 0; b < cols / block; ++b) {
        const float* xb = x + static_cast<std::ptrdiff_t>(b) * block;
        std::int8_t* qb = q + static_cast<std::ptrdiff_t>(b) * block;
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < block; j += 8)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(xb + j), absMask));
        const float amax = hmax256(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        __m256i s = _mm256_setzero_si256();
        for (int j = 0; j < block; j += 32) {
            __m256i v[4];
            for (int k = 0; k < 4; ++k) {
                v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + j + 8 * k), vid));
                s = _mm256_add_epi32(s, v[k]);
            }
            // packs interleave the 128-bit lanes; the permute restores element order.
            const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(qb + j), _mm256_permutevar8x32_epi32(p, order));
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        scale[b] = d;
        sum[b] = _mm_cvtsi128_si32(s4);
    }
}

void q1MatmulRowsAvx2(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd)
{
    auto tile = [&]<int R, int TT>(std::size_t n, int t) { tileQ1<R, TT>(W, X, Y, ldy, n, t); };
    driveTiles<4, 2, 2>(tile, X.tokens, rowBegin, rowEnd);
}

void packedMatmulRowsAvx2(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                          float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    switch (type) {
    case DType::Q4_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) {
            tile32<DType::Q4_0, R, TT>(W, rowBytes, X, Y, ldy, n, t);
        };
        driveTiles<4, 2, 2>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    case DType::Q8_0: {
        auto tile = [&]<int R, int TT>(std::size_t n, int t) {
            tile32<DType::Q8_0, R, TT>(W, rowBytes, X, Y, ldy, n, t);
        };
        driveTiles<4, 2, 2>(tile, X.tokens, rowBegin, rowEnd);
        return;
    }
    default: return;
    }
}

float dotF16Avx2(const float* a, const std::uint16_t* h, int n)
{
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
                              _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))), acc);
    float s = hsum256(acc);
    for (; i < n; ++i)
        s += a[i] * _cvtsh_ss(h[i]);
    return s;
}

void axpyF16Avx2(float s, const std::uint16_t* h, float* y, int n)
{
    const __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))),
                                                _mm256_loadu_ps(y + i)));
    for (; i < n; ++i)
        y[i] += s * _cvtsh_ss(h[i]);
}

void floatToHalfRowAvx2(const float* x, std::uint16_t* h, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i)
        h[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

} // namespace bq::kernels::detail
