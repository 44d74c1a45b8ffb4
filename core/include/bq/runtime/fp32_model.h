// The fp32 reference transformer (Llama family: llama, mistral, qwen2 with q/k/v biases, qwen3 with q/k
// norms), llama2.c run.c numerics: the embedding, every block through transformer_block.h (the block the
// quantization pipeline runs too), the final norm and the head. Prefill runs each chunk as GEMMs, decode as GEMVs
// (kernels_f32.h).
//
// Weights: F32 tensors are used in place (no copy of the mapped file); F16/BF16/Q8_0/... are converted to fp32
// once at construction. The model owns a ThreadPool shared by its contexts; concurrent forward() calls from
// different contexts are serialised on it.
//
// Sliding window: dropOldest(n) shifts the KV cache down by n entries. position() counts the cached entries
// (so position() + n ≤ capacity() is the fit test), while new tokens are rotated at their ABSOLUTE position
// (position() + everything dropped so far): the kept keys keep their RoPE angles, and relative angles between
// queries and kept keys are exactly those of the original sequence.
#pragma once
#include "bq/runtime/inference.h"
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bq {

struct Model;

// Replaces named weights (canonical names, e.g. "blk.3.attn_q.weight") by fp32 values of the same element
// count. "output.weight" replaces the output head even when the model ties it to token_embd.weight.
// Throws std::invalid_argument for an unknown name or a wrong size.
using WeightOverrides = std::map<std::string, std::shared_ptr<const std::vector<float>>>;

// threads: 0 = hardware concurrency. Throws UnsupportedModel / FormatError for an invalid model.
std::shared_ptr<InferenceModel> makeFp32Model(std::shared_ptr<const Model> model, int threads = 0,
                                              WeightOverrides overrides = {});

} // namespace bq
