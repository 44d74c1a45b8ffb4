// Rotary position embedding. Pairs are (2i, 2i+1) (Interleaved) or (i, i + hd/2) (NeoX), with
// θ_i = theta^(−2i/hd) computed in fp32 exactly as llama2.c run.c does, optionally rescaled by Llama 3's
// "llama3" rule (HF `_compute_llama3_parameters`). Angles are (float)pos · θ_i, cos/sin in fp32.
#pragma once
#include "bq/model/model_config.h"
#include <cstdint>
#include <vector>

namespace bq {

// The headDim/2 inverse frequencies θ_i (after llama3 scaling when `scaling` is set).
std::vector<float> ropeFrequencies(int headDim, float theta, const std::optional<RopeScaling>& scaling);

class Rope {
public:
    explicit Rope(const ModelConfig& config);
    // cos and sin of the headDim/2 angles at absolute position pos.
    void angles(std::int64_t pos, float* cosOut, float* sinOut) const;
    // Rotates nHeads consecutive heads of headDim values in place.
    void apply(float* vec, int nHeads, const float* cosv, const float* sinv) const;
    const std::vector<float>& frequencies() const noexcept { return m_freq; }
    int headDim() const noexcept { return m_headDim; }
    RopeStyle style() const noexcept { return m_style; }

private:
    int m_headDim;
    RopeStyle m_style;
    std::vector<float> m_freq;
};

} // namespace bq
