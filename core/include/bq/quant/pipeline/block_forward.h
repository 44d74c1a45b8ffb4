// Batched transformer-block forward pass for calibration (methods.md §1.1): one calibration sequence of T tokens
// at positions 0..T−1 through one Llama-family block (RMSNorm, RoPE interleaved or NeoX, GQA causal attention,
// SwiGLU, Qwen2 q/k/v biases, Qwen3 q/k norms), reporting the input of every linear layer to a hook.
//
// It uses the fp32 runtime's own kernels (kernels_f32.h) in the same order as makeFp32Model, so a model run
// through these blocks gives BIT-IDENTICAL logits to the runtime (a test checks it), and every result is
// independent of how sequences are spread over threads.
#pragma once
#include "bq/model/model_config.h"
#include "bq/runtime/rope.h"
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::quant {

// The four distinct linear inputs of a block: q/k/v share AttnIn, gate/up share FfnIn.
enum class Site : std::uint8_t { AttnIn = 0, AttnOut = 1, FfnIn = 2, FfnMid = 3 };
constexpr int kSiteCount = 4;
const char* siteName(Site s) noexcept;
// The site whose activations feed a block linear ("attn_q" → AttnIn, "ffn_down" → FfnMid, ...).
Site siteOfLinear(const std::string& part);
// The seven linear parts of a block, in the order the driver quantizes them.
const std::array<const char*, 7>& blockLinearParts();

// fp32 views of one block's weights (row-major [out][in], canonical layout). Pointers stay owned elsewhere.
struct BlockWeights {
    const float* attnNorm = nullptr;
    const float* wq = nullptr;
    const float* wk = nullptr;
    const float* wv = nullptr;
    const float* wo = nullptr;
    const float* bq = nullptr;
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* qNorm = nullptr;
    const float* kNorm = nullptr;
    const float* ffnNorm = nullptr;
    const float* wGate = nullptr;
    const float* wUp = nullptr;
    const float* wDown = nullptr;
    // Pointer to the weight of a linear part ("attn_q", ..., "ffn_down"), for replacing it by Ŵ.
    const float*& linear(const std::string& part);
};

// fp32 copies of a block's tensors (converted once from any dtype), owning the storage BlockWeights points to.
class BlockWeightStore {
public:
    BlockWeightStore(const Model& model, int layer);
    const BlockWeights& weights() const noexcept { return m_weights; }
    // The fp32 values of a linear part of this block (n × m row-major).
    const std::vector<float>& linearValues(const std::string& part) const;

private:
    const float* load(const Model& model, const std::string& name, std::int64_t numel);
    BlockWeights m_weights;
    std::vector<std::shared_ptr<const std::vector<float>>> m_owned;
    std::vector<std::pair<std::string, const std::vector<float>*>> m_linear;
};

// Per-thread scratch, sized on first use.
struct BlockScratch {
    std::vector<float> xb, q, k, v, att, hb, hb2, scores, cosv, sinv;
};

// Called with the T × m row-major inputs of a site (valid only during the call).
using SiteHook = std::function<void(Site site, const float* x, int T, int m)>;

// Runs block `weights` on x (T × dim row-major, updated in place to the block output) at positions 0..T−1.
// hook (may be empty) sees each site's inputs. When stopAfter is set, the pass ends right after that site's
// hook (x is then NOT a valid block output).
void forwardBlock(const ModelConfig& config, const Rope& rope, const BlockWeights& weights, float* x, int T,
                  BlockScratch& scratch, const SiteHook& hook = {}, int stopAfter = -1);

// Embedding rows of `tokens` into x (T × dim); `embed` is vocab × dim fp32.
void embedTokens(const float* embed, int dim, const std::int32_t* tokens, int T, float* x);
// Final RMSNorm + head: logits (T × vocab) from the last hidden states x (T × dim); `xb` scratch T × dim.
void headLogits(const ModelConfig& config, const float* outNorm, const float* head, const float* x, int T,
                std::vector<float>& xb, float* logits);

} // namespace bq::quant
