// Q4_0 / Q8_0 kernels (32-weight blocks) shared by kernels_q_avx2.cpp and kernels_q_avx512.cpp, 256-bit. The
// including file defines, before including kernels_q_ymm.inl and this file:
//   inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s);  // acc += Σ of 4 adjacent u8·s8 products
//   constexpr bool kVnni;                                         // dotU8S8 is vpdpbusd (no int16 step)
//
// One fp32 order per output, GEMV and GEMM alike: block b's exact integer sum S_b is added as
// acc[b % 8] = fma(float(S_b), d_w·d_x, acc[b % 8]) in block order, then y = ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
// The GEMV (one token) streams one weight row at a time: 8 blocks' partial-sum vectors are reduced into one vector
// of 8 block sums (a vphaddd tree), so one conversion and one FMA serve 8 blocks. The GEMM (several tokens) puts 8
// tokens in the lanes instead: the activations are transposed once per call (4 consecutive int8 of one token per
// 32-bit lane), 4 weights are broadcast to all lanes, and one vpmaddubsw / vpdpbusd serves 8 tokens with no
// horizontal sums; a tile of 4 rows × 16 tokens reuses each broadcast for 2 token vectors and each activation
// vector for 4 rows, and the weights of 4 rows are unpacked once per 64 tokens. The same fp32 operations in the
// same order, so a GEMM over T tokens equals T GEMVs bit for bit and no result depends on the row split.
#pragma once
#include "bq/runtime/kernels_q.h"
#include <algorithm>
#include <cstring>
#include <immintrin.h>
#include <vector>

namespace bq::kernels::detail {
namespace {

template <DType TYPE>
constexpr int kBlockBytes = TYPE == DType::Q4_0 ? 18 : 34;

inline std::uint16_t loadU16(const std::byte* p)
{
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    return h;
}

inline __m256i broadcast32(const void* p)
{
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Lane j = the sum of the 8 lanes of p[j] (exact int32 adds, any tree).
inline __m256i reduce8(const __m256i p[8])
{
    const __m256i a0 = _mm256_hadd_epi32(p[0], p[1]), a1 = _mm256_hadd_epi32(p[2], p[3]);
    const __m256i a2 = _mm256_hadd_epi32(p[4], p[5]), a3 = _mm256_hadd_epi32(p[6], p[7]);
    const __m256i b0 = _mm256_hadd_epi32(a0, a1), b1 = _mm256_hadd_epi32(a2, a3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)) lane by lane: hsum256's tree across 8 vectors.
inline __m256 sumTree8(const __m256 a[8])
{
    return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6])),
                         _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7])));
}

// 8 int32 partial sums of one block against 32 activations (Q4_0 without its −8·Σq).
template <DType TYPE>
inline __m256i blockPartials(const std::byte* blk, const std::int8_t* x)
{
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    if constexpr (TYPE == DType::Q4_0) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
        const __m256i w = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0f));
        return dotU8S8(_mm256_setzero_si256(), w, xv);
    } else {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
        return dotU8S8(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(xv, w));
    }
}

// One row × one token. FULL: 8 blocks from b0 (else nb − b0 < 8, the missing lanes add exact zeros).
template <DType TYPE, bool FULL>
inline __m256 gemvGroup(const std::byte* row, const QuantizedActivations& X, int t, int b0, __m256 acc)
{
    constexpr int kB = kBlockBytes<TYPE>;
    const int count = FULL ? 8 : X.blocksPerToken() - b0;
    __m256i p[8];
    std::uint16_t h[8] = {};
    float dx[8] = {};
    std::int32_t sum[8] = {};
    for (int j = 0; j < 8; ++j) {
        if (FULL || j < count) {
            const std::byte* blk = row + static_cast<std::size_t>(b0 + j) * kB;
            h[j] = loadU16(blk);
            p[j] = blockPartials<TYPE>(blk, X.qRow(t) + (b0 + j) * 32);
        } else {
            p[j] = _mm256_setzero_si256();
        }
    }
    __m256 dxv;
    __m256i sumv;
    if constexpr (FULL) {
        dxv = _mm256_loadu_ps(X.scaleRow(t) + b0);
        sumv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(X.sumRow(t) + b0));
    } else {
        for (int j = 0; j < count; ++j) {
            dx[j] = X.scaleRow(t)[b0 + j];
            sum[j] = X.sumRow(t)[b0 + j];
        }
        dxv = _mm256_loadu_ps(dx);
        sumv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sum));
    }
    __m256i s = reduce8(p);
    if constexpr (TYPE == DType::Q4_0)
        s = _mm256_sub_epi32(s, _mm256_slli_epi32(sumv, 3));
    const __m256 dw = _mm256_cvtph_ps(_mm_setr_epi16(static_cast<short>(h[0]), static_cast<short>(h[1]),
                                                     static_cast<short>(h[2]), static_cast<short>(h[3]),
                                                     static_cast<short>(h[4]), static_cast<short>(h[5]),
                                                     static_cast<short>(h[6]), static_cast<short>(h[7])));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dxv), acc);
}

template <DType TYPE>
inline void gemvRows(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y, std::size_t ldy,
                     std::size_t rowBegin, std::size_t rowEnd)
{
    const int nb = X.blocksPerToken();
    for (int t = 0; t < X.tokens; ++t)
        for (std::size_t n = rowBegin; n < rowEnd; ++n) {
            const std::byte* row = W + n * rowBytes;
            __m256 acc = _mm256_setzero_ps();
            int b = 0;
            for (; b + 8 <= nb; b += 8)
                acc = gemvGroup<TYPE, true>(row, X, t, b, acc);
            if (b < nb)
                acc = gemvGroup<TYPE, false>(row, X, t, b, acc);
            Y[static_cast<std::size_t>(t) * ldy + n] = hsum256(acc);
        }
}

// The activations with 8 tokens per vector (the last group zero-padded): for group g and column quad k/4, 32 bytes
// = 4 consecutive int8 of each of the 8 tokens; per block the 8 tokens' scales and Σq.
struct TokenLanes {
    std::vector<std::int8_t> keyQ; // the activations this was built from
    std::vector<float> keyScale;
    int tokens = 0, cols = 0, nb = 0, groups = 0;
    std::vector<std::int8_t> x;    // [groups][cols / 4][8][4]
    std::vector<float> dx;         // [groups][nb][8]
    std::vector<std::int32_t> sum; // [groups][nb][8]
    const std::int8_t* xGroup(int g) const noexcept { return x.data() + static_cast<std::size_t>(g) * cols * 8; }
    std::size_t at(int g, int b) const noexcept { return (static_cast<std::size_t>(g) * nb + b) * 8; }
};

void buildTokenLanes(const QuantizedActivations& X, TokenLanes& L)
{
    const std::size_t nq = static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(X.cols);
    // Row ranges of one call, and q/k/v or gate/up of one input, come with the same activations: keep the copy.
    if (L.tokens == X.tokens && L.cols == X.cols && L.keyQ.size() == nq && L.keyScale.size() == X.scale.size() &&
        std::memcmp(L.keyQ.data(), X.q.data(), nq) == 0 &&
        std::memcmp(L.keyScale.data(), X.scale.data(), X.scale.size() * sizeof(float)) == 0)
        return;
    L.keyQ.assign(X.q.begin(), X.q.begin() + static_cast<std::ptrdiff_t>(nq));
    L.keyScale = X.scale;
    L.tokens = X.tokens;
    L.cols = X.cols;
    L.nb = X.blocksPerToken();
    L.groups = (X.tokens + 7) / 8;
    const auto groups = static_cast<std::size_t>(L.groups);
    L.x.assign(groups * static_cast<std::size_t>(X.cols) * 8, 0);
    L.dx.assign(groups * static_cast<std::size_t>(L.nb) * 8, 0.0f);
    L.sum.assign(L.dx.size(), 0);
    for (int t = 0; t < X.tokens; ++t) {
        const int g = t / 8, lane = t % 8;
        std::int8_t* dst = L.x.data() + static_cast<std::size_t>(g) * X.cols * 8 + lane * 4;
        const std::int8_t* src = X.qRow(t);
        for (int k = 0; k < X.cols; k += 4)
            std::memcpy(dst + static_cast<std::size_t>(k) * 8, src + k, 4);
        for (int b = 0; b < L.nb; ++b) {
            L.dx[L.at(g, b) + static_cast<std::size_t>(lane)] = X.scaleRow(t)[b];
            L.sum[L.at(g, b) + static_cast<std::size_t>(lane)] = X.sumRow(t)[b];
        }
    }
}

// The weights of up to 4 rows unpacked once per token chunk: u = the unsigned operand (Q4_0 nibbles; Q8_0 |q| on
// AVX2), the fp32 block scales, and (Q8_0 with vpdpbusd) −128·Σq per block, the correction for x + 128.
struct RowTile {
    std::vector<std::uint8_t> u;   // [4][cols]
    std::vector<float> dw;         // [4][nb]
    std::vector<std::int32_t> fix; // [4][nb]
};

template <DType TYPE>
inline void unpackRows(const std::byte* W, std::size_t rowBytes, std::size_t n0, int rows, int nb, RowTile& R)
{
    constexpr int kB = kBlockBytes<TYPE>;
    const std::size_t cols = static_cast<std::size_t>(nb) * 32;
    R.u.resize(4 * cols);
    R.dw.resize(4 * static_cast<std::size_t>(nb));
    R.fix.resize(R.dw.size());
    for (int r = 0; r < rows; ++r) {
        const std::byte* row = W + (n0 + static_cast<std::size_t>(r)) * rowBytes;
        std::uint8_t* u = R.u.data() + static_cast<std::size_t>(r) * cols;
        for (int b = 0; b < nb; ++b) {
            const std::byte* blk = row + static_cast<std::size_t>(b) * kB;
            R.dw[static_cast<std::size_t>(r * nb + b)] = _cvtsh_ss(loadU16(blk));
            if constexpr (TYPE == DType::Q4_0) {
                const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)), m = _mm_set1_epi8(0x0f);
                _mm_storeu_si128(reinterpret_cast<__m128i*>(u + b * 32), _mm_and_si128(v, m));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(u + b * 32 + 16), _mm_and_si128(_mm_srli_epi16(v, 4), m));
            } else if constexpr (kVnni) {
                std::int32_t s = 0;
                for (int j = 0; j < 32; ++j)
                    s += static_cast<std::int8_t>(blk[2 + j]);
                R.fix[static_cast<std::size_t>(r * nb + b)] = -128 * s;
            } else {
                const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(u + b * 32), _mm256_abs_epi8(w));
            }
        }
    }
}

// R rows (from n0, unpacked in RT) × G vectors of 8 tokens (groups g0..g0+G−1), all blocks; stores the valid
// tokens' outputs.
template <DType TYPE, int R, int G>
inline void gemmTile(const std::byte* W, std::size_t rowBytes, const RowTile& RT, const TokenLanes& L, float* Y,
                     std::size_t ldy, std::size_t n0, int g0)
{
    constexpr int kB = kBlockBytes<TYPE>;
    const int nb = L.nb;
    const std::size_t cols = static_cast<std::size_t>(L.cols);
    const std::int8_t* xg[G];
    for (int g = 0; g < G; ++g)
        xg[g] = L.xGroup(g0 + g);
    const std::byte* wrow[R];
    for (int r = 0; r < R; ++r)
        wrow[r] = W + (n0 + static_cast<std::size_t>(r)) * rowBytes + 2;
    __m256 acc[R][G][8];
    for (int r = 0; r < R; ++r)
        for (int g = 0; g < G; ++g)
            for (int l = 0; l < 8; ++l)
                acc[r][g][l] = _mm256_setzero_ps();
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int b = 0; b < nb; ++b) {
        __m256i s[R][G];
        [[maybe_unused]] __m256i s16[R][G];
        for (int r = 0; r < R; ++r)
            for (int g = 0; g < G; ++g) {
                s[r][g] = _mm256_setzero_si256();
                s16[r][g] = _mm256_setzero_si256();
            }
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
            __m256i x[G];
            for (int g = 0; g < G; ++g)
                x[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xg[g] + (static_cast<std::size_t>(b) * 8 + i) * 32));
            for (int r = 0; r < R; ++r) {
                const std::uint8_t* u = RT.u.data() + static_cast<std::size_t>(r) * cols + b * 32 + 4 * i;
                if constexpr (TYPE == DType::Q4_0) {
                    const __m256i w = broadcast32(u);
                    for (int g = 0; g < G; ++g) {
                        if constexpr (kVnni)
                            s[r][g] = dotU8S8(s[r][g], w, x[g]);
                        else // |pair| ≤ 2·15·127: 8 of them fit int16
                            s16[r][g] = _mm256_add_epi16(s16[r][g], _mm256_maddubs_epi16(w, x[g]));
                    }
                } else {
                    const __m256i ws = broadcast32(wrow[r] + static_cast<std::size_t>(b) * kB + 4 * i);
                    if constexpr (kVnni) { // (x + 128)·q, corrected by −128·Σq
                        for (int g = 0; g < G; ++g)
                            s[r][g] = dotU8S8(s[r][g], _mm256_xor_si256(x[g], flip), ws);
                    } else {
                        const __m256i wa = broadcast32(u);
                        for (int g = 0; g < G; ++g)
                            s[r][g] = dotU8S8(s[r][g], wa, _mm256_sign_epi8(x[g], ws));
                    }
                }
            }
        }
        for (int g = 0; g < G; ++g) {
            const std::size_t at = L.at(g0 + g, b);
            const __m256 dx = _mm256_loadu_ps(L.dx.data() + at);
            [[maybe_unused]] const __m256i sum8 =
                _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(L.sum.data() + at)), 3);
            for (int r = 0; r < R; ++r) {
                __m256i v = s[r][g];
                if constexpr (TYPE == DType::Q4_0) {
                    if constexpr (!kVnni)
                        v = _mm256_madd_epi16(s16[r][g], _mm256_set1_epi16(1));
                    v = _mm256_sub_epi32(v, sum8);
                } else if constexpr (kVnni) {
                    v = _mm256_add_epi32(v, _mm256_set1_epi32(RT.fix[static_cast<std::size_t>(r * nb + b)]));
                }
                const __m256 p = _mm256_mul_ps(_mm256_set1_ps(RT.dw[static_cast<std::size_t>(r * nb + b)]), dx);
                acc[r][g][b % 8] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), p, acc[r][g][b % 8]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int g = 0; g < G; ++g) {
            float y[8];
            _mm256_storeu_ps(y, sumTree8(acc[r][g]));
            for (int l = 0; l < 8; ++l) {
                const int t = (g0 + g) * 8 + l;
                if (t < L.tokens)
                    Y[static_cast<std::size_t>(t) * ldy + n0 + static_cast<std::size_t>(r)] = y[l];
            }
        }
}

// Fewer tokens than this run as GEMVs (a token vector of 8 lanes would be mostly padding).
constexpr int kGemmMinTokens = 3;

template <DType TYPE>
inline void blockMatmulRows(const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y,
                            std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    if (X.tokens < kGemmMinTokens) {
        gemvRows<TYPE>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd);
        return;
    }
    constexpr int kRows = 4, kGroups = 2, kChunkGroups = kTokenGroup / 8;
    thread_local TokenLanes L;
    thread_local RowTile RT;
    buildTokenLanes(X, L);
    // Token chunks keep their activations in L2 while the row tiles stream the weights.
    for (int c = 0; c < L.groups; c += kChunkGroups) {
        const int ce = std::min(L.groups, c + kChunkGroups);
        auto tile = [&]<int R>(std::size_t n0) {
            unpackRows<TYPE>(W, rowBytes, n0, R, L.nb, RT);
            int g = c;
            for (; g + kGroups <= ce; g += kGroups)
                gemmTile<TYPE, R, kGroups>(W, rowBytes, RT, L, Y, ldy, n0, g);
            for (; g < ce; ++g)
                gemmTile<TYPE, R, 1>(W, rowBytes, RT, L, Y, ldy, n0, g);
        };
        std::size_t n = rowBegin;
        for (; n + kRows <= rowEnd; n += kRows)
            tile.template operator()<kRows>(n);
        for (; n < rowEnd; ++n)
            tile.template operator()<1>(n);
    }
}

} // namespace
} // namespace bq::kernels::detail
