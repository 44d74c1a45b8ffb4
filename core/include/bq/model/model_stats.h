// The type mix of a model, computed once for `info`, the model summary and the overview: per data type the
// tensors, parameters (elements) and bytes, and the totals, overall and over the 2-D tensors. Bytes are the
// stored tensor bytes (blocks with their scales), so 8 · bytes / parameters is the true storage cost per weight.
#pragma once
#include "bq/model/tensor_types.h"
#include <cstdint>
#include <vector>

namespace bq {

struct Model;

struct TypeUsage {
    DType type = DType::F32;
    int tensors = 0;
    std::int64_t parameters = 0;
    std::uint64_t bytes = 0;

    // 8 · bytes / parameters (0 without parameters).
    double bitsPerWeight() const noexcept;
};

struct ModelStats {
    std::vector<TypeUsage> byType; // the types present, in DType order
    int tensors = 0;
    std::int64_t parameters = 0;   // equals Model::parameterCount()
    std::uint64_t bytes = 0;
    // The 2-D tensors alone (the linear layers and the embeddings, where a quantizer spends its bits; the norms
    // and biases are 1-D).
    int matrixTensors = 0;
    std::int64_t matrixParameters = 0;
    std::uint64_t matrixBytes = 0;

    // The model's overall 8 · Σbytes / Σparameters (0 without parameters).
    double bitsPerWeight() const noexcept;
    // 8 · Σbytes / Σparameters over the 2-D tensors (0 without any).
    double matrixBitsPerWeight() const noexcept;
};

ModelStats modelStats(const Model& model);

} // namespace bq
