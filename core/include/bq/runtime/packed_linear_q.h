// PackedLinear over a Q1_0 / Q4_0 / Q8_0 / Q6_K / TQ2_0 / TQ1_0 weight tensor (llama.cpp blocks), as a view of the tensor's bytes
// (a mapped GGUF file or an owned buffer): no copy, the tensor's owner is kept alive.
#pragma once
#include "bq/model/tensor.h"
#include "bq/runtime/kernels_q.h"
#include "bq/runtime/packed_linear.h"
#include <memory>

namespace bq {

// Throws std::invalid_argument for another dtype, a non-2-D shape, K not a multiple of the block size, or
// fewer bytes than rows × row bytes.
std::shared_ptr<const PackedLinear> makeBlockPackedLinear(const Tensor& weight);

// When `linear` is a block-packed linear: sets out.W / out.q1 / out.N and its weight type, returns true (for
// kernels::packedMatmulMulti, which shares one activation quantization between projections).
bool blockOperands(const PackedLinear& linear, kernels::PackedMatrixOut& out, DType& type);

} // namespace bq
