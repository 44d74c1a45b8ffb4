#include "bq/model/model_config.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"

namespace bq {

void ModelConfig::checkCaps(const std::string& source) const
{
    auto cap = [&](std::int64_t v, std::int64_t max, const char* field) {
        if (v > max)
            throw FormatError(source, field, "at most " + std::to_string(max) + " (found " + std::to_string(v) + ")");
    };
    cap(dim, limits::kMaxModelDim, "dim (embedding/hidden size)");
    cap(hiddenDim, limits::kMaxModelDim, "hidden_dim (feed-forward size)");
    cap(headDim, limits::kMaxModelDim, "head_dim (key_length)");
    cap(nLayers, limits::kMaxLayers, "n_layers (block_count)");
    cap(nHeads, limits::kMaxHeads, "n_heads (head_count)");
    cap(nKvHeads, limits::kMaxHeads, "n_kv_heads (head_count_kv)");
    cap(vocabSize, limits::kMaxVocab, "vocab_size");
    cap(maxSeqLen, limits::kMaxContext, "context_length (max_position_embeddings)");
    std::int64_t q = 0, kv = 0;
    if (!checkedMul(std::int64_t(nHeads), std::int64_t(headDim), q) || q > limits::kMaxModelDim)
        throw FormatError(source, "n_heads * head_dim",
                          "at most " + std::to_string(limits::kMaxModelDim) + " (found " + std::to_string(nHeads) +
                              " * " + std::to_string(headDim) + ")");
    if (!checkedMul(std::int64_t(nKvHeads), std::int64_t(headDim), kv) || kv > limits::kMaxModelDim)
        throw FormatError(source, "n_kv_heads * head_dim",
                          "at most " + std::to_string(limits::kMaxModelDim) + " (found " + std::to_string(nKvHeads) +
                              " * " + std::to_string(headDim) + ")");
}

void ModelConfig::validate(const std::string& source) const
{
    checkCaps(source);
    auto fail = [&](const std::string& what) { throw UnsupportedModel(source + ": " + what); };
    if (arch != "llama" && arch != "mistral" && arch != "qwen2" && arch != "qwen3")
        fail("architecture '" + arch + "' is not supported (expected llama, mistral, qwen2 or qwen3)");
    if (dim <= 0 || hiddenDim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || headDim <= 0 ||
        vocabSize <= 0 || maxSeqLen <= 0)
        fail("dimensions must be positive (dim " + std::to_string(dim) + ", hidden " + std::to_string(hiddenDim) +
             ", layers " + std::to_string(nLayers) + ", heads " + std::to_string(nHeads) + "/" +
             std::to_string(nKvHeads) + ", head_dim " + std::to_string(headDim) + ", vocab " +
             std::to_string(vocabSize) + ", context " + std::to_string(maxSeqLen) + ")");
    if (nHeads % nKvHeads != 0)
        fail("n_heads " + std::to_string(nHeads) + " is not a multiple of n_kv_heads " + std::to_string(nKvHeads));
    if (headDim % 2 != 0)
        fail("head_dim " + std::to_string(headDim) + " must be even for RoPE");
    if (!(normEps > 0.0f))
        fail("rms_norm_eps must be positive");
    if (!(ropeTheta > 0.0f))
        fail("rope_theta must be positive");
}

} // namespace bq
