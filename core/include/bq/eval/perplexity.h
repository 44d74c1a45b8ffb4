// Perplexity (methods.md §2): `windows` — the GPTQ protocol (whole text tokenized once, non-overlapping
// windows of ctx tokens, tail dropped, exp of the mean NLL over all predicted tokens); `docs` — blank-line
// separated documents, each its own sequence with BOS, truncated to the model context, token-weighted.
#pragma once
#include "bq/jobs/job.h"
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bq {

class InferenceModel;
class Tokenizer;

enum class PerplexityMode : std::uint8_t { Windows, Docs };

struct PerplexityRequest {
    std::string text;                 // the whole evaluation text
    PerplexityMode mode = PerplexityMode::Windows;
    int ctx = 0;                      // window length (windows) / truncation (docs); 0 = model context
    int docBegin = 0, docEnd = -1;    // docs mode range [begin, end); -1 = all
    int windowBegin = 0, windowEnd = -1; // windows mode: the windows [begin, end) of the text; -1 = all (the
                                         // GPTQ protocol scores all; a range is for quick, stated subsets)
    bool addBos = true;               // windows mode: one BOS at the very start if the tokenizer uses BOS
};

struct PerplexityResult {
    double ppl = 0;
    double meanNll = 0;         // nats per predicted token
    std::int64_t tokens = 0;    // predicted tokens
    std::int64_t sequences = 0; // windows or documents scored
};


// The token sequences a request scores, shared by evaluatePerplexity and compareModels. windows: the text
// tokenized once (one BOS at the start when request.addBos and the tokenizer adds BOS by default), cut into
// floor(tokens / ctx) windows of ctx tokens, tail dropped, then [windowBegin, windowEnd) of them. docs: per document of [docBegin, docEnd), [BOS] +
// encode(doc) (BOS under the same rule), truncated to ctx; documents with fewer than two tokens are skipped.
// `ctx` is the resolved length (> 0). Returns "" on success, else why there is nothing to score. Throws
// Cancelled when `cancel` is set (checked per document).
std::string buildEvalSequences(const Tokenizer& tokenizer, const PerplexityRequest& request, int ctx,
                               std::vector<std::vector<std::int32_t>>& sequences, const CancelToken& cancel);

// log Σ exp(x_i), in double, stable for any float input (shifted by the maximum).
double logSumExp(std::span<const float> x) noexcept;

// Job contract: progress per window/document; cancel checked per window/document.
JobResult evaluatePerplexity(const InferenceModel& model, const PerplexityRequest& request,
                             PerplexityResult& result, EventSink& sink, const CancelToken& cancel);

} // namespace bq
