// Perplexity (methods.md §2): `windows` — the GPTQ protocol (whole text tokenized once, non-overlapping
// windows of ctx tokens, tail dropped, exp of the mean NLL over all predicted tokens); `docs` — blank-line
// separated documents, each its own sequence with BOS, truncated to the model context, token-weighted.
#pragma once
#include "bq/jobs/job.h"
#include <cstdint>
#include <string>
#include <vector>

namespace bq {

class InferenceModel;

enum class PerplexityMode : std::uint8_t { Windows, Docs };

struct PerplexityRequest {
    std::string text;                 // the whole evaluation text
    PerplexityMode mode = PerplexityMode::Windows;
    int ctx = 0;                      // window length (windows) / truncation (docs); 0 = model context
    int docBegin = 0, docEnd = -1;    // docs mode range [begin, end); -1 = all
    bool addBos = true;               // windows mode: one BOS at the very start if the tokenizer uses BOS
};

struct PerplexityResult {
    double ppl = 0;
    double meanNll = 0;         // nats per predicted token
    std::int64_t tokens = 0;    // predicted tokens
    std::int64_t sequences = 0; // windows or documents scored
};

// Splits text into blank-line separated documents (one or more empty lines separate; surrounding
// whitespace trimmed; empty documents dropped).
std::vector<std::string> splitDocuments(const std::string& text);

// Job contract: progress per window/document; cancel checked per window/document.
JobResult evaluatePerplexity(const InferenceModel& model, const PerplexityRequest& request,
                             PerplexityResult& result, EventSink& sink, const CancelToken& cancel);

} // namespace bq
