// Hugging Face config.json -> ModelConfig.
//
// Architectures ("architectures"[0], else "model_type"): LlamaForCausalLM/llama, MistralForCausalLM/mistral,
// Qwen2ForCausalLM/qwen2 (q/k/v biases), Qwen3ForCausalLM/qwen3 (per-head q/k RMSNorm, explicit head_dim).
// Required integers: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size.
// Optional: num_key_value_heads (= heads), head_dim (= hidden/heads), rms_norm_eps (1e-6), rope_theta (10000),
// max_position_embeddings (2048 llama, 32768 otherwise), tie_word_embeddings (false), sliding_window,
// rope_scaling (null, "default" or "llama3" {factor, low_freq_factor, high_freq_factor,
// original_max_position_embeddings}; "linear", "dynamic", "yarn", ... are refused naming the field),
// bos_token_id / eos_token_id, torch_dtype. HF checkpoints rotate halves: ropeStyle = NeoX.
#pragma once
#include "bq/model/model_config.h"
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bq {

struct HfConfig {
    ModelConfig config;
    std::int32_t bosId = -1;
    std::vector<std::int32_t> eosIds; // eos_token_id may be an integer or a list
    std::string torchDtype;           // "float32", "bfloat16", ... ("" when absent)
    std::vector<std::pair<std::string, std::string>> metadata; // fields for display, in a fixed order
};

// Throws FormatError(path, field, "an integer" / "a number" / ...) for missing or mistyped fields and for
// text that is not JSON; UnsupportedModel naming the field for architectures or rope scalings we cannot run.
HfConfig parseHfConfig(std::string_view jsonText, const std::string& sourcePath);
HfConfig readHfConfig(const std::filesystem::path& configJson);

// The config.json a writer emits for `config` (torchDtype "float32", "float16" or "bfloat16"); eosId/bosId
// -1 to omit. Keys in a fixed order, indented by 2.
std::string hfConfigJson(const ModelConfig& config, const std::string& torchDtype, std::int32_t bosId,
                         std::int32_t eosId);

} // namespace bq
