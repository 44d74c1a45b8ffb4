// The in-memory model: a config, named tensors under canonical GGUF names (see tensor_names.h), the
// tokenizer, and the metadata the model panel shows. Tensors are views into mapped files where possible.
#pragma once
#include "bq/model/model_config.h"
#include "bq/model/tensor.h"
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bq {

class Tokenizer;

struct Model {
    ModelConfig config;
    std::map<std::string, Tensor> tensors; // canonical names: token_embd.weight, blk.0.attn_q.weight, ...
    std::shared_ptr<const Tokenizer> tokenizer;

    std::string sourcePath;   // file or directory it was loaded from
    std::string sourceFormat; // "llama2c-v0", "llama2c-v1", "llama2c-v2", "hf-safetensors", "gguf", "demo", ...
    // Ordered key/value pairs for display (GGUF metadata, config.json fields, llama2.c header), values as text.
    std::vector<std::pair<std::string, std::string>> metadata;
    std::string chatTemplate; // Jinja text from tokenizer_config.json or GGUF, when present

    const Tensor& tensor(const std::string& name) const; // throws std::out_of_range naming the tensor
    const Tensor* find(const std::string& name) const noexcept;
    // The output head: output.weight, or token_embd.weight when tied.
    const Tensor& outputHead() const;
    std::int64_t parameterCount() const noexcept;
    // Checks every tensor the architecture needs is present with the right shape; throws FormatError naming
    // sourcePath, the tensor and the expected shape.
    void validateTensors() const;
};

} // namespace bq
