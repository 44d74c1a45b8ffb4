#include "bq/model/model_config.h"
#include "bq/util/errors.h"

namespace bq {

void ModelConfig::validate(const std::string& source) const
{
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
