// Back-end neutral inference API. The fp32 reference transformer implements it now; the packed 1-bit runtime
// implements it later. Generation, perplexity, comparison, chat and benchmarks only talk to this interface.
#pragma once
#include "bq/model/model_config.h"
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bq {

class Tokenizer;

// One sequence's state: its KV cache and position. Not thread-safe; one context per thread of use.
class InferenceContext {
public:
    virtual ~InferenceContext() = default;
    // Runs `tokens` at positions position() .. position()+n-1 (prefill when n > 1) and advances.
    // logits receives n × vocab values when allPositions, else only the last position's vocab values.
    // Throws std::length_error when the tokens do not fit in capacity().
    virtual void forward(std::span<const std::int32_t> tokens, bool allPositions, std::vector<float>& logits) = 0;
    virtual int position() const = 0;
    virtual int capacity() const = 0;
    virtual void reset() = 0;
    // Drops the oldest `count` cached positions (sliding window); later positions keep their RoPE angles
    // relative to each other. Returns false if the back-end cannot.
    virtual bool dropOldest(int count) { (void)count; return false; }
};

class InferenceModel {
public:
    virtual ~InferenceModel() = default;
    virtual const ModelConfig& config() const = 0;
    virtual const Tokenizer& tokenizer() const = 0;
    // A fresh context holding at most maxTokens positions (0 = the model's maxSeqLen).
    virtual std::unique_ptr<InferenceContext> newContext(int maxTokens = 0) const = 0;
    virtual std::string backendName() const = 0; // "fp32", "q1_0", "bitstudio", ...
    virtual int threads() const = 0;
    // Bytes of weights read per decoded token (for the bandwidth roofline).
    virtual std::uint64_t weightBytesPerToken() const = 0;
};

} // namespace bq
