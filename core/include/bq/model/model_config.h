// Architecture hyper-parameters shared by every loader, the runtime and the writers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bq {

// How RoPE pairs the dimensions of a head.
//  Interleaved: pairs (2i, 2i+1) — llama2.c, GGUF `llama`.
//  NeoX: pairs (i, i + hd/2) ("rotate half") — HF Llama/Mistral/Qwen checkpoints, GGUF `qwen2`/`qwen3`.
enum class RopeStyle : std::uint8_t { Interleaved, NeoX };

// Llama 3.x "llama3" frequency scaling (HF rope_scaling.rope_type == "llama3").
struct RopeScaling {
    float factor = 8.0f;
    float lowFreqFactor = 1.0f;
    float highFreqFactor = 4.0f;
    int originalMaxPositions = 8192;
};

struct ModelConfig {
    std::string arch = "llama"; // llama | mistral | qwen2 | qwen3
    int dim = 0;                // hidden size
    int hiddenDim = 0;          // FFN intermediate size
    int nLayers = 0;
    int nHeads = 0;
    int nKvHeads = 0;
    int headDim = 0;            // usually dim / nHeads; Qwen3 may differ
    int vocabSize = 0;
    int maxSeqLen = 0;          // context length
    float normEps = 1e-5f;
    float ropeTheta = 10000.0f;
    RopeStyle ropeStyle = RopeStyle::Interleaved;
    std::optional<RopeScaling> ropeScaling;
    bool tiedEmbeddings = false; // output head reads token_embd.weight
    bool qkvBias = false;        // Qwen2
    bool qkNorm = false;         // Qwen3 per-head RMSNorm on q and k
    int slidingWindow = 0;       // Mistral (0 = none); informational

    int qDim() const noexcept { return nHeads * headDim; }
    int kvDim() const noexcept { return nKvHeads * headDim; }
    // Throws UnsupportedModel with the offending field when the numbers are inconsistent.
    void validate(const std::string& source) const;
    // Throws FormatError(source, field, ...) when a dimension exceeds its cap (bq/util/limits.h) or when
    // n_heads * head_dim / n_kv_heads * head_dim overflow the caps; checks no lower bounds (validate does).
    // Readers call it as soon as the fields are read, before anything is sized from them.
    void checkCaps(const std::string& source) const;
};

} // namespace bq
