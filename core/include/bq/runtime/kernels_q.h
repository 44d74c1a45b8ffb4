// Packed low-bit kernels (W1A8 / W4A8 / W8A8) of the fast CPU runtime: llama.cpp's Q1_0 (128 sign bits + fp16
// scale), Q4_0 and Q8_0 weight blocks against int8 activations (formats-and-runtime.md §3, §8), and the
// 256-weight super-blocks Q6_K, TQ2_0, TQ1_0 (core/src/runtime/kernels_superblock.h).
//
// Activations are quantized per token in blocks of 128 (Q1_0), 32 (Q4_0, Q8_0) or 256 (Q6_K, TQ2_0, TQ1_0) values: d = max|x|/127,
// q = round-half-even(x · (1/d)), with the exact integer sum Σq of each block. The products then need no
// multiplications by weights: for Q1_0, Σ w·x = d_w·d_x·(2·Σ_{bit=1} q − Σq); Q4_0 uses d_w·d_x·(Σ nib·q − 8·Σq).
//
// Every path (scalar, AVX2, AVX-VNNI, AVX-512 VNNI) computes each block's integer dot product exactly; only the fp32
// accumulation of the scaled block sums differs between paths (lanes vs sequential), so paths agree to a few
// ulps of Σ|scaled block sums|. Within one path each output is computed by the same instruction sequence
// whatever its row tile, token tile or thread, so results are bit-identical for any thread count and a GEMM
// over T tokens equals T GEMVs exactly.
#pragma once
#include "bq/model/tensor.h"
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bq {
class ThreadPool;
}

namespace bq::kernels {

// AvxVnni (Alder Lake and later Intel client CPUs, Zen 5): AVX2 plus 256-bit VEX vpdpbusd / vpdpwssd. It runs the
// AVX2 kernels except the Q4_0 / Q8_0 / Q6_K / TQ2_0 / TQ1_0 ones, which take vpdpbusd (the same 256-bit kernel
// source the Avx512 path runs for Q4_0 / Q8_0) instead of vpmaddubsw + vpmaddwd; Q1_0 keeps the AVX2 LUT kernel,
// which does no multiplications.
enum class QPath : std::uint8_t { Scalar, Avx2, AvxVnni, Avx512 };

// The fastest path cpuFeatures() allows (honours BQ_CPU=scalar|avx2|avxvnni). Avx512 needs F/BW/VL/VNNI.
QPath bestQPath() noexcept;
// Whether Q1_0 runs on the LUT layout on this path (the AVX2 kernel: Avx2 and AvxVnni).
bool q1UsesLut(QPath path) noexcept;
bool qPathSupported(QPath path) noexcept;
const char* qPathName(QPath path) noexcept;

// Per-token int8 activations in blocks of `block` values (block divides cols).
struct QuantizedActivations {
    int tokens = 0, cols = 0, block = 0;
    std::vector<std::int8_t> q;    // [tokens][cols]
    std::vector<float> scale;      // [tokens][cols / block]
    std::vector<std::int32_t> sum; // [tokens][cols / block], Σq of each block
    int blocksPerToken() const noexcept { return block > 0 ? cols / block : 0; }
    const std::int8_t* qRow(int t) const noexcept { return q.data() + static_cast<std::size_t>(t) * cols; }
    const float* scaleRow(int t) const noexcept
    {
        return scale.data() + static_cast<std::size_t>(t) * blocksPerToken();
    }
    const std::int32_t* sumRow(int t) const noexcept
    {
        return sum.data() + static_cast<std::size_t>(t) * blocksPerToken();
    }
};

// The activation block size a weight type is multiplied with: 128 for Q1_0, 32 for Q4_0 / Q8_0, 256 for Q6_K /
// TQ2_0 / TQ1_0, 0 otherwise.
int activationBlockFor(DType weightType) noexcept;
// Whether the packed kernels handle this weight type.
bool packedKernelSupports(DType weightType) noexcept;

// Quantizes X [tokens][cols] (reuses out's storage). All paths give bit-identical results. pool may be null;
// tokens are split over it.
void quantizeActivations(QPath path, const float* X, int tokens, int cols, int block, QuantizedActivations& out,
                         ThreadPool* pool = nullptr);

// Single-threaded row-range kernel: Y[t·ldy + n] = Σ_k Ŵ[n][k]·X[t][k] for every token t of X and
// n in [rowBegin, rowEnd). W holds N rows of packed blocks, `rowBytes` = dtypeRowBytes(type, K) each.
// X.block must equal activationBlockFor(type).
void packedMatmulRows(QPath path, DType type, const std::byte* W, std::size_t rowBytes,
                      const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                      std::size_t rowEnd);

// Q1_0 in the runtime's split layout ("planes"): the fp16 scales of each row in their own plane ([N][nb]), and
// the sign bits (16 bytes per 128-block, bit j of byte j/8 LSB first, as in the GGUF block) regrouped for
// 512-bit vpdpbusd. Rows come in tiles of 8 (the last one zero-padded). Within a tile, blocks go in groups of 4:
// mask j (j < 8) of row r is 8 bytes holding bytes 2j, 2j+1 of each of the group's 4 blocks, and the 8 rows'
// masks j sit side by side. One 64-bit mask then covers 16 weights of 4 blocks (a vpdpbusd sums 4 blocks at
// once, lanes 4k..4k+3 = block k, so one conversion + one FMA with a vector of 4 block scales serves 4 blocks),
// and the 8 rows of a GEMV pass read one contiguous stream. Blocks after the last whole group follow as two
// 64-bit halves per block, again side by side for the 8 rows. The same bytes as the GGUF blocks, rearranged
// once at load; q1BitsOffset says where each byte went.
//
// The AVX2 path reads its own arrangement of the same bytes instead (the "LUT layout", made by splitQ1 for that
// path): rows in tiles of 32 (the last one zero-padded); within a tile, for block b and sign byte c (< 16), the 32
// rows' bytes side by side (q1LutBitsOffset), so each nibble of a 32-byte vector indexes one 16-entry table of
// ±sums of 4 activations for 32 rows at once (vpshufb); the fp16 scales of block b of the 32 rows follow in the
// order the kernel's int32 lanes come out: even rows, then odd rows (q1LutScaleOffset).
struct Q1Planes {
    const std::uint8_t* bits = nullptr;
    const std::uint16_t* scales = nullptr;
    int blocksPerRow = 0;
    const std::uint8_t* lutBits = nullptr; // the AVX2 LUT layout, when prepared (then bits / scales may be null)
    const std::uint16_t* lutScales = nullptr;
};
// Offset in the bits plane of byte `byte` (< 16) of block b of row n, for rows of nb blocks.
constexpr std::size_t q1BitsOffset(int nb, std::size_t n, int b, int byte) noexcept
{
    const std::size_t tile = n / 8 * 8 * static_cast<std::size_t>(nb) * 16;
    const auto r = static_cast<std::size_t>(n % 8);
    const int grouped = nb / 4 * 4;
    if (b < grouped)
        return tile + static_cast<std::size_t>(b / 4 * 512 + byte / 2 * 64 + b % 4 * 2 + byte % 2) + r * 8;
    return tile + static_cast<std::size_t>(grouped * 128 + (b - grouped) * 128 + byte / 8 * 64 + byte % 8) + r * 8;
}
// Bytes of the bits plane of N rows of nb blocks (rows padded to a multiple of 8).
constexpr std::size_t q1BitsBytes(std::size_t N, int nb) noexcept
{
    return (N + 7) / 8 * 8 * static_cast<std::size_t>(nb) * 16;
}
// LUT layout (AVX2): offset of byte `byte` (< 16) of block b of row n in the bits, and of that block's scale.
constexpr std::size_t q1LutBitsOffset(int nb, std::size_t n, int b, int byte) noexcept
{
    return ((n / 32 * static_cast<std::size_t>(nb) + static_cast<std::size_t>(b)) * 16 + static_cast<std::size_t>(byte)) * 32 +
           n % 32;
}
constexpr std::size_t q1LutScaleOffset(int nb, std::size_t n, int b) noexcept
{
    return (n / 32 * static_cast<std::size_t>(nb) + static_cast<std::size_t>(b)) * 32 + n % 2 * 16 + n % 32 / 2;
}
// Bytes of the LUT bits of N rows of nb blocks (rows padded to a multiple of 32); the scales take a 32nd of that
// in fp16 values.
constexpr std::size_t q1LutBytes(std::size_t N, int nb) noexcept
{
    return (N + 31) / 32 * 32 * static_cast<std::size_t>(nb) * 16;
}
struct Q1PlaneStore {
    std::vector<std::uint8_t> bits;
    std::vector<std::uint16_t> scales;
    std::vector<std::uint8_t> lutBits;
    std::vector<std::uint16_t> lutScales;
    int rows = 0, blocksPerRow = 0;
    Q1Planes view() const noexcept
    {
        return {bits.empty() ? nullptr : bits.data(), scales.empty() ? nullptr : scales.data(), blocksPerRow,
                lutBits.empty() ? nullptr : lutBits.data(), lutScales.empty() ? nullptr : lutScales.data()};
    }
};
// Splits `rows` GGUF Q1_0 rows of K weights (rowBytes = dtypeRowBytes(Q1_0, K) apart) into bits
// (q1BitsBytes(rows, K / 128) bytes, zero-filled here first) and scales (rows × K / 128).
void splitQ1Rows(const std::byte* W, std::size_t rowBytes, int K, std::size_t rows, std::uint8_t* bits,
                 std::uint16_t* scales);
// The same into the LUT layout: bits (q1LutBytes(rows, K / 128)) and scales (q1LutBytes / 16 values), zero-filled
// here first.
void splitQ1LutRows(const std::byte* W, std::size_t rowBytes, int K, std::size_t rows, std::uint8_t* bits,
                    std::uint16_t* scales);
// The layout `path` reads: the LUT layout where q1UsesLut(path) (Avx2, AvxVnni), the planes otherwise.
Q1PlaneStore splitQ1(const std::byte* W, int N, int K, QPath path = bestQPath());

// Single-threaded row-range kernel over Q1_0 planes; same contract and same results as packedMatmulRows on the
// equivalent GGUF rows (bit for bit, on each path). The AVX2 path reads the LUT layout when W has it, else the
// planes (a different fp32 summation order: results agree with the reference, not bit for bit with each other);
// the other paths need the planes.
void q1MatmulRows(QPath path, const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                  std::size_t rowBegin, std::size_t rowEnd);
// Multithreaded Q1_0 planes product, Y [T][N] = Ŵ X [T][K], best path.
void q1Matmul(const Q1Planes& W, int N, int K, const float* X, int T, float* Y, ThreadPool* pool);

// Multithreaded (pool may be null), best path: quantizes X [T][K] into thread-local scratch, splits the N
// output rows over the pool in fixed chunks. Y is [T][N]. K must be a multiple of the type's block size.
void packedMatmul(DType type, const std::byte* W, int N, int K, const float* X, int T, float* Y, ThreadPool* pool);
// The same with activations already quantized (share one quantization between projections of the same input).
void packedMatmul(QPath path, DType type, const std::byte* W, int N, const QuantizedActivations& X, float* Y,
                  ThreadPool* pool);

// Several matrices of one type and row length applied to the same input X [T][K]: one activation quantization
// and one parallelFor over all their rows (fewer pool wake-ups per token: q/k/v, gate/up). Results equal
// separate packedMatmul calls bit for bit.
struct PackedMatrixOut {
    const std::byte* W = nullptr;
    int N = 0;
    float* Y = nullptr;                 // [T][N]
    const Q1Planes* q1 = nullptr;       // Q1_0: the planes of W when prepared (else W is split on the fly)
};
void packedMatmulMulti(DType type, const PackedMatrixOut* mats, int count, int K, const float* X, int T,
                       ThreadPool* pool);

// fp16 helpers for an fp16 KV cache: Σ a[i]·h[i] and y += s·h (h in IEEE binary16), best path.
float dotF16(const float* a, const std::uint16_t* h, int n);
void axpyF16(float s, const std::uint16_t* h, float* y, int n);
void floatToHalfRow(const float* x, std::uint16_t* h, int n);

} // namespace bq::kernels
