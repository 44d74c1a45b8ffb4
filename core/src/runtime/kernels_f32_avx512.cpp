// AVX-512 fp32 kernels. One 16-lane accumulator per (row, token); the K tail is a masked load, so each output
// is the same lane-wise sum whatever tile it is computed in (matmul == repeated matvec, bit for bit).
#include <immintrin.h>
#include <cstddef>

// GCC 12's AVX-512 headers build their don't-care operands from self-initialised variables, which
// -Wuninitialized reports at every inlined call site (GCC bug 105593); the code here never reads them.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bq::kernels::detail {

namespace {

inline __m512 maskedLoad(__mmask16 mask, const float* p)
{
    return _mm512_mask_loadu_ps(_mm512_setzero_ps(), mask, p);
}

// A fixed reduction tree, the same for every tile.
inline float hsum(__m512 v)
{
    const __m512 hi = _mm512_shuffle_f32x4(v, v, 0xEE);
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(hi));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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
            w[r] = maskedLoad(mask, W + r * ldw + k);
        for (int t = 0; t < TT; ++t) {
            const __m512 x = maskedLoad(mask, X + t * ldx + k);
            for (int r = 0; r < R; ++r)
                acc[t][r] = _mm512_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            Y[t * ldy + r] = hsum(acc[t][r]);
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


// One K-panel [k0, k1) of a 4-row × 4-token tile; the 16-lane partial sums live in `acc` between panels, so
// every lane still accumulates k in increasing order (the same sum as tile<>). k1 < K only at multiples of 16.
inline void panel4x4(const float* W, std::size_t ldw, const float* X, std::size_t ldx, int k0, int k1, int K,
                     __m512* accBuf, bool first, bool last, float* Y, std::size_t ldy)
{
    __m512 acc[4][4];
    for (int t = 0; t < 4; ++t)
        for (int r = 0; r < 4; ++r)
            acc[t][r] = first ? _mm512_setzero_ps() : accBuf[t * 4 + r];
    int k = k0;
    for (; k + 16 <= k1; k += 16) {
        __m512 w[4];
        for (int r = 0; r < 4; ++r)
            w[r] = _mm512_loadu_ps(W + r * ldw + k);
        for (int t = 0; t < 4; ++t) {
            const __m512 x = _mm512_loadu_ps(X + t * ldx + k);
            for (int r = 0; r < 4; ++r)
                acc[t][r] = _mm512_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    if (k < k1) { // only in the last panel
        const auto mask = static_cast<__mmask16>((1u << (K - k)) - 1u);
        __m512 w[4];
        for (int r = 0; r < 4; ++r)
            w[r] = maskedLoad(mask, W + r * ldw + k);
        for (int t = 0; t < 4; ++t) {
            const __m512 x = maskedLoad(mask, X + t * ldx + k);
            for (int r = 0; r < 4; ++r)
                acc[t][r] = _mm512_fmadd_ps(w[r], x, acc[t][r]);
        }
    }
    if (last) {
        for (int t = 0; t < 4; ++t)
            for (int r = 0; r < 4; ++r)
                Y[t * ldy + r] = hsum(acc[t][r]);
    } else {
        for (int t = 0; t < 4; ++t)
            for (int r = 0; r < 4; ++r)
                accBuf[t * 4 + r] = acc[t][r];
    }
}

} // namespace

void matmulRowsAvx512(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    // Token blocks × K-panels: a 4-row weight panel (8 KB) stays in L1 while every 4-token group of the block
    // streams past it; the partial sums of the block wait in accBuf (64 tokens × 4 rows × 64 B = 16 KB).
    constexpr int kPanel = 512, kTokenBlock = 64;
    alignas(64) static thread_local __m512 accBuf[kTokenBlock / 4][16];
    const int fullT = T / 4 * 4;
    for (int t0 = 0; t0 < fullT; t0 += kTokenBlock) {
        const int tb = fullT - t0 < kTokenBlock ? fullT - t0 : kTokenBlock;
        std::size_t n = rowBegin;
        for (; n + 4 <= rowEnd; n += 4) {
            for (int k0 = 0; k0 < K; k0 += kPanel) {
                const int k1 = K - k0 <= kPanel ? K : k0 + kPanel;
                for (int g = 0; g < tb / 4; ++g) {
                    const int t = t0 + 4 * g;
                    panel4x4(W + n * ldw, ldw, X + t * ldx, ldx, k0, k1, K, accBuf[g], k0 == 0, k1 == K,
                             Y + t * ldy + n, ldy);
                }
            }
        }
        for (; n < rowEnd; ++n)
            rowTile<1>(W + n * ldw, K, X + t0 * ldx, ldx, tb, Y + t0 * ldy + n, ldy);
    }
    // Leftover tokens (T mod 4): one at a time.
    if (fullT < T) {
        std::size_t n = rowBegin;
        for (; n + 4 <= rowEnd; n += 4)
            rowTile<4>(W + n * ldw, K, X + fullT * ldx, ldx, T - fullT, Y + fullT * ldy + n, ldy);
        for (; n < rowEnd; ++n)
            rowTile<1>(W + n * ldw, K, X + fullT * ldx, ldx, T - fullT, Y + fullT * ldy + n, ldy);
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
        const __m512 r = _mm512_fmadd_ps(va, maskedLoad(mask, x + i), maskedLoad(mask, y + i));
        _mm512_mask_storeu_ps(y + i, mask, r);
    }
}

void dotRowsAvx512(const float* q, const float* rows, std::size_t stride, int count, int n, float* out)
{
    for (int j = 0; j < count; ++j)
        tile<1, 1>(q, n, rows + static_cast<std::size_t>(j) * stride, 0, out + j, 0);
}

// The running sum stays in a register across rows; per element the same FMA sequence as axpyAvx512 per row.
void axpyRowsAvx512(const float* s, const float* rows, std::size_t stride, int count, float* y, int n)
{
    for (int i = 0; i < n; i += 16) {
        const auto mask = static_cast<__mmask16>(n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1u);
        __m512 acc = maskedLoad(mask, y + i);
        for (int j = 0; j < count; ++j)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(s[j]), maskedLoad(mask, rows + static_cast<std::size_t>(j) * stride + i), acc);
        _mm512_mask_storeu_ps(y + i, mask, acc);
    }
}

} // namespace bq::kernels::detail
