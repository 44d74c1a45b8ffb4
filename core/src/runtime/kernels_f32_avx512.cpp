// AVX-512 fp32 kernels. One 16-lane accumulator per (row, token); the K tail is a masked load, so each output
// is the same lane-wise sum whatever tile it is computed in (matmul == repeated matvec, bit for bit).
#include <immintrin.h>
#include <cstddef>

namespace bq::kernels::detail {

namespace {

// R rows × TT tokens register tile: TT·R accumulators + R weight vectors + 1 activation vector.
template <int R, int TT>
inline void tile(const float* W, int K, const float* X, std::size_t ldx, float* Y, std::size_t ldy)
{
    __m512 acc[TT][R];
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            acc[t][r] = _mm512_setzero_ps();
    const auto ldw = static_cast<std::size_t>(K);
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 w[R];
        for (int r = 0; r < R; ++r)
            w[r] = _mm512_loadu_ps(W + r * ldw + k);
        for (int t = 0; t < TT; ++t) {
            const __m512 x = _mm512_loadu_ps(X + t * ldx + k);
            for (int r = 0; r < R; ++r)
                acc[t][r] = _mm512_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    if (k < K) {
        const auto mask = static_cast<__mmask16>((1u << (K - k)) - 1u);
        __m512 w[R];
        for (int r = 0; r < R; ++r)
            w[r] = _mm512_maskz_loadu_ps(mask, W + r * ldw + k);
        for (int t = 0; t < TT; ++t) {
            const __m512 x = _mm512_maskz_loadu_ps(mask, X + t * ldx + k);
            for (int r = 0; r < R; ++r)
                acc[t][r] = _mm512_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            Y[t * ldy + r] = _mm512_reduce_add_ps(acc[t][r]);
}

// Token groups of TT for a tile of R rows.
template <int R>
inline void rowTile(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy)
{
    int t = 0;
    for (; t + 4 <= T; t += 4)
        tile<R, 4>(W, K, X + t * ldx, ldx, Y + t * ldy, ldy);
    for (; t < T; ++t)
        tile<R, 1>(W, K, X + t * ldx, ldx, Y + t * ldy, ldy);
}

} // namespace

void matmulRowsAvx512(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    // Token blocks keep the activation panel cache-resident while each 4-row weight tile is reused.
    const int tokenBlock = K > 4096 ? 16 : 32;
    for (int t0 = 0; t0 < T; t0 += tokenBlock) {
        const int tb = T - t0 < tokenBlock ? T - t0 : tokenBlock;
        const float* Xb = X + t0 * ldx;
        float* Yb = Y + t0 * ldy;
        std::size_t n = rowBegin;
        for (; n + 4 <= rowEnd; n += 4)
            rowTile<4>(W + n * ldw, K, Xb, ldx, tb, Yb + n, ldy);
        for (; n < rowEnd; ++n)
            rowTile<1>(W + n * ldw, K, Xb, ldx, tb, Yb + n, ldy);
    }
}

void matvecRowsAvx512(const float* W, int K, const float* x, float* y, std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    std::size_t n = rowBegin;
    for (; n + 8 <= rowEnd; n += 8)
        tile<8, 1>(W + n * ldw, K, x, 0, y + n, 0);
    for (; n < rowEnd; ++n)
        tile<1, 1>(W + n * ldw, K, x, 0, y + n, 0);
}

float dotAvx512(const float* a, const float* b, int n)
{
    float y;
    tile<1, 1>(a, n, b, 0, &y, 0);
    return y;
}

void axpyAvx512(float a, const float* x, float* y, int n)
{
    const __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
        const __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mask, x + i), _mm512_maskz_loadu_ps(mask, y + i));
        _mm512_mask_storeu_ps(y + i, mask, r);
    }
}

} // namespace bq::kernels::detail
