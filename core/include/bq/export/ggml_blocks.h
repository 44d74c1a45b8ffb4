// Exact packing of a dequantized weight matrix Ŵ (n × m, row-major) into llama.cpp block types, and the
// explicit Q1_0 refit. The packers never round a weight: they either find a block encoding whose decoded
// values equal Ŵ bit for bit (as ggml decodes them: value = fp16 d · level, in float) or report why not. The
// bytes come from the block encoders of the tensor-type table (layouts in model/tensor_types.h).
//
//   Q1_0: exact when every 128-block holds only ±d for one fp16 d >= 0 (levels ±1).
//   Q4_0: exact when every 32-block is d·(q − 8) for one fp16 d and integers q − 8 ∈ −8..7. Sign × scale maps
//         to d = scale, q = 9 (+) / 7 (−).
#pragma once
#include "bq/model/quantized_linear.h"
#include <cstddef>
#include <string>
#include <vector>

namespace bq::exporter {

// Appends the Q1_0 bytes of Ŵ to `out` (18 · m/128 bytes per row) and returns "", or returns why Ŵ is not
// exactly Q1_0 (naming the row and block) and leaves `out` as it was. m must be a multiple of 128.
std::string packQ1_0(const MatrixXfR& w, std::vector<std::byte>& out);
// Same for Q4_0 (18 · m/32 bytes per row); m must be a multiple of 32.
std::string packQ4_0(const MatrixXfR& w, std::vector<std::byte>& out);

// Refit to Q1_0: signs = sgn(Ŵ) (+1 for 0, as ggml's bit = (w >= 0)), and per row and 128-block the
// least-squares scale for those signs against Ŵ, d = fp16(mean |Ŵ|) — the scale that keeps the method's own
// result as close as possible (the original W and its Hessian are not part of a QuantizedModel). The result
// is method "q1_0-refit" and isExactQ1_0(). m must be a multiple of 128.
QuantizedLinear refitToQ1_0(const QuantizedLinear& layer);

// Why a layer is not exactly Q1_0 in words (planes, masks, scales), for the refusal message.
std::string q1_0Obstacle(const QuantizedLinear& layer);

} // namespace bq::exporter
