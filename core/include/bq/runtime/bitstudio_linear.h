// PackedLinear for the bitstudio layout: executes any QuantizedLinear (sign planes with masks, row/column
// scales and means, integer code planes) without dequantizing it, in one of two forms:
// - int8 (the default where it fits): every part rewritten as Q1_0-style ±1 bitmaps run by the packed Q1_0
//   kernels against int8 activations (bitstudio_int8.h): the weights exact, the activations rounded per 128
//   columns as for llama.cpp's Q1_0, at about a Q1_0 layer's cost per bitmap;
// - fp32 activations, the exact reference: weights packed (1 bit per sign, 1 bit per mask, uint8 codes),
//   activations fp32, so the result equals Ŵx up to float summation order.
//
// Per plane and row i: y_i += Σ_g scale[i,g]·Σ_{j∈g} mask·s_ij·(colscale_j x_j) + mean[i,g]·Σ_{j∈g} mask·x_j.
// Codes: y_i += Σ_g code_scale[i,g]·(Σ_{j∈g} q_ij x_j − code_zero[i,g]·Σ_{j∈g} x_j).
// Kernels: scalar reference, and AVX2 (one byte of sign/mask bits -> 8 float lanes through 256-entry XOR/AND
// tables) when the CPU has it and each group is a multiple of 8 columns. BQ_CPU=scalar forces the reference.
// The int8 form needs scale groups of a multiple of 128 columns (or whole rows) and fp16 scales and means, as
// every exporter stores them; other layers take the fp32 form.
#pragma once
#include "bq/model/quantized_linear.h"
#include "bq/runtime/kernels_q.h"
#include "bq/runtime/packed_linear.h"
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace bq {
struct Model;
}

namespace bq {

// Auto: int8 where the layer fits, else Fp32. Fp32: the exact reference, AVX2 when present. Scalar / Avx2: the
// fp32 form on that path. Int8: the int8 form or std::invalid_argument naming why the layer does not fit.
enum class BitstudioKernel : std::uint8_t { Auto, Fp32, Scalar, Avx2, Int8 };

std::unique_ptr<PackedLinear> makeBitstudioPackedLinear(const QuantizedLinear& layer,
                                                        BitstudioKernel kernel = BitstudioKernel::Auto);

// The int8 form (bitstudio_linear_int8.cpp) on one Q1_0 kernel path. Empty refusal = the layer fits; otherwise
// why not (e.g. "plane 0: groups of 64 columns are not a multiple of 128"). For a layer that does not fit,
// makeBitstudioInt8Linear returns null and sets *refusal, or, without `refusal`, throws std::invalid_argument with
// the reason; it throws too when the CPU lacks `path`.
std::string bitstudioInt8Refusal(const QuantizedLinear& layer);
std::unique_ptr<PackedLinear> makeBitstudioInt8Linear(const QuantizedLinear& layer, kernels::QPath path,
                                                      std::string* refusal = nullptr);

// A PackedModelOptions::linearFactory (runtime/packed_model.h): a PackedLinear for a canonical weight name, or null.
using LinearFactory = std::function<std::shared_ptr<const PackedLinear>(const Model&, const std::string&)>;

// A linearFactory that builds, for every 2-D float matrix it is asked for, the bitstudio layer of XNOR `sign`
// with one fp16 mean-|w| scale per row — no calibration, for `bench` to time the bitstudio kernels on an fp32
// (e.g. synthetic) model. Null for names the model does not hold as a matrix.
LinearFactory bitstudioSignFactory(BitstudioKernel kernel = BitstudioKernel::Auto);

} // namespace bq
