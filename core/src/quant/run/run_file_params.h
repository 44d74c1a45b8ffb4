// QuantizedLinear <-> the "params" group of a run file layer (layout in bq/quant/run_file.h). Floats are
// stored as float32 without conversion and signs/element masks as packed bits, so the round trip is exact.
#pragma once
#include "bq/model/quantized_linear.h"
#include "run_file_h5.h"

namespace bq::quant {

void writeParams(const h5::Ctx& c, hid_t layerGroup, const QuantizedLinear& q);
QuantizedLinear readParams(const h5::Ctx& c, hid_t layerGroup, const std::string& tensor);

} // namespace bq::quant
