// Comparison of two models on the same token sequences: mean KL(P_a || P_b) over predicted positions, top-1
// agreement, and both perplexities. The sequences are built exactly as in evaluatePerplexity (same modes).
#pragma once
#include "bq/eval/perplexity.h"

namespace bq {

struct CompareResult {
    double kl = 0;            // mean KL(P_a || P_b), nats
    double top1Agreement = 0; // fraction of positions with the same argmax
    PerplexityResult a, b;
};

// The tokenizers must agree (same vocabulary size and the same ids for the text); else Failed with why.
JobResult compareModels(const InferenceModel& a, const InferenceModel& b, const PerplexityRequest& request,
                        CompareResult& result, EventSink& sink, const CancelToken& cancel);

} // namespace bq
