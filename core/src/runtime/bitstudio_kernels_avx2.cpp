#include "bitstudio_kernels.h"
#include <immintrin.h>

namespace bq::kernels {

namespace {

// For each byte of bits: lane t gets the float sign bit when bit t is 0 (negate), and all ones when bit t is 1.
// Built at compile time: a file compiled for AVX2 must not run code at program start (static constructors run
// on every CPU, before any dispatch).
struct Tables {
    alignas(32) std::uint32_t negate[256][8] = {};
    alignas(32) std::uint32_t keep[256][8] = {};
    constexpr Tables()
    {
        for (int b = 0; b < 256; ++b)
            for (int t = 0; t < 8; ++t) {
                const bool one = (b >> t) & 1;
                negate[b][t] = one ? 0u : 0x80000000u;
                keep[b][t] = one ? 0xFFFFFFFFu : 0u;
            }
    }
};
constexpr Tables kTables;

float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__m256 table(const std::uint32_t (*t)[8], std::uint8_t b)
{
    return _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(t[b])));
}

} // namespace

float planeRowAvx2(const PlaneRow& r, const float* xs, const float* x, int m, int group)
{
    float acc = 0.0f;
    for (int j0 = 0, g = 0; j0 < m; j0 += group, ++g) {
        const int j1 = j0 + group < m ? j0 + group : m;
        __m256 s1 = _mm256_setzero_ps(), s0 = _mm256_setzero_ps();
        int j = j0;
        for (; j + 8 <= j1; j += 8) {
            const std::uint8_t sb = r.signs[j / 8];
            __m256 v = _mm256_xor_ps(_mm256_loadu_ps(xs + j), table(kTables.negate, sb));
            if (r.mask) {
                const __m256 keep = table(kTables.keep, r.mask[j / 8]);
                v = _mm256_and_ps(v, keep);
                if (r.mean)
                    s0 = _mm256_add_ps(s0, _mm256_and_ps(_mm256_loadu_ps(x + j), keep));
            } else if (r.mean) {
                s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + j));
            }
            s1 = _mm256_add_ps(s1, v);
        }
        float t1 = hsum(s1), t0 = hsum(s0);
        for (; j < j1; ++j) { // the row's tail (m not a multiple of 8)
            if (r.mask && !((r.mask[j / 8] >> (j % 8)) & 1))
                continue;
            t1 += ((r.signs[j / 8] >> (j % 8)) & 1) ? xs[j] : -xs[j];
            t0 += x[j];
        }
        acc += r.scale[g] * t1;
        if (r.mean)
            acc += r.mean[g] * t0;
    }
    return acc;
}

float codeRowAvx2(const std::uint8_t* q, const float* scale, const float* zero, const float* x, int m, int group)
{
    float acc = 0.0f;
    for (int j0 = 0, g = 0; j0 < m; j0 += group, ++g) {
        const int j1 = j0 + group < m ? j0 + group : m;
        __m256 sq = _mm256_setzero_ps(), sx = _mm256_setzero_ps();
        int j = j0;
        for (; j + 8 <= j1; j += 8) {
            const __m256i q32 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j)));
            const __m256 xv = _mm256_loadu_ps(x + j);
            sq = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q32), xv, sq);
            sx = _mm256_add_ps(sx, xv);
        }
        float tq = hsum(sq), tx = hsum(sx);
        for (; j < j1; ++j) {
            tq += static_cast<float>(q[j]) * x[j];
            tx += x[j];
        }
        acc += scale[g] * (tq - zero[g] * tx);
    }
    return acc;
}

} // namespace bq::kernels
