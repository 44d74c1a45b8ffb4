// PackedLinear for the bitstudio layout: executes any QuantizedLinear (sign planes with masks, row/column
// scales and means, integer code planes) without dequantizing it. Weights stay packed (1 bit per sign, 1 bit
// per mask, uint8 codes); activations stay fp32, so the result equals Ŵx up to float summation order
// (no activation quantization error: the bitstudio runtime is the exact reference for every method).
//
// Per plane and row i: y_i += Σ_g scale[i,g]·Σ_{j∈g} mask·s_ij·(colscale_j x_j) + mean[i,g]·Σ_{j∈g} mask·x_j.
// Codes: y_i += Σ_g code_scale[i,g]·(Σ_{j∈g} q_ij x_j − code_zero[i,g]·Σ_{j∈g} x_j).
// Kernels: scalar reference, and AVX2 (one byte of sign/mask bits -> 8 float lanes through 256-entry XOR/AND
// tables) when the CPU has it and each group is a multiple of 8 columns. BQ_CPU=scalar forces the reference.
#pragma once
#include "bq/model/quantized_linear.h"
#include "bq/runtime/packed_linear.h"
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace bq {
struct Model;
}

namespace bq {

enum class BitstudioKernel : std::uint8_t { Auto, Scalar, Avx2 };

std::unique_ptr<PackedLinear> makeBitstudioPackedLinear(const QuantizedLinear& layer,
                                                        BitstudioKernel kernel = BitstudioKernel::Auto);

// A PackedModelOptions::linearFactory (runtime/packed_model.h): a PackedLinear for a canonical weight name, or null.
using LinearFactory = std::function<std::shared_ptr<const PackedLinear>(const Model&, const std::string&)>;

// A linearFactory that builds, for every 2-D float matrix it is asked for, the bitstudio layer of XNOR `sign`
// with one fp16 mean-|w| scale per row — no calibration, for `bench` to time the bitstudio kernels on an fp32
// (e.g. synthetic) model. Null for names the model does not hold as a matrix.
LinearFactory bitstudioSignFactory(BitstudioKernel kernel = BitstudioKernel::Auto);

} // namespace bq
