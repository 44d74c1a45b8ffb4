// A quantized model as an ordinary fp32 Model: every quantized weight replaced by its dequantized values Ŵ
// (the "fake-quantized" reference), so every model consumer (info, writers, the fp32 runtime) works on it.
#pragma once
#include "bq/quant/quantized_model.h"
#include <memory>

namespace bq::quant {

// Quantized tensors become F32 tensors of Ŵ; a quantized output head of a tied model becomes its own
// output.weight (tiedEmbeddings is cleared). Metadata gains "bitstudio.run" and the per-method tensor counts.
std::shared_ptr<const Model> makeFakeQuantizedModel(const QuantizedModel& quantized);

} // namespace bq::quant
