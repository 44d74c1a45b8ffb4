// Token sampling: greedy (temperature 0), temperature, top-k, top-p, min-p, repetition penalty, seed.
// The random generator and top-p procedure follow llama2.c run.c (xorshift*), so seeded runs are reproducible.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace bq {

struct SamplerConfig {
    float temperature = 1.0f; // 0 = greedy
    int topK = 0;             // 0 = off
    float topP = 0.9f;        // 1 or 0 = off
    float minP = 0.0f;        // 0 = off
    float repetitionPenalty = 1.0f; // 1 = off (CTRL-style: divide positive logits, multiply negative)
    int repeatLastN = 64;
    std::uint64_t seed = 0;   // 0 = time-based
};

class Sampler {
public:
    explicit Sampler(const SamplerConfig& config, int vocabSize);
    // Modifies logits in place (penalty, temperature). history = tokens so far.
    std::int32_t sample(std::span<float> logits, std::span<const std::int32_t> history);
    const SamplerConfig& config() const noexcept { return m_config; }

private:
    float randomFloat();
    SamplerConfig m_config;
    int m_vocabSize;
    std::uint64_t m_state;
    std::vector<std::pair<float, int>> m_candidates;
};

} // namespace bq
