// Loads a Hugging Face model directory:
//   config.json                                  -> ModelConfig (hf_config.h), ropeStyle NeoX
//   model.safetensors | model-0000N-of-0000M.safetensors + model.safetensors.index.json
//                                                -> tensors (zero-copy views, F32/F16/BF16) under canonical names
//   tokenizer.json (+ tokenizer_config.json)     -> HfBpeTokenizer; else tokenizer.model -> SentencePiece
//   tokenizer_config.json "chat_template"        -> Model::chatTemplate
// Tensors with no canonical name (rotary inv_freq buffers, ...) are skipped and listed in the metadata.
#pragma once
#include "bq/model/model.h"
#include <filesystem>
#include <memory>

namespace bq {

// Throws FormatError / UnsupportedModel naming the file, the field and what was expected.
std::shared_ptr<Model> loadHfDirectory(const std::filesystem::path& dir);

} // namespace bq
