// A block's weights as the quantization pipeline uses them: fp32 copies it can quantize and replace by Ŵ, viewed
// as the runtime's BlockWeights (transformer_block.h) so its calibration passes run the runtime's own block.
#pragma once
#include "bq/runtime/transformer_block.h"
#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::quant {

// The linear parts reading each site, in the order the pipeline quantizes them: attn_q/k/v (AttnIn),
// attn_output (AttnOut), ffn_gate/up (FfnIn), ffn_down (FfnMid).
const std::array<std::vector<std::string>, kBlockSiteCount>& siteLinearParts();
const char* siteName(BlockSite site) noexcept; // "attn_in", "attn_out", "ffn_in", "ffn_mid"

// fp32 copies of one block's tensors (converted once from any dtype), owning the storage weights() points to.
// Throws bq::FormatError naming a tensor of the wrong size.
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

} // namespace bq::quant
