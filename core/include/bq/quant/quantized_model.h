// A quantized model: the base model plus the exact parameters of every quantized linear layer. Produced by
// the quantization pipeline, stored in the HDF5 run file, read by the fake-quantized reference runtime and
// by the exporters.
#pragma once
#include "bq/model/quantized_linear.h"
#include "bq/runtime/fp32_model.h"
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace bq {
struct Model;
}

namespace bq::quant {

struct QuantizedModel {
    std::shared_ptr<const Model> base;                // the full-precision model the run started from
    std::map<std::string, QuantizedLinear> layers;    // canonical tensor name → parameters
    nlohmann::json recipe;                            // the recipe as resolved for this model
    std::string modelFingerprint, calibrationFingerprint;
    std::string runPath;                              // the run file it came from, if any

    // Dequantized weights of every quantized layer, for makeFp32Model (the fake-quantized reference).
    WeightOverrides fakeQuantOverrides() const;
};

} // namespace bq::quant
