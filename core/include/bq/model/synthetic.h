// Synthetic models of real architectures with deterministic random weights, for speed, memory and scale
// measurements (no model hub is reachable). Weights are N(0, 0.02²)-like with unit norms.
#pragma once
#include "bq/model/model.h"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bq {

struct SyntheticShape {
    std::string name;
    ModelConfig config;
};

// "stories260k", "ts5m", "opt125m" (Llama-architecture model with OPT-125M dims), "smollm2-135m", "llama3.2-1b",
// "qwen3-0.6b"
const std::vector<SyntheticShape>& syntheticShapes();
const SyntheticShape& syntheticShape(const std::string& name); // throws std::invalid_argument listing names
// dtype F32 (or F16 to halve memory). A byte-level placeholder tokenizer covers the vocabulary.
std::shared_ptr<const Model> makeSyntheticModel(const SyntheticShape& shape, std::uint64_t seed = 1);

} // namespace bq
