// The values a job reports while it runs (job.h): progress, per-layer results. Plain value types, so views
// and item models can hold them without knowing about sinks, tokens or threads.
#pragma once
#include "bq/util/log_level.h"
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bq {

enum class Stage : std::uint8_t { Load, Calibrate, Quantize, Evaluate, Pack, Export, Generate, Bench };
const char* stageName(Stage s) noexcept;

struct ProgressEvent {
    Stage stage = Stage::Load;
    std::int32_t step = 0, stepCount = 0; // e.g. block 12 of 32
    std::int32_t sub = 0, subCount = 0;   // e.g. matrix 3 of 7
    double elapsedSec = 0, etaSec = -1;   // etaSec < 0: unknown
    std::uint64_t rssBytes = 0;
};

// Immutable arrays attached to a layer result (spectra, histograms, masks), shared, never copied.
struct LayerArrays {
    std::map<std::string, std::vector<double>> values;
};

struct LayerResult {
    std::string tensor;
    std::int32_t block = -1;
    std::string method, decidedBy;
    std::map<std::string, double> metrics;
    std::shared_ptr<const LayerArrays> arrays;
    double bitsPerWeight = 0, seconds = 0;
};

// One finished transformer block of a quantization run: the residual stream after the block compared with the
// full-precision model (metrics "residual.rel_mse", "residual.mean_cosine", "token_sim.*"; empty when the run
// keeps no full-precision stream) and the wall seconds the block took.
struct BlockResult {
    std::int32_t block = -1;
    std::map<std::string, double> metrics;
    std::shared_ptr<const LayerArrays> arrays; // per-sequence token-similarity errors; null when not computed
    double seconds = 0;
};

} // namespace bq
