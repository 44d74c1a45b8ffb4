// Random packed weights and activations for the packed-kernel tests (test_packed_kernels, test_packed_superblock),
// and the check that a packed GEMM equals token-by-token GEMVs for any thread count.
#pragma once
#include "bq/model/tensor.h"
#include "bq/runtime/kernels_q.h"
#include <cstddef>
#include <random>
#include <vector>

namespace bqtest {

std::vector<float> randomFloats(std::size_t n, std::mt19937& rng, float scale = 1.0f);

// N rows of K weights of a block type: random payload bytes (every byte pattern decodes) and each block's fp16
// scale d (first field of the 32/128-blocks, last of the 256-weight super-blocks) uniform in [0.001, 0.05], or
// exactly 1 with unitScales; with unitScales the Q6_K sub-block scales are drawn from −3..3 so integer sums stay far
// below 2^24 and every fp32 step is exact.
std::vector<std::byte> randomBlocks(bq::DType type, int N, int K, std::mt19937& rng, bool unitScales = false);

// A tensor named "w" viewing the bytes.
bq::Tensor viewTensor(bq::DType type, int N, int K, const std::vector<std::byte>& bytes);

// The kernel paths this CPU (and BQ_CPU) lets run, scalar first.
std::vector<bq::kernels::QPath> supportedPaths();

// fp64 Σ_k ŵ[n][k]·(q[t][k]·d[t][block]) from the type table's dequantizer (Tensor::rowToFloat), an independent
// reference for the kernels, and Σ_k |ŵ·x̂|, the scale of their fp32 tolerance; both T × N.
void referenceProducts(const bq::Tensor& w, const bq::kernels::QuantizedActivations& X, std::vector<double>& y,
                       std::vector<double>& bound);

struct GemmCase {
    std::vector<std::byte> weights; // N × K of the type
    std::vector<float> x;           // T × K activations
    std::vector<float> base;        // T × N: the single-threaded GEMM
};
// Builds a random N × K matrix and T tokens, then CHECKs that the packed linear's GEMM of 1..T tokens with 1..3
// threads and its GEMV of each token equal the single-threaded GEMM bit for bit; returns the case.
GemmCase checkGemmEqualsGemv(bq::DType type, int N, int K, int T, std::mt19937& rng);

} // namespace bqtest
