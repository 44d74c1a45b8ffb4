// AVX2/FMA fp32 kernels. One 8-lane accumulator per (row, token); the K tail is a masked load, so each output
// is the same lane-wise sum whatever tile it is computed in (matmul == repeated matvec, bit for bit).
#include <immintrin.h>
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <cstring>

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

// Keeps a loaded vector in a register: GCC otherwise folds the load into every FMA that uses it.
inline __m256 inRegister(__m256 v)
{
    asm("" : "+x"(v));
    return v;
}

// hsum of 8 vectors at once: lane L of the result is hsum(v[L]), through the very same tree of additions
// (lanes i + 4, then i + 2, i + 1), with 7 adds and 14 shuffles instead of 8 × 6 operations.
inline __m256 hsum8(const __m256 (&v)[8])
{
    // The pairs are laid out so the result lanes come out in order: lane 4h + m comes from in[2m + h].
    __m256 in[8];
    for (int i = 0; i < 8; ++i)
        in[i] = v[(i % 2) * 4 + i / 2];
    __m256 c[4], e[2];
    for (int p = 0; p < 4; ++p) // [a | b] halves: a[i] + a[i + 4], b[i] + b[i + 4]
        c[p] = _mm256_add_ps(_mm256_permute2f128_ps(in[2 * p], in[2 * p + 1], 0x20),
                             _mm256_permute2f128_ps(in[2 * p], in[2 * p + 1], 0x31));
    for (int u = 0; u < 2; ++u) { // pairs within a half: s[i] + s[i + 2]
        const __m256d a = _mm256_castps_pd(c[2 * u]), b = _mm256_castps_pd(c[2 * u + 1]);
        e[u] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(a, b)), _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)));
    }
    // s[0] + s[1]
    return _mm256_add_ps(_mm256_shuffle_ps(e[0], e[1], 0x88), _mm256_shuffle_ps(e[0], e[1], 0xDD));
}

// Scores of QT queries against 8 / QT consecutive cached rows (QT = 1 or 2), each the sum of tile<1, 1>.
template <int QT>
inline void scoreTile(const float* q, std::size_t ldq, const float* rows, std::size_t stride, int n, float* out,
                      std::size_t ldo)
{
    constexpr int RJ = 8 / QT;
    __m256 acc[8];
    for (auto& a : acc)
        a = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 x[QT];
        for (int i = 0; i < QT; ++i)
            x[i] = inRegister(_mm256_loadu_ps(q + i * ldq + k));
        for (int j = 0; j < RJ; ++j) {
            const __m256 r = inRegister(_mm256_loadu_ps(rows + j * stride + k));
            for (int i = 0; i < QT; ++i)
                acc[i * RJ + j] = _mm256_fmadd_ps(x[i], r, acc[i * RJ + j]);
        }
    }
    if (k < n) {
        const __m256i mask = tailMask(n - k);
        __m256 x[QT];
        for (int i = 0; i < QT; ++i)
            x[i] = _mm256_maskload_ps(q + i * ldq + k, mask);
        for (int j = 0; j < RJ; ++j) {
            const __m256 r = _mm256_maskload_ps(rows + j * stride + k, mask);
            for (int i = 0; i < QT; ++i)
                acc[i * RJ + j] = _mm256_fmadd_ps(x[i], r, acc[i * RJ + j]);
        }
    }
    const __m256 sums = hsum8(acc);
    if (QT == 1) {
        _mm256_storeu_ps(out, sums);
    } else {
        _mm_storeu_ps(out, _mm256_castps256_ps128(sums));
        _mm_storeu_ps(out + ldo, _mm256_extractf128_ps(sums, 1));
    }
}

// y_i += Σ_j s_i[j]·row_j over rows [0, count) for QT queries and the NC 8-lane chunks from column c0: one running
// sum per element, j in order, the same FMA sequence as axpyRowsAvx2.
template <int QT, int NC>
inline void valueTile(const float* s, std::size_t lds, const float* rows, std::size_t stride, int count, float* y,
                      std::size_t ldy, int c0)
{
    __m256 acc[QT][NC];
    for (int i = 0; i < QT; ++i)
        for (int c = 0; c < NC; ++c)
            acc[i][c] = _mm256_loadu_ps(y + i * ldy + c0 + 8 * c);
    for (int j = 0; j < count; ++j) {
        const float* row = rows + static_cast<std::size_t>(j) * stride + c0;
        for (int c = 0; c < NC; ++c) {
            const __m256 r = inRegister(_mm256_loadu_ps(row + 8 * c));
            for (int i = 0; i < QT; ++i)
                acc[i][c] = _mm256_fmadd_ps(_mm256_set1_ps(s[i * lds + static_cast<std::size_t>(j)]), r, acc[i][c]);
        }
    }
    for (int i = 0; i < QT; ++i)
        for (int c = 0; c < NC; ++c)
            _mm256_storeu_ps(y + i * ldy + c0 + 8 * c, acc[i][c]);
}

// The full 8-lane chunks of QT queries; the n mod 8 tail elements as axpyRowsAvx2 does them.
template <int QT>
inline void valueTiles(const float* s, std::size_t lds, const float* rows, std::size_t stride, int count, float* y,
                       std::size_t ldy, int n)
{
    int c0 = 0;
    for (; c0 + 32 <= n; c0 += 32)
        valueTile<QT, 4>(s, lds, rows, stride, count, y, ldy, c0);
    switch ((n - c0) / 8) {
    case 3: valueTile<QT, 3>(s, lds, rows, stride, count, y, ldy, c0); break;
    case 2: valueTile<QT, 2>(s, lds, rows, stride, count, y, ldy, c0); break;
    case 1: valueTile<QT, 1>(s, lds, rows, stride, count, y, ldy, c0); break;
    default: break;
    }
    for (int i = 0; i < QT; ++i)
        for (int e = n / 8 * 8; e < n; ++e) {
            float& out = y[static_cast<std::size_t>(i) * ldy + static_cast<std::size_t>(e)];
            for (int j = 0; j < count; ++j)
                out = std::fma(s[static_cast<std::size_t>(i) * lds + static_cast<std::size_t>(j)],
                               rows[static_cast<std::size_t>(j) * stride + static_cast<std::size_t>(e)], out);
        }
}

// One K-panel of `len` columns of an R-row × TT-token tile (R·TT + TT + 1 ≤ 16 registers); W and X point at the
// panel's first column. Between panels the 8-lane partial sums wait in `buf`, so every lane still accumulates k
// in increasing order (the same sum as tile<>). Panels start at multiples of 8: only the last has a masked tail.
template <int R, int TT>
inline void panelTile(const float* W, std::size_t ldw, const float* X, std::size_t ldx, int len, __m256* buf,
                      bool first, bool last, float* Y, std::size_t ldy)
{
    __m256 acc[TT][R];
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            acc[t][r] = first ? _mm256_setzero_ps() : buf[t * R + r];
    int k = 0;
    for (; k + 8 <= len; k += 8) {
        __m256 x[TT];
        for (int t = 0; t < TT; ++t)
            x[t] = inRegister(_mm256_loadu_ps(X + t * ldx + k));
        for (int r = 0; r < R; ++r) {
            const __m256 w = inRegister(_mm256_loadu_ps(W + r * ldw + k));
            for (int t = 0; t < TT; ++t)
                acc[t][r] = _mm256_fmadd_ps(w, x[t], acc[t][r]);
        }
    }
    if (k < len) {
        const __m256i mask = tailMask(len - k);
        __m256 x[TT];
        for (int t = 0; t < TT; ++t)
            x[t] = _mm256_maskload_ps(X + t * ldx + k, mask);
        for (int r = 0; r < R; ++r) {
            const __m256 w = _mm256_maskload_ps(W + r * ldw + k, mask);
            for (int t = 0; t < TT; ++t)
                acc[t][r] = _mm256_fmadd_ps(w, x[t], acc[t][r]);
        }
    }
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r) {
            if (last)
                Y[t * ldy + r] = hsum(acc[t][r]);
            else
                buf[t * R + r] = acc[t][r];
        }
}

// Blocking of matmulRowsAvx2: a 4-row weight strip stays in L1 while every token of a block of kTokenBlock
// streams past it from L2, three at a time (4 × 3 accumulators load 7 vectors per 12 FMAs). Up to kWholeK
// columns the strip is read in place; wider matrices go in kPanel-column panels copied to a contiguous buffer
// (their rows are 4 KB-aliased), so the token block, and with it the weights' reuse, stays large.
constexpr int kTokenBlock = 96, kWholeK = 1024, kPanel = 512;

template <int R>
inline void stripBlock(const float* W, std::size_t ldw, int K, const float* X, std::size_t ldx, int tb, float* Y,
                       std::size_t ldy, float* pack, __m256* buf)
{
    const int kc = K <= kWholeK ? K : kPanel;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int len = K - k0 < kc ? K - k0 : kc;
        const float* Wp = W + k0;
        std::size_t ldp = ldw;
        if (kc < K) {
            for (int r = 0; r < R; ++r)
                std::memcpy(pack + r * kPanel, W + r * ldw + k0, static_cast<std::size_t>(len) * sizeof(float));
            Wp = pack;
            ldp = kPanel;
        }
        const bool first = k0 == 0, last = k0 + len == K;
        const float* Xp = X + k0;
        int t = 0;
        for (; t + 3 <= tb; t += 3)
            panelTile<R, 3>(Wp, ldp, Xp + t * ldx, ldx, len, buf + t * R, first, last, Y + t * ldy, ldy);
        for (; t < tb; ++t)
            panelTile<R, 1>(Wp, ldp, Xp + t * ldx, ldx, len, buf + t * R, first, last, Y + t * ldy, ldy);
    }
}

} // namespace

void matmulRowsAvx2(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                    std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    alignas(32) static thread_local float pack[4 * kPanel];
    alignas(32) static thread_local __m256 buf[kTokenBlock * 4]; // partial sums between panels
    for (int t0 = 0; t0 < T; t0 += kTokenBlock) {
        const int tb = T - t0 < kTokenBlock ? T - t0 : kTokenBlock;
        const float* Xb = X + t0 * ldx;
        float* Yb = Y + t0 * ldy;
        std::size_t n = rowBegin;
        for (; n + 4 <= rowEnd; n += 4)
            stripBlock<4>(W + n * ldw, ldw, K, Xb, ldx, tb, Yb + n, ldy, pack, buf);
        for (; n < rowEnd; ++n)
            stripBlock<1>(W + n * ldw, ldw, K, Xb, ldx, tb, Yb + n, ldy, pack, buf);
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

void dotRowsCausalAvx2(const float* q, std::size_t ldq, int m, const float* rows, std::size_t stride, int count0,
                       int n, float* out, std::size_t ldo)
{
    // Query pairs share 4-row tiles up to the first one's count; the rest one query at a time.
    int i = 0;
    for (; i + 2 <= m; i += 2) {
        const float* qi = q + i * ldq;
        float* oi = out + i * ldo;
        const int common = count0 + i;
        int j = 0;
        for (; j + 4 <= common; j += 4)
            scoreTile<2>(qi, ldq, rows + j * stride, stride, n, oi + j, ldo);
        for (int t = 0; t < 2; ++t)
            dotRowsAvx2(qi + t * ldq, rows + j * stride, stride, common + t - j, n, oi + t * ldo + j);
    }
    for (; i < m; ++i) {
        const int count = count0 + i;
        int j = 0;
        for (; j + 8 <= count; j += 8)
            scoreTile<1>(q + i * ldq, ldq, rows + j * stride, stride, n, out + i * ldo + j, ldo);
        dotRowsAvx2(q + i * ldq, rows + j * stride, stride, count - j, n, out + i * ldo + j);
    }
}

void axpyRowsCausalAvx2(const float* s, std::size_t lds, int m, const float* rows, std::size_t stride, int count0,
                        float* y, std::size_t ldy, int n)
{
    // Three queries share the rows up to the first one's count; each then continues its own sums alone.
    int i = 0;
    for (; i + 3 <= m; i += 3) {
        const int common = count0 + i;
        valueTiles<3>(s + i * lds, lds, rows, stride, common, y + i * ldy, ldy, n);
        for (int t = 0; t < 3; ++t)
            axpyRowsAvx2(s + (i + t) * lds + common, rows + common * stride, stride, t, y + (i + t) * ldy, n);
    }
    for (; i < m; ++i)
        valueTiles<1>(s + i * lds, lds, rows, stride, count0 + i, y + i * ldy, ldy, n);
}

} // namespace bq::kernels::detail
