// AVX2/FMA fp32 kernels. One 8-lane accumulator per (row, token); the K tail is a masked load, so each output
// is the same lane-wise sum whatever tile it is computed in (matmul == repeated matvec, bit for bit).
#include <immintrin.h>
#include <cstddef>
#include <cmath>
#include <cstdint>

namespace bq::kernels::detail {

namespace {

inline __m256i tailMask(int count)
{
    alignas(32) static const std::int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - count));
}

inline float hsum(__m256 v)
{
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// R rows × TT tokens register tile (16 ymm registers: TT·R + R + 1 ≤ 16).
template <int R, int TT>
inline void tile(const float* W, int K, const float* X, std::size_t ldx, float* Y, std::size_t ldy)
{
    __m256 acc[TT][R];
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            acc[t][r] = _mm256_setzero_ps();
    const auto ldw = static_cast<std::size_t>(K);
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 w[R];
        for (int r = 0; r < R; ++r)
            w[r] = _mm256_loadu_ps(W + r * ldw + k);
        for (int t = 0; t < TT; ++t) {
            const __m256 x = _mm256_loadu_ps(X + t * ldx + k);
            for (int r = 0; r < R; ++r)
                acc[t][r] = _mm256_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    if (k < K) {
        const __m256i mask = tailMask(K - k);
        __m256 w[R];
        for (int r = 0; r < R; ++r)
            w[r] = _mm256_maskload_ps(W + r * ldw + k, mask);
        for (int t = 0; t < TT; ++t) {
            const __m256 x = _mm256_maskload_ps(X + t * ldx + k, mask);
            for (int r = 0; r < R; ++r)
                acc[t][r] = _mm256_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            Y[t * ldy + r] = hsum(acc[t][r]);
}

template <int R>
inline void rowTile(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy)
{
    int t = 0;
    for (; t + 3 <= T; t += 3)
        tile<R, 3>(W, K, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; t < T; ++t)
        tile<R, 1>(W, K, X + t * ldx, ldx, Y + t * ldy, ldy);
}

} // namespace

void matmulRowsAvx2(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                    std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    const int tokenBlock = K > 4096 ? 15 : 30;
    for (int t0 = 0; t0 < T; t0 += tokenBlock) {
        const int tb = T - t0 < tokenBlock ? T - t0 : tokenBlock;
        const float* Xb = X + t0 * ldx;
        float* Yb = Y + t0 * ldy;
        std::size_t n = rowBegin;
        for (; n + 3 <= rowEnd; n += 3)
            rowTile<3>(W + n * ldw, K, Xb, ldx, tb, Yb + n, ldy);
        for (; n < rowEnd; ++n)
            rowTile<1>(W + n * ldw, K, Xb, ldx, tb, Yb + n, ldy);
    }
}

void matvecRowsAvx2(const float* W, int K, const float* x, float* y, std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    std::size_t n = rowBegin;
    for (; n + 4 <= rowEnd; n += 4)
        tile<4, 1>(W + n * ldw, K, x, 0, y + n, 0);
    for (; n < rowEnd; ++n)
        tile<1, 1>(W + n * ldw, K, x, 0, y + n, 0);
}

float dotAvx2(const float* a, const float* b, int n)
{
    float y;
    tile<1, 1>(a, n, b, 0, &y, 0);
    return y;
}

void axpyAvx2(float a, const float* x, float* y, int n)
{
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i)
        y[i] = std::fma(a, x[i], y[i]);
}

void dotRowsAvx2(const float* q, const float* rows, std::size_t stride, int count, int n, float* out)
{
    for (int j = 0; j < count; ++j)
        tile<1, 1>(q, n, rows + static_cast<std::size_t>(j) * stride, 0, out + j, 0);
}

// The running sum stays in a register across rows; per element the same FMA sequence as axpyAvx2 per row.
void axpyRowsAvx2(const float* s, const float* rows, std::size_t stride, int count, float* y, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 acc = _mm256_loadu_ps(y + i);
        for (int j = 0; j < count; ++j)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(s[j]), _mm256_loadu_ps(rows + static_cast<std::size_t>(j) * stride + i), acc);
        _mm256_storeu_ps(y + i, acc);
    }
    for (; i < n; ++i)
        for (int j = 0; j < count; ++j)
            y[i] = std::fma(s[j], rows[static_cast<std::size_t>(j) * stride + static_cast<std::size_t>(i)], y[i]);
}

} // namespace bq::kernels::detail
