// The byte-level pre-tokenizers a GGUF names in `tokenizer.ggml.pre`, as llama.cpp maps those names
// (src/llama-vocab.cpp: name -> LLAMA_VOCAB_PRE_TYPE_* -> regex list), expressed as the equivalent Hugging Face
// pipeline: each regex splits every piece of the previous step (behaviour Isolated), then the GPT-2 byte map.
// Only the regex sets whose Hugging Face equivalent is checked against the `tokenizers` package
// (tests/tools/pretokenizer_oracle.py) are listed; any other name is refused (the error lists the accepted names).
// Where llama.cpp rewrote a tokenizer.json regex for its own splitter, the tokenizer.json form is used (the
// model's Hugging Face tokenizer is the reference); gguf_pre_tokenizer.cpp says where that changes the pieces.
//
//   gpt-2 family      one GPT-2 split                                  (gpt-2, gpt2, default, phi-2, mpt, olmo, jais, ...)
//   smollm family     \p{N} (every digit alone), then the GPT-2 split = tokenizers' Sequence[Digits(individual_digits),
//                     ByteLevel(use_regex)]                             (smollm, starcoder, refact, command-r, codeshell,
//                                                                        exaone, minerva, ...)
//   llama3 family     the Llama 3 split; llama.cpp takes a pre-token that is a whole vocabulary entry as is
//                     (ignore_merges) for llama3 / llama-bpe / llama-v3 / falcon3 / pixtral, not for dbrx / smaug-bpe /
//                     glm4 / chatglm-bpe
//   qwen2 family      the Qwen2 split after NFC                          (qwen2, deepseek-r1-qwen)
//   and one name each (or a few aliases): deepseek-llm, deepseek-coder, deepseek-v3, gpt-4o, tekken, seed-coder,
//   bailingmoe, jais-2, bloom, viking (gguf_pre_tokenizer.cpp).
#pragma once
#include "bq/tokenizer/hf_pipeline.h"
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bq {

struct GgufPreTokenizer {
    std::string name;                 // canonical name, written back by GGUF/tokenizer.json writers
    std::vector<std::string> splits;  // regexes applied in order, each piece split again (Isolated)
    bool nfc = false;                 // NFC normalizer first (Qwen)
    bool ignoreMerges = false;        // a pre-token that is itself a vocabulary entry is taken whole
};

// nullopt for a name not in the table. "" means "default".
std::optional<GgufPreTokenizer> ggufPreTokenizer(std::string_view name);

// The canonical name whose regex list is exactly `splits` (a tokenizer.json of Isolated Splits, then ByteLevel
// without its regex), so that a GGUF written from that tokenizer.json names it; nullopt when none is.
std::optional<std::string> ggufPreTokenizerForSplits(const std::vector<std::string>& splits);

// The accepted names, comma separated, for error messages.
std::string ggufPreTokenizerNames();

// The normalizer and pre-tokenizer a GgufPreTokenizer stands for, regexes compiled.
struct GgufPipeline {
    hf::Normalizer normalizer;
    hf::PreTokenizer preTokenizer;
};
GgufPipeline ggufPipeline(const GgufPreTokenizer& pre);

// The pre-token pieces of `text` (normalized first): what BPE merges run on, before the byte map. For debugging
// and the oracle test (`tokenize --pre-tokens`).
std::vector<std::string> preTokenPieces(const GgufPipeline& pipeline, std::string_view text);

} // namespace bq
