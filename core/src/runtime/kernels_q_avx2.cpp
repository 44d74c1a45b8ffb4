// AVX2 packed kernels. Q1_0 runs on the LUT layout splitQ1 makes for this path (kernels_q.h; see "Q1_0 in the LUT
// layout" below): per group of 4 activations a 16-entry table of exact ±sums, looked up by vpshufb for 32 rows at
// once with each sign nibble as the index. In cache (one thread, 2,048 × 2,048 GEMV, fresh activations each call)
// 0.23 ns per 32 weights, against 1.87 for the former byte-mask kernel and 0.34 for the AVX-512 VNNI planes
// kernel. Given planes without the LUT layout it multiplies those instead (tileQ1 below: bit k of 4 rows' 32 mask
// bytes as 0/1 weights, vpmaddubsw against a transposed activation copy; 0.44 ns per 32 weights).
// Q4_0 / Q8_0 use the shared kernels of kernels_q_blocks.inl (vpmaddubsw; GEMM with 8 tokens per vector). Also the
// F16C helpers of the fp16 KV cache.
#include "bq/runtime/kernels_q.h"
#include <immintrin.h>
#include <vector>

namespace bq::kernels::detail {
namespace {
// Pairs of u8·s8 products fit int16: |u| ≤ 128 (Q8_0 magnitude), 15 (Q4_0) or 2 (Q1_0), |s| ≤ 127.
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
constexpr bool kVnni = false;
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"
#include "kernels_q_blocks.inl"

namespace bq::kernels::detail {

namespace {

// Q1_0 on the planes (kernels_q.h). Within a 4-block group, the 8-byte mask j of a row holds bytes 2j, 2j+1 of
// blocks 0..3 (byte 2b+h: weights 16j + 8h + 0..7 of block b), and 4 consecutive rows of an 8-row tile sit side by
// side: one 32-byte load is 4 rows' mask j. Bit k of every byte, (m >> k) & 1 (vpsrlw + vpand), is then a vector
// of 32 0/1 weights: 4 rows × 4 blocks × 2 halves, weight 16j + 8h + k. The activations are copied once per call
// in the matching order (an 8 × 8 byte transpose per mask j: 8 bytes x(b, 16j + 8h + k) for bit k, broadcast to
// the 4 rows), so one vpmaddubsw sums pairs of the same (row, block) into int16 lane 4·row + block, and the 64
// bit-vectors of a group add up in int16 (|Σ| ≤ 64·2·127 < 2^15, exact). Per group and 4 rows, two vpmaddwd
// (weights 2, 0 / 0, 2) split the even and odd blocks into int32 lanes (2·Σ_{bit=1} q), each lane starts at −Σq of
// its block, and one conversion + one FMA with d_w·d_x per lane serves 8 block-rows. Blocks after the last whole
// group (two 64-bit halves per block and row) go the same way with lanes 2r, 2r+1 = row r.
struct Q1PreparedAvx2 {
    int nb = 0, groups = 0, tail = 0, tokens = 0, stride = 0;
    std::vector<std::int8_t> x;      // [tokens][K]: group g, mask j, bit k: 8 bytes at g·512 + j·64 + k·8;
                                     // tail block b, half h, bit k: 8 bytes x(b, 64h + 8i + k) at b·128 + h·64 + k·8
    std::vector<std::int32_t> start; // [tokens][stride]: per group E = (−Σq of blocks 0, 2) × 4 rows, O = (1, 3) × 4;
                                     // per tail block (−Σq, 0) × 4
    std::vector<float> dx;           // [tokens][stride]: the activation scales in the same lanes
    const std::int8_t* xRow(int t) const noexcept { return x.data() + static_cast<std::size_t>(t) * nb * 128; }
};

// dst row k (8 bytes) = byte k of each of the 8 source rows.
inline void transpose8x8(const std::int8_t* const src[8], std::int8_t* dst)
{
    __m128i r[8];
    for (int i = 0; i < 8; ++i)
        r[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src[i]));
    const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpacklo_epi8(r[2], r[3]);
    const __m128i t2 = _mm_unpacklo_epi8(r[4], r[5]), t3 = _mm_unpacklo_epi8(r[6], r[7]);
    const __m128i u0 = _mm_unpacklo_epi16(t0, t1), u1 = _mm_unpackhi_epi16(t0, t1);
    const __m128i u2 = _mm_unpacklo_epi16(t2, t3), u3 = _mm_unpackhi_epi16(t2, t3);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_unpacklo_epi32(u0, u2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), _mm_unpackhi_epi32(u0, u2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 32), _mm_unpacklo_epi32(u1, u3));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 48), _mm_unpackhi_epi32(u1, u3));
}

void prepareQ1Avx2(const QuantizedActivations& X, Q1PreparedAvx2& P)
{
    P.nb = X.blocksPerToken();
    P.groups = P.nb / 4;
    P.tail = P.nb - 4 * P.groups;
    P.tokens = X.tokens;
    P.stride = P.groups * 16 + P.tail * 8;
    P.x.resize(static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(X.cols));
    P.start.resize(static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(P.stride));
    P.dx.resize(P.start.size());
    for (int t = 0; t < X.tokens; ++t) {
        const std::int8_t* src = X.qRow(t);
        std::int8_t* dst = P.x.data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(X.cols);
        const std::int32_t* sum = X.sumRow(t);
        const float* sc = X.scaleRow(t);
        std::int32_t* st = P.start.data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(P.stride);
        float* dx = P.dx.data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(P.stride);
        const std::int8_t* rows[8];
        for (int g = 0; g < P.groups; ++g) {
            for (int j = 0; j < 8; ++j) {
                for (int b = 0; b < 4; ++b)
                    for (int h = 0; h < 2; ++h)
                        rows[2 * b + h] = src + (4 * g + b) * 128 + 16 * j + 8 * h;
                transpose8x8(rows, dst + g * 512 + j * 64);
            }
            for (int r = 0; r < 4; ++r)
                for (int e = 0; e < 2; ++e) {
                    st[g * 16 + 2 * r + e] = -sum[4 * g + 2 * e];
                    st[g * 16 + 8 + 2 * r + e] = -sum[4 * g + 2 * e + 1];
                    dx[g * 16 + 2 * r + e] = sc[4 * g + 2 * e];
                    dx[g * 16 + 8 + 2 * r + e] = sc[4 * g + 2 * e + 1];
                }
        }
        for (int b = 0; b < P.tail; ++b) {
            const int bb = 4 * P.groups + b, at = P.groups * 16 + b * 8;
            for (int h = 0; h < 2; ++h) {
                for (int i = 0; i < 8; ++i)
                    rows[i] = src + bb * 128 + 64 * h + 8 * i;
                transpose8x8(rows, dst + bb * 128 + h * 64);
            }
            for (int r = 0; r < 4; ++r) {
                st[at + 2 * r] = -sum[bb];
                st[at + 2 * r + 1] = 0;
                dx[at + 2 * r] = dx[at + 2 * r + 1] = sc[bb];
            }
        }
    }
}

// 4 rows' fp16 scales of blocks at..at+3 as fp32: E = (d(r, at), d(r, at+2)) for r = 0..3, O = (at+1, at+3).
inline void quadScales(const std::uint16_t* const srow[4], int at, __m256& e, __m256& o)
{
    std::uint64_t v[4];
    for (int r = 0; r < 4; ++r)
        std::memcpy(&v[r], srow[r] + at, 8);
    const __m256i all = _mm256_setr_epi64x(static_cast<long long>(v[0]), static_cast<long long>(v[1]),
                                           static_cast<long long>(v[2]), static_cast<long long>(v[3]));
    // Per 128-bit lane (2 rows): the even blocks' halves to the low 8 bytes, the odd ones' to the high 8.
    const __m256i split = _mm256_shuffle_epi8(all, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                                                    0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15));
    const __m256i perm = _mm256_permute4x64_epi64(split, 0xD8); // qwords 0, 2, 1, 3
    e = _mm256_cvtph_ps(_mm256_castsi256_si128(perm));
    o = _mm256_cvtph_ps(_mm256_extracti128_si256(perm, 1));
}

inline __m256i broadcast8(const std::int8_t* p)
{
    long long v;
    std::memcpy(&v, p, 8);
    return _mm256_set1_epi64x(v);
}

// Q quads of rows (n0 a multiple of 4; Q = 2 needs n0 a multiple of 8: one planes tile) × TT tokens. Every row of
// the quads is computed (rows past rowEnd with a valid row's scales) and the rows in [rowBegin, rowEnd) stored:
// each output's fp32 operations depend on neither Q, TT nor the row range, so a GEMM equals T GEMVs bit for bit.
template <int Q, int TT>
inline void tileQ1(const Q1Planes& W, const Q1PreparedAvx2& P, float* Y, std::size_t ldy, std::size_t n0, int t0,
                   std::size_t rowBegin, std::size_t rowEnd)
{
    // Locals, not P's fields: the stores through float pointers below could alias them.
    const int nb = P.nb, ng = P.groups, tail = P.tail, stride = P.stride;
    const std::uint8_t* bits = W.bits + q1BitsOffset(nb, n0, 0, 0); // quad q's masks at + 32q
    const std::uint16_t* srow[Q][4];
    for (int q = 0; q < Q; ++q)
        for (int r = 0; r < 4; ++r)
            srow[q][r] = W.scales + std::min<std::size_t>(n0 + static_cast<std::size_t>(4 * q + r), rowEnd - 1) *
                                        static_cast<std::size_t>(nb);
    const std::int8_t* xrow[TT];
    const std::int32_t* strow[TT];
    const float* dxrow[TT];
    for (int t = 0; t < TT; ++t) {
        xrow[t] = P.xRow(t0 + t);
        strow[t] = P.start.data() + static_cast<std::size_t>(t0 + t) * static_cast<std::size_t>(stride);
        dxrow[t] = P.dx.data() + static_cast<std::size_t>(t0 + t) * static_cast<std::size_t>(stride);
    }
    const __m256i ones = _mm256_set1_epi8(1);
    __m256 accE[Q][TT], accO[Q][TT];
    for (int q = 0; q < Q; ++q)
        for (int t = 0; t < TT; ++t)
            accE[q][t] = accO[q][t] = _mm256_setzero_ps();
    for (int g = 0; g < ng; ++g) {
        const std::uint8_t* mg = bits + g * 512;
        __m256i a16[Q][TT];
        for (int q = 0; q < Q; ++q)
            for (int t = 0; t < TT; ++t)
                a16[q][t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            __m256i raw[Q];
            for (int q = 0; q < Q; ++q)
                raw[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mg + j * 64 + 32 * q));
#pragma GCC unroll 8
            for (int k = 0; k < 8; ++k) {
                __m256i w[Q];
                for (int q = 0; q < Q; ++q)
                    w[q] = _mm256_and_si256(_mm256_srli_epi16(raw[q], k), ones);
                for (int t = 0; t < TT; ++t) {
                    const __m256i x = broadcast8(xrow[t] + g * 512 + j * 64 + k * 8);
                    for (int q = 0; q < Q; ++q)
                        a16[q][t] = _mm256_add_epi16(a16[q][t], _mm256_maddubs_epi16(w[q], x));
                }
            }
        }
        __m256 dwE[Q], dwO[Q];
        for (int q = 0; q < Q; ++q)
            quadScales(srow[q], 4 * g, dwE[q], dwO[q]);
        for (int t = 0; t < TT; ++t) {
            const __m256i stE = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(strow[t] + g * 16));
            const __m256i stO = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(strow[t] + g * 16 + 8));
            const __m256 dxE = _mm256_loadu_ps(dxrow[t] + g * 16), dxO = _mm256_loadu_ps(dxrow[t] + g * 16 + 8);
            for (int q = 0; q < Q; ++q) {
                const __m256i iE = _mm256_add_epi32(_mm256_madd_epi16(a16[q][t], _mm256_set1_epi32(2)), stE);
                const __m256i iO = _mm256_add_epi32(_mm256_madd_epi16(a16[q][t], _mm256_set1_epi32(2 << 16)), stO);
                accE[q][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iE), _mm256_mul_ps(dwE[q], dxE), accE[q][t]);
                accO[q][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iO), _mm256_mul_ps(dwO[q], dxO), accO[q][t]);
            }
        }
    }
    for (int b = 0; b < tail; ++b) {
        const int bb = 4 * ng + b;
        const std::uint8_t* mb = bits + ng * 512 + b * 128;
        __m256i a16[Q][TT];
        for (int q = 0; q < Q; ++q)
            for (int t = 0; t < TT; ++t)
                a16[q][t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            __m256i raw[Q];
            for (int q = 0; q < Q; ++q)
                raw[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mb + h * 64 + 32 * q));
            for (int k = 0; k < 8; ++k) {
                __m256i w[Q];
                for (int q = 0; q < Q; ++q)
                    w[q] = _mm256_and_si256(_mm256_srli_epi16(raw[q], k), ones);
                for (int t = 0; t < TT; ++t) {
                    const __m256i x = broadcast8(xrow[t] + bb * 128 + h * 64 + k * 8);
                    for (int q = 0; q < Q; ++q)
                        a16[q][t] = _mm256_add_epi16(a16[q][t], _mm256_maddubs_epi16(w[q], x));
                }
            }
        }
        __m256 dw[Q];
        for (int q = 0; q < Q; ++q) {
            float d[4];
            for (int r = 0; r < 4; ++r)
                d[r] = _cvtsh_ss(srow[q][r][bb]);
            dw[q] = _mm256_setr_ps(d[0], d[0], d[1], d[1], d[2], d[2], d[3], d[3]);
        }
        const int at = ng * 16 + b * 8;
        for (int t = 0; t < TT; ++t) {
            const __m256i st = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(strow[t] + at));
            const __m256 dx = _mm256_loadu_ps(dxrow[t] + at);
            for (int q = 0; q < Q; ++q) {
                const __m256i i = _mm256_add_epi32(_mm256_madd_epi16(a16[q][t], _mm256_set1_epi16(2)), st);
                accE[q][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(dw[q], dx), accE[q][t]);
            }
        }
    }
    for (int q = 0; q < Q; ++q)
        for (int t = 0; t < TT; ++t) {
            // Row r's lanes 2r, 2r+1 of E + O, added pairwise by vhaddps: rows 0, 1 in lanes 0, 1; rows 2, 3 in 4, 5.
            const __m256 s = _mm256_add_ps(accE[q][t], accO[q][t]);
            float h[8];
            _mm256_storeu_ps(h, _mm256_hadd_ps(s, s));
            const float row[4] = {h[0], h[1], h[4], h[5]};
            for (int r = 0; r < 4; ++r) {
                const std::size_t n = n0 + static_cast<std::size_t>(4 * q + r);
                if (n >= rowBegin && n < rowEnd)
                    Y[static_cast<std::size_t>(t0 + t) * ldy + n] = row[r];
            }
        }
}

// ---- Q1_0 in the LUT layout (kernels_q.h) ----
// For each group of 4 activations a_0..a_3 (columns 4g..4g+3) a 16-entry table holds T[m] = Σ_i ±a_i (+ where bit i
// of m is set): the exact dot product of those 4 activations with any 4 sign bits m. T + 512 lies in [4, 1020]
// (|a| ≤ 127), so it is stored as two 5-bit byte tables, lo = (T + 512) & 31 and hi = (T + 512) >> 5. In the LUT
// layout a 32-byte vector is one sign byte c of one block for 32 rows: its low nibbles index group 2c, its high
// nibbles group 2c + 1, and vpshufb looks up 32 rows at once. Byte sums of 8 lookups stay below 256 (8·31); they
// are widened to int16 (even rows: & 0xff, odd rows: >> 8), and after the 32 lookups of a block
// lo + 32·hi − 32·512 is the block's exact integer Σ_j (2·bit_j − 1)·q_j for each row (|Σ| ≤ 16,256). Four
// conversions and FMAs with d_w·d_x then serve the 32 rows, each row accumulating its blocks in order in its own
// fp32 lane (the scalar reference's order, with fused multiply-adds).
struct Q1Tables {
    std::vector<std::int8_t> key;  // the int8 activations the tables were built from ([tokens][cols])
    std::vector<std::uint8_t> lut; // [tokens][cols / 4][lo 16 | hi 16]
    int tokens = 0, cols = 0;
    const std::uint8_t* row(int t) const noexcept { return lut.data() + static_cast<std::size_t>(t) * cols * 8; }
};

void buildQ1Tables(const QuantizedActivations& X, Q1Tables& L)
{
    const std::size_t n = static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(X.cols);
    // The same activations (q/k/v or gate/up of one input, one thread's successive row ranges): reuse the tables.
    if (L.tokens == X.tokens && L.cols == X.cols && L.key.size() == n && std::memcmp(L.key.data(), X.q.data(), n) == 0)
        return;
    L.tokens = X.tokens;
    L.cols = X.cols;
    L.key.assign(X.q.begin(), X.q.begin() + static_cast<std::ptrdiff_t>(n));
    L.lut.resize(n * 8);
    // Lane m of sign i: +1 where bit i of m is set, −1 elsewhere.
    const __m256i s0 = _mm256_setr_epi16(-1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1);
    const __m256i s1 = _mm256_setr_epi16(-1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1);
    const __m256i s2 = _mm256_setr_epi16(-1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1);
    const __m256i s3 = _mm256_setr_epi16(-1, -1, -1, -1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1, 1, 1);
    // Broadcast int16 lane i of each 64-bit half (a_0..a_3 in both halves of the vector).
    const __m256i b0 = _mm256_set1_epi16(0x0100), b1 = _mm256_set1_epi16(0x0302), b2 = _mm256_set1_epi16(0x0504),
                  b3 = _mm256_set1_epi16(0x0706);
    const __m256i bias = _mm256_set1_epi16(512), m31 = _mm256_set1_epi16(31);
    for (std::size_t g = 0; g < n / 4; ++g) {
        std::int32_t four;
        std::memcpy(&four, X.q.data() + 4 * g, 4);
        const __m256i a = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(four)));
        const __m256i t = _mm256_add_epi16(
            _mm256_add_epi16(_mm256_sign_epi16(_mm256_shuffle_epi8(a, b0), s0), _mm256_sign_epi16(_mm256_shuffle_epi8(a, b1), s1)),
            _mm256_add_epi16(_mm256_sign_epi16(_mm256_shuffle_epi8(a, b2), s2), _mm256_sign_epi16(_mm256_shuffle_epi8(a, b3), s3)));
        const __m256i v = _mm256_add_epi16(t, bias);
        // packus per 128-bit lane: (lo 0..7, hi 0..7 | lo 8..15, hi 8..15) → qwords 0, 2, 1, 3 = lo 0..15, hi 0..15
        const __m256i packed = _mm256_packus_epi16(_mm256_and_si256(v, m31), _mm256_srli_epi16(v, 5));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(L.lut.data() + 32 * g), _mm256_permute4x64_epi64(packed, 0xD8));
    }
}

// One 32-row tile (n0 a multiple of 32) × TT tokens; the tile's rows in [rowBegin, rowEnd) are stored. An output's
// fp32 operations depend on neither TT nor the row range.
template <int TT>
inline void tileQ1Lut(const Q1Planes& W, const Q1Tables& L, const QuantizedActivations& X, float* Y, std::size_t ldy,
                      std::size_t n0, int t0, std::size_t rowBegin, std::size_t rowEnd)
{
    const int nb = W.blocksPerRow;
    const std::uint8_t* tile = W.lutBits + q1LutBitsOffset(nb, n0, 0, 0);
    const std::uint16_t* sc = W.lutScales + q1LutScaleOffset(nb, n0, 0);
    const __m256i low4 = _mm256_set1_epi8(0x0f), lowByte = _mm256_set1_epi16(0x00ff),
                  bias = _mm256_set1_epi16(32 * 512);
    const std::uint8_t* tab[TT];
    const float* dxrow[TT];
    __m256 acc[TT][4];
    for (int t = 0; t < TT; ++t) {
        tab[t] = L.row(t0 + t);
        dxrow[t] = X.scaleRow(t0 + t);
        for (int v = 0; v < 4; ++v)
            acc[t][v] = _mm256_setzero_ps();
    }
    for (int b = 0; b < nb; ++b) {
        const std::uint8_t* wb = tile + static_cast<std::size_t>(b) * 512;
        // The weight stream 2 KB ahead into L1 (the hardware prefetcher alone left a 128,256 × 2,048 GEMV from
        // memory ~14 % slower) and, in the GEMV, 8 KB ahead into L2: with the near prefetch alone a block's compute
        // (~30 ns) hid too little of the memory latency; the far one raised 1B-shape decode from 61 to 66-86 tok/s
        // on one thread and from 105-107 to 128-143 on two (Zen 4 class VM, AVX2 path). Prefill tiles read each
        // weight tile once per token pair, mostly from cache, and keep the near prefetch only. A prefetch past the
        // end of the array does not fault.
        for (int line = 0; line < 512; line += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(wb + 2048 + line), _MM_HINT_T0);
            if constexpr (TT == 1)
                _mm_prefetch(reinterpret_cast<const char*>(wb + 8192 + line), _MM_HINT_T1);
        }
        __m256i loE[TT], loO[TT], hiE[TT], hiO[TT];
        for (int t = 0; t < TT; ++t)
            loE[t] = loO[t] = hiE[t] = hiO[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int round = 0; round < 4; ++round) {
            __m256i lo8[TT], hi8[TT];
            for (int t = 0; t < TT; ++t)
                lo8[t] = hi8[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int cc = 0; cc < 4; ++cc) {
                const int c = 4 * round + cc;
                const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + c * 32));
                const __m256i i0 = _mm256_and_si256(w, low4), i1 = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
                for (int t = 0; t < TT; ++t) {
                    const std::uint8_t* g = tab[t] + (static_cast<std::size_t>(b) * 32 + 2 * c) * 32;
                    const __m256i lo0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
                    const __m256i hi0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16)));
                    const __m256i lo1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 32)));
                    const __m256i hi1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 48)));
                    lo8[t] = _mm256_add_epi8(lo8[t], _mm256_add_epi8(_mm256_shuffle_epi8(lo0, i0), _mm256_shuffle_epi8(lo1, i1)));
                    hi8[t] = _mm256_add_epi8(hi8[t], _mm256_add_epi8(_mm256_shuffle_epi8(hi0, i0), _mm256_shuffle_epi8(hi1, i1)));
                }
            }
            for (int t = 0; t < TT; ++t) {
                loE[t] = _mm256_add_epi16(loE[t], _mm256_and_si256(lo8[t], lowByte));
                loO[t] = _mm256_add_epi16(loO[t], _mm256_srli_epi16(lo8[t], 8));
                hiE[t] = _mm256_add_epi16(hiE[t], _mm256_and_si256(hi8[t], lowByte));
                hiO[t] = _mm256_add_epi16(hiO[t], _mm256_srli_epi16(hi8[t], 8));
            }
        }
        __m256 dw[4];
        for (int v = 0; v < 4; ++v)
            dw[v] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + static_cast<std::size_t>(b) * 32 + 8 * v)));
        for (int t = 0; t < TT; ++t) {
            const __m256i e = _mm256_sub_epi16(_mm256_add_epi16(loE[t], _mm256_slli_epi16(hiE[t], 5)), bias);
            const __m256i o = _mm256_sub_epi16(_mm256_add_epi16(loO[t], _mm256_slli_epi16(hiO[t], 5)), bias);
            const __m256i i32[4] = {_mm256_cvtepi16_epi32(_mm256_castsi256_si128(e)),
                                    _mm256_cvtepi16_epi32(_mm256_extracti128_si256(e, 1)),
                                    _mm256_cvtepi16_epi32(_mm256_castsi256_si128(o)),
                                    _mm256_cvtepi16_epi32(_mm256_extracti128_si256(o, 1))};
            const __m256 dx = _mm256_set1_ps(dxrow[t][b]);
            for (int v = 0; v < 4; ++v)
                acc[t][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[v]), _mm256_mul_ps(dw[v], dx), acc[t][v]);
        }
    }
    for (int t = 0; t < TT; ++t) {
        float out[32];
        for (int v = 0; v < 4; ++v)
            _mm256_storeu_ps(out + 8 * v, acc[t][v]);
        // Lane p: even rows 0..30 (p < 16), then odd rows (the scale order of q1LutScaleOffset).
        for (int p = 0; p < 32; ++p) {
            const std::size_t n = n0 + static_cast<std::size_t>(p < 16 ? 2 * p : 2 * (p - 16) + 1);
            if (n >= rowBegin && n < rowEnd)
                Y[static_cast<std::size_t>(t0 + t) * ldy + n] = out[p];
        }
    }
}

void q1LutMatmulRows(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                     std::size_t rowEnd)
{
    constexpr int kTileTokens = 2;
    thread_local Q1Tables L;
    buildQ1Tables(X, L);
    for (int g = 0; g < X.tokens; g += kTokenGroup) {
        const int ge = std::min(X.tokens, g + kTokenGroup);
        for (std::size_t n = rowBegin / 32 * 32; n < rowEnd; n += 32) {
            int t = g;
            for (; t + kTileTokens <= ge; t += kTileTokens)
                tileQ1Lut<kTileTokens>(W, L, X, Y, ldy, n, t, rowBegin, rowEnd);
            for (; t < ge; ++t)
                tileQ1Lut<1>(W, L, X, Y, ldy, n, t, rowBegin, rowEnd);
        }
    }
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
    if (W.lutBits) {
        q1LutMatmulRows(W, X, Y, ldy, rowBegin, rowEnd);
        return;
    }
    constexpr int kTileTokens = 2;
    thread_local Q1PreparedAvx2 P;
    prepareQ1Avx2(X, P);
    // Quads from rowBegin rounded down to 4; two quads (one 8-row planes tile, one contiguous stream) when aligned.
    auto rows = [&](auto&& quads) {
        std::size_t n = rowBegin / 4 * 4;
        while (n < rowEnd) {
            if (n % 8 == 0 && n + 4 < rowEnd) {
                quads.template operator()<2>(n);
                n += 8;
            } else {
                quads.template operator()<1>(n);
                n += 4;
            }
        }
    };
    if (X.tokens == 1) {
        rows([&]<int Q>(std::size_t n) { tileQ1<Q, 1>(W, P, Y, ldy, n, 0, rowBegin, rowEnd); });
        return;
    }
    for (int g = 0; g < X.tokens; g += kTokenGroup) {
        const int ge = std::min(X.tokens, g + kTokenGroup);
        rows([&]<int Q>(std::size_t n) {
            int t = g;
            for (; t + kTileTokens <= ge; t += kTileTokens)
                tileQ1<Q, kTileTokens>(W, P, Y, ldy, n, t, rowBegin, rowEnd);
            for (; t < ge; ++t)
                tileQ1<Q, 1>(W, P, Y, ldy, n, t, rowBegin, rowEnd);
        });
    }
}

void packedMatmulRowsAvx2(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                          float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    switch (type) {
    case DType::Q4_0: blockMatmulRows<DType::Q4_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case DType::Q8_0: blockMatmulRows<DType::Q8_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
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
