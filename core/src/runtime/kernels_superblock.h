// Packed kernels for llama.cpp's 256-weight super-block types that run with int8 activations in blocks of 256
// (the shape of ggml's Q8_K operand): Q6_K (the tied-embedding / head type stock llama.cpp writes next to Q1_0
// bodies, and a body type of Q4_K_M files), TQ2_0 and TQ1_0 (ternary bodies).
//
// Each super-block's dot product with the activations is exact integer arithmetic, then scaled once by d_w·d_x:
//   Q6_K   Σ_s sc_s · Σ_{j in sub-block s} (q_j − 32)·x_j   (16 sub-blocks of 16, sc_s int8, q_j 6-bit)
//   TQ2_0  Σ_j t_j·x_j − Σ_j x_j                             (t_j ∈ 0..3 from 2-bit fields, weight t − 1)
//   TQ1_0  the same with t_j ∈ 0..2 from base-3 digits (five per byte)
// The scalar functions here are the reference: they decode each super-block into integers in block order
// (ggml-common.h / ggml-quants.c layouts, restated in kernels_superblock.cpp) and accumulate
// Σ_b (d_w·d_x)·isum_b sequentially in fp32. The AVX2 / AVX-512 files (kernels_superblock_ymm.inl) compute
// the same integers per block and accumulate the scaled sums in 8 fp32 lanes; test_packed_superblock checks
// them against this reference and both against the type table's dequantizers.
#pragma once
#include "bq/runtime/kernels_q.h"
#include <cstddef>
#include <cstdint>

namespace bq::kernels::detail {

constexpr int kSuperBlock = 256;

// Q6_K, TQ2_0, TQ1_0.
constexpr bool isSuperBlockType(DType t) noexcept
{
    return t == DType::Q6_K || t == DType::TQ2_0 || t == DType::TQ1_0;
}

// One super-block decoded to integers: w_j = d · scale_{j/16} · q_j (scale ≡ 1 for the ternary types, whose
// q_j = t_j − 1). Returns d's fp16 bits.
std::uint16_t decodeSuperBlock(DType type, const std::byte* block, std::int8_t* q, std::int8_t* scales);

// superblock_quantize.cpp: a row quantizer to Q6_K / TQ2_0 / TQ1_0 (simple rounding, see there), nullptr for
// other types. For the packed runtime's in-memory conversions where the type table has none.
TensorTypeTraits::QuantizeRow superBlockQuantizer(DType type) noexcept;

// Row-range kernels, same contract as kernels::packedMatmulRows (X.block == 256).
void superBlockMatmulRowsScalar(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                                float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd);
void superBlockMatmulRowsAvx2(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                              float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd);
void superBlockMatmulRowsAvxVnni(DType type, const std::byte* W, std::size_t rowBytes,
                                 const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                                 std::size_t rowEnd);
void superBlockMatmulRowsAvx512(DType type, const std::byte* W, std::size_t rowBytes,
                                const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                                std::size_t rowEnd);

} // namespace bq::kernels::detail
