// Packed low-bit kernels (W1A8 / W4A8 / W8A8) of the fast CPU runtime: llama.cpp's Q1_0 (128 sign bits + fp16
// scale), Q4_0 and Q8_0 weight blocks against int8 activations (formats-and-runtime.md §3, §8).
//
// Activations are quantized per token in blocks of 128 (Q1_0) or 32 (Q4_0, Q8_0) values: d = max|x|/127,
// q = round-half-even(x · (1/d)), with the exact integer sum Σq of each block. The products then need no
// multiplications by weights: for Q1_0, Σ w·x = d_w·d_x·(2·Σ_{bit=1} q − Σq); Q4_0 uses d_w·d_x·(Σ nib·q − 8·Σq).
//
// Every path (scalar, AVX2, AVX-512 VNNI) computes each block's integer dot product exactly; only the fp32
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

enum class QPath : std::uint8_t { Scalar, Avx2, Avx512 };

// The fastest path cpuFeatures() allows (honours BQ_CPU=scalar|avx2). Avx512 needs F/BW/VL/VNNI.
QPath bestQPath() noexcept;
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

// The activation block size a weight type is multiplied with: 128 for Q1_0, 32 for Q4_0 / Q8_0, 0 otherwise.
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
    float* Y = nullptr; // [T][N]
};
void packedMatmulMulti(DType type, const PackedMatrixOut* mats, int count, int K, const float* X, int T,
                       ThreadPool* pool);

// fp16 helpers for an fp16 KV cache: Σ a[i]·h[i] and y += s·h (h in IEEE binary16), best path.
float dotF16(const float* a, const std::uint16_t* h, int n);
void axpyF16(float s, const std::uint16_t* h, float* y, int n);
void floatToHalfRow(const float* x, std::uint16_t* h, int n);

} // namespace bq::kernels
