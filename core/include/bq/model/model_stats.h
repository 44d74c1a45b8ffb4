// The type mix of a model, computed once for `info`, the model summary and the overview: per data type the
// tensors, parameters (elements) and bytes, and the totals.
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

    // The model's overall 8 · Σbytes / Σparameters (0 without parameters).
    double bitsPerWeight() const noexcept;
};

ModelStats modelStats(const Model& model);

} // namespace bq
