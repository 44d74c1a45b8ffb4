// The packed CPU runtime: the same transformer as fp32_model.h, with every linear projection whose weight is
// a packed type (Q1_0, Q4_0, Q8_0, Q6_K, TQ2_0, TQ1_0 — or whatever `linearFactory` supplies, e.g. the
// bitstudio types) run by a PackedLinear, and the rest (norms, non-fitting tensors) in fp32. Matrices of the
// llama.cpp types without packed kernels (Q4_1, Q5_0, Q5_1, Q2_K..Q5_K, Q8_K, IQ4_NL, IQ4_XS) are dequantized
// and repacked once at load to Q8_0 (ggml's rounding per 32 values: at most half a step of max|w|/127 per
// weight) and run by the int8 kernels; a tied embedding of such a type is still looked up exactly, one
// dequantized row per token. Packed weights are used in place (views of
// the mapped file). A packed tied embedding is dequantized one row per token, never as a whole.
#pragma once
#include "bq/runtime/inference.h"
#include "bq/runtime/packed_linear.h"
#include <functional>
#include <memory>
#include <string>

namespace bq {

struct Model;

struct PackedModelOptions {
    bool f16KvCache = false; // halves the KV cache (its traffic and memory); fp32 otherwise
    // Hook for other packed formats: a PackedLinear for a canonical weight name ("blk.3.attn_q.weight",
    // "output.weight" for the head even when tied), or null to use the built-in Q1_0/Q4_0/Q8_0 kernels or fp32.
    // When set, the model's tensor set is not validated up front (component tensors may replace X.weight).
    std::function<std::shared_ptr<const PackedLinear>(const Model&, const std::string& name)> linearFactory;
};

// backendName(): the single packed kind of all linear layers and the head ("q1_0", "q4_0", "q8_0", "q6_k",
// "tq2_0", "tq1_0", or the factory's kind()); several packed kinds joined by "+" ("q1_0+q6_k" for a Q1_0 body
// with a Q6_K head); "mixed" when some of them run in fp32. threads: 0 = hardware concurrency.
std::shared_ptr<InferenceModel> makePackedModel(std::shared_ptr<const Model> model, int threads = 0,
                                                PackedModelOptions options = {});

// True when any attention / FFN / head weight of the model has a type the packed kernels run (Q1_0, Q4_0, Q8_0,
// Q6_K, TQ2_0, TQ1_0).
bool hasPackedLinears(const Model& model);

} // namespace bq
