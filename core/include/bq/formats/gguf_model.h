// GGUF model loading: architectures llama (also Mistral, which llama.cpp files as llama), mistral, qwen2, qwen3.
//
// Keys read (<a> = general.architecture): <a>.context_length, embedding_length, block_count,
// feed_forward_length, attention.head_count, attention.head_count_kv (= head_count),
// attention.layer_norm_rms_epsilon, rope.freq_base (10000), rope.dimension_count (must equal the head size:
// partial rotary is refused), attention.key_length / value_length (head size, = embedding/head_count).
// RoPE order: GGUF llama stores q/k rows permuted to interleaved pairs -> ropeStyle Interleaved; qwen2/qwen3
// keep rotate-half -> NeoX. Tensors are zero-copy views with dims reversed (ne [K, N] -> shape [N, K]).
//
// RoPE scaling: "llama3" frequency scaling is read from bitstudio.rope.scaling.{type, factor, low_freq_factor,
// high_freq_factor, original_context_length} (what writeGguf emits) or, in llama.cpp files, from the
// rope_freqs.weight tensor of per-pair frequency divisors, which must match the llama3 formula with
// <a>.rope.scaling.factor (else its largest value), low 1, high 4 and <a>.rope.scaling.original_context_length
// (else 8192). rope_freqs is then dropped from the tensor map. <a>.rope.scaling.type "linear"/"yarn"/... with a
// factor other than 1 is refused (UnsupportedModel).
//
// Tokenizer: tokenizer.ggml.model "llama" -> SpBpeTokenizer (tokens, scores, token_type, *_token_id,
// add_bos_token, add_space_prefix); "gpt2" -> HfBpeTokenizer::fromGguf (merges, pre). Absent -> no tokenizer.
#pragma once
#include "bq/model/model.h"
#include <filesystem>
#include <memory>
#include <vector>

namespace bq {

class GgufFile;
class Tokenizer;

std::shared_ptr<Model> loadGgufModel(const std::filesystem::path& path);
// The embedded tokenizer of an opened GGUF file, or nullptr when it has none.
std::shared_ptr<const Tokenizer> tokenizerFromGguf(const GgufFile& file);
// llama.cpp's rope_freqs.weight values for llama3 scaling: one frequency divisor per rotated pair (head_dim / 2),
// as convert_hf_to_gguf.py computes them.
std::vector<float> llama3RopeFactors(const ModelConfig& config, const RopeScaling& scaling);

} // namespace bq
