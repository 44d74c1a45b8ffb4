#include "bq/runtime/rope.h"
#include <cmath>
#include <numbers>

namespace bq {

std::vector<float> ropeFrequencies(int headDim, float theta, const std::optional<RopeScaling>& scaling)
{
    std::vector<float> freq(static_cast<std::size_t>(headDim / 2));
    for (int i = 0; i < headDim / 2; ++i) {
        // run.c: freq = 1.0f / powf(10000.0f, head_dim / (float)head_size) with head_dim = 2i.
        float f = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(headDim));
        if (scaling) {
            const double orig = scaling->originalMaxPositions;
            const double lowWavelen = orig / scaling->lowFreqFactor;
            const double highWavelen = orig / scaling->highFreqFactor;
            const double wavelen = 2.0 * std::numbers::pi / f;
            if (wavelen < highWavelen) {
                // high frequency: unchanged
            } else if (wavelen > lowWavelen) {
                f = static_cast<float>(f / scaling->factor);
            } else {
                const double smooth = (orig / wavelen - scaling->lowFreqFactor) /
                                      (scaling->highFreqFactor - scaling->lowFreqFactor);
                f = static_cast<float>((1.0 - smooth) * f / scaling->factor + smooth * f);
            }
        }
        freq[static_cast<std::size_t>(i)] = f;
    }
    return freq;
}

Rope::Rope(const ModelConfig& config)
    : m_headDim(config.headDim), m_style(config.ropeStyle),
      m_freq(ropeFrequencies(config.headDim, config.ropeTheta, config.ropeScaling))
{
}

void Rope::angles(std::int64_t pos, float* cosOut, float* sinOut) const
{
    const auto p = static_cast<float>(pos);
    for (std::size_t i = 0; i < m_freq.size(); ++i) {
        const float val = p * m_freq[i];
        cosOut[i] = std::cos(val);
        sinOut[i] = std::sin(val);
    }
}

void Rope::apply(float* vec, int nHeads, const float* cosv, const float* sinv) const
{
    const int half = m_headDim / 2;
    for (int h = 0; h < nHeads; ++h) {
        float* v = vec + static_cast<std::size_t>(h) * static_cast<std::size_t>(m_headDim);
        if (m_style == RopeStyle::Interleaved) {
            for (int i = 0; i < half; ++i) {
                const float v0 = v[2 * i], v1 = v[2 * i + 1];
                v[2 * i] = v0 * cosv[i] - v1 * sinv[i];
                v[2 * i + 1] = v0 * sinv[i] + v1 * cosv[i];
            }
        } else {
            for (int i = 0; i < half; ++i) {
                const float v0 = v[i], v1 = v[i + half];
                v[i] = v0 * cosv[i] - v1 * sinv[i];
                v[i + half] = v0 * sinv[i] + v1 * cosv[i];
            }
        }
    }
}

} // namespace bq
