// Quantizing one weight matrix (method + analysis) as a job that touches no shared state, and running a batch
// of independent ones on all workers at once. Each result depends only on the job's own inputs, so the results
// do not depend on the thread count or on which worker ran which job.
#pragma once
#include "bq/model/quantized_linear.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/recipe/recipe.h"
#include "gram_collector.h"
#include <optional>
#include <string>
#include <vector>

namespace bq::quant {

struct LayerJob {
    // Inputs: the resolution, the fp32 weight (rt->rows × rt->cols row-major), the input statistics (null: none).
    const ResolvedTensor* rt = nullptr;
    const float* weight = nullptr;
    const SiteGrams* grams = nullptr;
    // Outputs.
    std::optional<QuantizedLinear> params;
    MatrixXfR quantized;            // Ŵ = params->dequantize()
    LayerResult result;             // the analysis metrics and arrays, timings
    std::vector<std::string> notes; // the method's notes, "<tensor>: <note>", for the log
};

class LayerQuantizer {
public:
    // tokens: the calibration tokens the Grams sum over.
    LayerQuantizer(const AnalysisOptions& analysis, std::int64_t tokens, const CancelToken& cancel)
        : m_analysis(analysis), m_tokens(tokens), m_cancel(cancel)
    {
    }
    // Runs the job's method and analysis. Throws what the method throws (std::logic_error for a result of the
    // wrong shape or a two-stream method without the FP statistics).
    void run(LayerJob& job) const;
    // Runs every job, all workers at once, the largest first; rethrows the first failure in job order.
    void runAll(std::vector<LayerJob>& jobs, ThreadPool& pool) const;

private:
    const AnalysisOptions& m_analysis;
    std::int64_t m_tokens;
    const CancelToken& m_cancel;
};

} // namespace bq::quant
