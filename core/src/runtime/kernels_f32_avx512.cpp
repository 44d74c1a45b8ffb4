// AVX-512 fp32 kernels. One 16-lane accumulator per (row, token); the K tail is a masked load, so each output
// is the same lane-wise sum whatever tile it is computed in (matmul == repeated matvec, bit for bit).
#include <immintrin.h>
#include <cstddef>
#include <cstring>

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

// Keeps a loaded vector in a register: GCC otherwise folds the load into every FMA that uses it, which turns
// one load per vector into one per FMA and makes the tile load-bound.
inline __m512 inRegister(__m512 v)
{
    asm("" : "+v"(v));
    return v;
}

// One K-panel of `len` columns of an R-row × TT-token tile; W and X point at the panel's first column. Between
// panels the 16-lane partial sums wait in `buf`, so every lane still accumulates k in increasing order (the same
// sum as tile<>). Panels start at multiples of 16, so only the last one can end in a masked tail.
template <int R, int TT>
inline void panelTile(const float* W, std::size_t ldw, const float* X, std::size_t ldx, int len, __m512* buf,
                      bool first, bool last, float* Y, std::size_t ldy)
{
    __m512 acc[TT][R];
    for (int t = 0; t < TT; ++t)
        for (int r = 0; r < R; ++r)
            acc[t][r] = first ? _mm512_setzero_ps() : buf[t * R + r];
    int k = 0;
    for (; k + 16 <= len; k += 16) {
        __m512 x[TT];
        for (int t = 0; t < TT; ++t)
            x[t] = inRegister(_mm512_loadu_ps(X + t * ldx + k));
        for (int r = 0; r < R; ++r) {
            const __m512 w = inRegister(_mm512_loadu_ps(W + r * ldw + k));
            for (int t = 0; t < TT; ++t)
                acc[t][r] = _mm512_fmadd_ps(w, x[t], acc[t][r]);
        }
    }
    if (k < len) {
        const auto mask = static_cast<__mmask16>((1u << (len - k)) - 1u);
        __m512 x[TT];
        for (int t = 0; t < TT; ++t)
            x[t] = maskedLoad(mask, X + t * ldx + k);
        for (int r = 0; r < R; ++r) {
            const __m512 w = maskedLoad(mask, W + r * ldw + k);
            for (int t = 0; t < TT; ++t)
                acc[t][r] = _mm512_fmadd_ps(w, x[t], acc[t][r]);
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

// Blocking of matmulRowsAvx512: an 8-row weight strip stays in L1 while every token of a block of kTokenBlock
// streams past it from L2, three at a time (8 × 3 accumulators load 11 vectors per 24 FMAs, 3 of them from L2).
// Up to kWholeK columns the strip (≤ 32 KB) is read in place; wider matrices go in kPanel-column panels copied to
// a contiguous buffer, because their rows are 4 KB-aliased and would evict each other from L1.
constexpr int kTokenBlock = 96, kWholeK = 1024, kPanel = 512;

// Rows [0, R) of W (row stride ldw) against one token block, panel by panel.
template <int R>
inline void stripBlock(const float* W, std::size_t ldw, int K, const float* X, std::size_t ldx, int tb, float* Y,
                       std::size_t ldy, float* pack, __m512* buf)
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

// hsum of 16 vectors at once: lane L of the result is hsum(v[L]), through the very same tree of additions
// (lanes i + 8, then i + 4, i + 2, i + 1), with 15 adds and 30 shuffles instead of 16 × 8 operations.
inline __m512 hsum16(const __m512 (&v)[16])
{
    // The pairs are laid out so the result lanes come out in order: lane 4q + m comes from in[4m + q].
    __m512 in[16];
    for (int i = 0; i < 16; ++i)
        in[i] = v[(i % 4) * 4 + i / 4];
    __m512 c[8], e[4], g[2];
    for (int p = 0; p < 8; ++p) // [a | b] halves: a[i] + a[i + 8], b[i] + b[i + 8]
        c[p] = _mm512_add_ps(_mm512_shuffle_f32x4(in[2 * p], in[2 * p + 1], 0x44),
                             _mm512_shuffle_f32x4(in[2 * p], in[2 * p + 1], 0xEE));
    for (int r = 0; r < 4; ++r) // quarters: s[i] + s[i + 4]
        e[r] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * r], c[2 * r + 1], 0x88),
                             _mm512_shuffle_f32x4(c[2 * r], c[2 * r + 1], 0xDD));
    for (int u = 0; u < 2; ++u) { // pairs within a quarter: s[i] + s[i + 2]
        const __m512d a = _mm512_castps_pd(e[2 * u]), b = _mm512_castps_pd(e[2 * u + 1]);
        g[u] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    // s[0] + s[1]
    return _mm512_add_ps(_mm512_shuffle_ps(g[0], g[1], 0x88), _mm512_shuffle_ps(g[0], g[1], 0xDD));
}

// Scores of QT queries against 16 / QT consecutive cached rows (QT = 1 or 2), each the sum of tile<1, 1>.
template <int QT>
inline void scoreTile(const float* q, std::size_t ldq, const float* rows, std::size_t stride, int n, float* out,
                      std::size_t ldo)
{
    constexpr int RJ = 16 / QT;
    __m512 acc[16];
    for (auto& a : acc)
        a = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 x[QT];
        for (int i = 0; i < QT; ++i)
            x[i] = inRegister(_mm512_loadu_ps(q + i * ldq + k));
        for (int j = 0; j < RJ; ++j) {
            const __m512 r = inRegister(_mm512_loadu_ps(rows + j * stride + k));
            for (int i = 0; i < QT; ++i)
                acc[i * RJ + j] = _mm512_fmadd_ps(x[i], r, acc[i * RJ + j]);
        }
    }
    if (k < n) {
        const auto mask = static_cast<__mmask16>((1u << (n - k)) - 1u);
        __m512 x[QT];
        for (int i = 0; i < QT; ++i)
            x[i] = maskedLoad(mask, q + i * ldq + k);
        for (int j = 0; j < RJ; ++j) {
            const __m512 r = maskedLoad(mask, rows + j * stride + k);
            for (int i = 0; i < QT; ++i)
                acc[i * RJ + j] = _mm512_fmadd_ps(x[i], r, acc[i * RJ + j]);
        }
    }
    const __m512 sums = hsum16(acc);
    if (QT == 1) {
        _mm512_storeu_ps(out, sums);
    } else {
        _mm256_storeu_ps(out, _mm512_castps512_ps256(sums));
        _mm256_storeu_ps(out + ldo, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sums), 1)));
    }
}

// y_i += Σ_j s_i[j]·row_j over rows [0, count) for QT queries and the NC 16-lane chunks from column c0: one
// running sum per element, j in order, the same FMA sequence as axpyRowsAvx512.
template <int QT, int NC>
inline void valueTile(const float* s, std::size_t lds, const float* rows, std::size_t stride, int count, float* y,
                      std::size_t ldy, int c0, int n)
{
    __mmask16 mask[NC];
    __m512 acc[QT][NC];
    for (int c = 0; c < NC; ++c) {
        const int left = n - c0 - 16 * c;
        mask[c] = static_cast<__mmask16>(left >= 16 ? 0xffffu : (1u << left) - 1u);
        for (int i = 0; i < QT; ++i)
            acc[i][c] = maskedLoad(mask[c], y + i * ldy + c0 + 16 * c);
    }
    for (int j = 0; j < count; ++j) {
        const float* row = rows + static_cast<std::size_t>(j) * stride + c0;
        __m512 r[NC];
        for (int c = 0; c < NC; ++c)
            r[c] = inRegister(maskedLoad(mask[c], row + 16 * c));
        for (int i = 0; i < QT; ++i) {
            const __m512 b = _mm512_set1_ps(s[i * lds + static_cast<std::size_t>(j)]);
            for (int c = 0; c < NC; ++c)
                acc[i][c] = _mm512_fmadd_ps(b, r[c], acc[i][c]);
        }
    }
    for (int c = 0; c < NC; ++c)
        for (int i = 0; i < QT; ++i)
            _mm512_mask_storeu_ps(y + i * ldy + c0 + 16 * c, mask[c], acc[i][c]);
}

template <int QT>
inline void valueTiles(const float* s, std::size_t lds, const float* rows, std::size_t stride, int count, float* y,
                       std::size_t ldy, int n)
{
    int c0 = 0;
    for (; c0 + 64 <= n; c0 += 64)
        valueTile<QT, 4>(s, lds, rows, stride, count, y, ldy, c0, n);
    switch ((n - c0 + 15) / 16) {
    case 3: valueTile<QT, 3>(s, lds, rows, stride, count, y, ldy, c0, n); break;
    case 2: valueTile<QT, 2>(s, lds, rows, stride, count, y, ldy, c0, n); break;
    case 1: valueTile<QT, 1>(s, lds, rows, stride, count, y, ldy, c0, n); break;
    default: break;
    }
}

} // namespace

void matmulRowsAvx512(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd)
{
    const auto ldw = static_cast<std::size_t>(K);
    alignas(64) static thread_local float pack[8 * kPanel];
    alignas(64) static thread_local __m512 buf[kTokenBlock * 8]; // partial sums between panels
    for (int t0 = 0; t0 < T; t0 += kTokenBlock) {
        const int tb = T - t0 < kTokenBlock ? T - t0 : kTokenBlock;
        const float* Xb = X + t0 * ldx;
        float* Yb = Y + t0 * ldy;
        std::size_t n = rowBegin;
        for (; n + 8 <= rowEnd; n += 8)
            stripBlock<8>(W + n * ldw, ldw, K, Xb, ldx, tb, Yb + n, ldy, pack, buf);
        for (; n + 4 <= rowEnd; n += 4)
            stripBlock<4>(W + n * ldw, ldw, K, Xb, ldx, tb, Yb + n, ldy, pack, buf);
        for (; n < rowEnd; ++n)
            stripBlock<1>(W + n * ldw, ldw, K, Xb, ldx, tb, Yb + n, ldy, pack, buf);
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

void dotRowsCausalAvx512(const float* q, std::size_t ldq, int m, const float* rows, std::size_t stride, int count0,
                         int n, float* out, std::size_t ldo)
{
    // Query pairs share 8-row tiles up to the first one's count; the rest one query at a time.
    int i = 0;
    for (; i + 2 <= m; i += 2) {
        const float* qi = q + i * ldq;
        float* oi = out + i * ldo;
        const int common = count0 + i;
        int j = 0;
        for (; j + 8 <= common; j += 8)
            scoreTile<2>(qi, ldq, rows + j * stride, stride, n, oi + j, ldo);
        for (int t = 0; t < 2; ++t)
            dotRowsAvx512(qi + t * ldq, rows + j * stride, stride, common + t - j, n, oi + t * ldo + j);
    }
    for (; i < m; ++i) {
        const int count = count0 + i;
        int j = 0;
        for (; j + 16 <= count; j += 16)
            scoreTile<1>(q + i * ldq, ldq, rows + j * stride, stride, n, out + i * ldo + j, ldo);
        dotRowsAvx512(q + i * ldq, rows + j * stride, stride, count - j, n, out + i * ldo + j);
    }
}

void axpyRowsCausalAvx512(const float* s, std::size_t lds, int m, const float* rows, std::size_t stride,
                          int count0, float* y, std::size_t ldy, int n)
{
    // Four queries share the rows up to the first one's count; each then continues its own sums alone.
    int i = 0;
    for (; i + 4 <= m; i += 4) {
        const int common = count0 + i;
        valueTiles<4>(s + i * lds, lds, rows, stride, common, y + i * ldy, ldy, n);
        for (int t = 0; t < 4; ++t)
            axpyRowsAvx512(s + (i + t) * lds + common, rows + common * stride, stride, t, y + (i + t) * ldy, n);
    }
    for (; i < m; ++i)
        valueTiles<1>(s + i * lds, lds, rows, stride, count0 + i, y + i * ldy, ldy, n);
}

} // namespace bq::kernels::detail
