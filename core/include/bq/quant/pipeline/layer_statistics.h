// The input statistics of one weight matrix, collected on their own (the studio's Layer lab): Ĥ, H_fp and C as the
// pipeline collects them for that tensor (methods.md §1.2, §1.5), without quantizing anything.
//
// The calibration windows run through the blocks before the tensor's block, both streams at once: the quantized
// stream through the `prefix` run's Ŵ where it has them (its quantized embedding too), the full-precision stream
// through the model's weights. Then one pass of the tensor's own block, still in full precision (the pipeline's
// first pass: true_sequential and recollect_down are not reproduced), collects the Grams at the tensor's input.
// For output.weight all blocks run and the input is the final RMSNorm. Without a prefix both streams are the
// full-precision model's. Same code as the pipeline's (CalibrationStreams, GramCollector), so for the same
// calibration and a prefix equal to a run's earlier blocks the Grams equal that run's bit for bit.
#pragma once
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/methods/method.h"
#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <string>

namespace bq {
struct Model;
class CancelToken;
} // namespace bq

namespace bq::quant {

struct QuantizedModel;

// Ĥ = Σ x̂ x̂ᵀ, H_fp = Σ x xᵀ, C = Σ x̂ xᵀ (m × m, float64, unscaled sums over `tokens` calibration tokens).
struct LayerGrams {
    Eigen::MatrixXd gram, gramFp, crossGram;
    std::int64_t tokens = 0;
    // Pointers into this object, for QuantizeRequest::stats (valid while it lives).
    LayerStatistics statistics() const { return {&gram, &gramFp, &crossGram, tokens}; }
};

// `tensor`: a block linear ("blk.N.attn_q.weight", …) or "output.weight". progress(done, total) after each block
// the streams pass (on the calling thread). Throws std::invalid_argument for another tensor or a calibration token
// outside the vocabulary, bq::Cancelled when cancel is set (checked per calibration sequence). threads: 0 = the
// hardware concurrency; the result does not depend on it.
LayerGrams collectLayerStatistics(const Model& model, const CalibrationSet& calibration, const std::string& tensor,
                                  const QuantizedModel* prefix, const CancelToken& cancel,
                                  const std::function<void(int done, int total)>& progress = {}, int threads = 0);

} // namespace bq::quant
