// One entry point for every model format. Detects the format from the path:
//   a directory with config.json              -> Hugging Face (safetensors + tokenizer.json)
//   a file starting with "GGUF"               -> GGUF v2/v3
//   a file starting with "ak42"               -> llama2.c version 1 / 2 (needs a tokenizer)
//   any other file                            -> llama2.c legacy v0 (validated by its exact expected size)
// The demo model (":demo") and run files (.h5) are opened one level up, by workflow/open_model.h.
#pragma once
#include "bq/model/model.h"
#include <filesystem>
#include <memory>
#include <string>

namespace bq {

struct LoadOptions {
    // llama2.c checkpoints: tokenizer.bin path (or a SentencePiece .model / tokenizer.json). If empty,
    // "tokenizer.bin" next to the checkpoint is tried, then "tok<vocab>.bin".
    std::filesystem::path tokenizerPath;
    bool requireTokenizer = true;
};

// Throws FormatError / UnsupportedModel with the file, the field and what was expected.
std::shared_ptr<const Model> loadModel(const std::filesystem::path& path, const LoadOptions& options = {});

// Loads a tokenizer file on its own: llama2.c tokenizer.bin (vocabSize required, from the model),
// SentencePiece .model, tokenizer.json, or a GGUF's embedded vocabulary.
std::shared_ptr<const class Tokenizer> loadTokenizerFile(const std::filesystem::path& path, int vocabSize = 0);

} // namespace bq
