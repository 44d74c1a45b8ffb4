// Sampling as llama2.c run.c does it (xorshift* RNG, softmax, top-p with the (1−p)/(n−1) pre-filter), plus
// repetition penalty, top-k and min-p. With topK = 0, minP = 0 and no penalty a seeded run draws exactly the
// tokens run.c draws for the same logits.
#include "bq/runtime/sampler.h"
#include "bq/runtime/kernels_f32.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace bq {

Sampler::Sampler(const SamplerConfig& config, int vocabSize)
    : m_config(config), m_vocabSize(vocabSize), m_state(config.seed)
{
    if (vocabSize <= 0)
        throw std::invalid_argument("Sampler: vocabulary size must be positive, got " + std::to_string(vocabSize));
    if (!(config.temperature >= 0.0f))
        throw std::invalid_argument("Sampler: temperature must be >= 0");
    if (m_state == 0) {
        // run.c seeds with time(NULL); mix in the clock so two samplers made in the same second differ.
        m_state = static_cast<std::uint64_t>(std::time(nullptr)) ^
                  static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) *
                      0x9E3779B97F4A7C15ull;
        if (m_state == 0)
            m_state = 0x2545F4914F6CDD1Dull;
    }
}

float Sampler::randomFloat()
{
    // run.c random_u32 / random_f32 (xorshift*).
    m_state ^= m_state >> 12;
    m_state ^= m_state << 25;
    m_state ^= m_state >> 27;
    const auto u = static_cast<std::uint32_t>((m_state * 0x2545F4914F6CDD1Dull) >> 32);
    return static_cast<float>(u >> 8) / 16777216.0f;
}

std::int32_t Sampler::sample(std::span<float> logits, std::span<const std::int32_t> history)
{
    if (logits.size() < static_cast<std::size_t>(m_vocabSize))
        throw std::invalid_argument("Sampler: " + std::to_string(logits.size()) + " logits for a vocabulary of " +
                                    std::to_string(m_vocabSize));
    const int n = m_vocabSize;
    float* x = logits.data();

    if (m_config.repetitionPenalty != 1.0f && m_config.repeatLastN != 0 && !history.empty()) {
        const std::size_t last = m_config.repeatLastN < 0
                                     ? history.size()
                                     : std::min(history.size(), static_cast<std::size_t>(m_config.repeatLastN));
        std::unordered_set<std::int32_t> seen;
        for (std::size_t i = history.size() - last; i < history.size(); ++i) {
            const std::int32_t id = history[i];
            if (id < 0 || id >= n || !seen.insert(id).second)
                continue;
            float& v = x[id];
            v = v > 0.0f ? v / m_config.repetitionPenalty : v * m_config.repetitionPenalty;
        }
    }

    if (m_config.temperature == 0.0f) {
        // run.c sample_argmax: the first maximum wins.
        int best = 0;
        for (int i = 1; i < n; ++i)
            if (x[i] > x[best])
                best = i;
        return best;
    }

    for (int i = 0; i < n; ++i)
        x[i] /= m_config.temperature;
    if (m_config.topK > 0 && m_config.topK < n) {
        // Keep the k largest logits (ties at the threshold stay in).
        m_candidates.resize(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i)
            m_candidates[static_cast<std::size_t>(i)] = {x[i], i};
        std::nth_element(m_candidates.begin(), m_candidates.begin() + (m_config.topK - 1), m_candidates.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        const float kth = m_candidates[static_cast<std::size_t>(m_config.topK - 1)].first;
        for (int i = 0; i < n; ++i)
            if (x[i] < kth)
                x[i] = -std::numeric_limits<float>::infinity();
    }
    kernels::softmax(x, n);
    if (m_config.minP > 0.0f && m_config.minP < 1.0f) {
        float maxP = 0.0f;
        for (int i = 0; i < n; ++i)
            maxP = std::max(maxP, x[i]);
        const float cut = m_config.minP * maxP;
        float sum = 0.0f;
        for (int i = 0; i < n; ++i) {
            if (x[i] < cut)
                x[i] = 0.0f;
            sum += x[i];
        }
        for (int i = 0; i < n; ++i)
            x[i] /= sum;
    }

    const float coin = randomFloat();
    const float topp = m_config.topP;
    if (topp <= 0.0f || topp >= 1.0f) {
        // run.c sample_mult
        float cdf = 0.0f;
        for (int i = 0; i < n; ++i) {
            cdf += x[i];
            if (coin < cdf)
                return i;
        }
        return n - 1;
    }

    // run.c sample_topp: drop tokens below (1 − p)/(n − 1) (they cannot be in the nucleus), sort descending,
    // cut where the cumulative probability first exceeds p, sample within the truncated list.
    const float cutoff = n > 1 ? (1.0f - topp) / static_cast<float>(n - 1) : 0.0f;
    m_candidates.clear();
    for (int i = 0; i < n; ++i)
        if (x[i] >= cutoff)
            m_candidates.push_back({x[i], i});
    if (m_candidates.empty())
        return 0;
    std::sort(m_candidates.begin(), m_candidates.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    const int n0 = static_cast<int>(m_candidates.size());
    float cumulative = 0.0f;
    int lastIdx = n0 - 1;
    for (int i = 0; i < n0; ++i) {
        cumulative += m_candidates[static_cast<std::size_t>(i)].first;
        if (cumulative > topp) {
            lastIdx = i;
            break;
        }
    }
    const float r = coin * cumulative;
    float cdf = 0.0f;
    for (int i = 0; i <= lastIdx; ++i) {
        cdf += m_candidates[static_cast<std::size_t>(i)].first;
        if (r < cdf)
            return m_candidates[static_cast<std::size_t>(i)].second;
    }
    return m_candidates[static_cast<std::size_t>(lastIdx)].second;
}

} // namespace bq
