// The sampler: greedy, temperature, top-k, top-p (run.c's algorithm), min-p, repetition penalty and the
// run.c xorshift* generator.
#include "bq/runtime/sampler.h"
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

using namespace bq;

namespace {

// run.c, verbatim in spirit: random_u32 / random_f32 / softmax / sample_mult / sample_topp.
struct RunC {
    unsigned long long state;
    unsigned int u32()
    {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return static_cast<unsigned int>((state * 0x2545F4914F6CDD1Dull) >> 32);
    }
    float f32() { return static_cast<float>(u32() >> 8) / 16777216.0f; }
    int sample(std::vector<float> x, float temperature, float topp)
    {
        const int n = static_cast<int>(x.size());
        for (auto& v : x)
            v /= temperature;
        float mx = x[0];
        for (float v : x)
            mx = std::max(mx, v);
        float sum = 0;
        for (auto& v : x) {
            v = std::exp(v - mx);
            sum += v;
        }
        for (auto& v : x)
            v /= sum;
        const float coin = f32();
        if (topp <= 0 || topp >= 1) {
            float cdf = 0;
            for (int i = 0; i < n; ++i) {
                cdf += x[static_cast<std::size_t>(i)];
                if (coin < cdf)
                    return i;
            }
            return n - 1;
        }
        const float cutoff = (1.0f - topp) / static_cast<float>(n - 1);
        std::vector<std::pair<float, int>> c;
        for (int i = 0; i < n; ++i)
            if (x[static_cast<std::size_t>(i)] >= cutoff)
                c.push_back({x[static_cast<std::size_t>(i)], i});
        std::sort(c.begin(), c.end(), [](auto& a, auto& b) { return a.first > b.first; });
        float cum = 0;
        int last = static_cast<int>(c.size()) - 1;
        for (int i = 0; i < static_cast<int>(c.size()); ++i) {
            cum += c[static_cast<std::size_t>(i)].first;
            if (cum > topp) {
                last = i;
                break;
            }
        }
        const float r = coin * cum;
        float cdf = 0;
        for (int i = 0; i <= last; ++i) {
            cdf += c[static_cast<std::size_t>(i)].first;
            if (r < cdf)
                return c[static_cast<std::size_t>(i)].second;
        }
        return c[static_cast<std::size_t>(last)].second;
    }
};

std::vector<float> logitsOf(const std::vector<double>& probs)
{
    std::vector<float> l;
    for (double p : probs)
        l.push_back(static_cast<float>(std::log(p)));
    return l;
}

} // namespace

TEST_CASE("the RNG is run.c's xorshift*", "[sampler]")
{
    // With no top-p, one draw from a two-token distribution reads exactly one coin.
    RunC ref{1234};
    Sampler sampler(SamplerConfig{.temperature = 1.0f, .topP = 1.0f, .seed = 1234}, 2);
    for (int i = 0; i < 200; ++i) {
        std::vector<float> l = {0.0f, 0.0f};
        const int want = ref.sample(l, 1.0f, 1.0f);
        CHECK(sampler.sample(l, {}) == want);
    }
}

TEST_CASE("greedy picks the first maximum", "[sampler]")
{
    Sampler s(SamplerConfig{.temperature = 0.0f}, 6);
    std::vector<float> l = {0.1f, 3.0f, -1.0f, 3.0f, 2.9f, 0.0f};
    CHECK(s.sample(l, {}) == 1);
    std::vector<float> l2 = {-5.0f, -4.0f, -4.5f};
    Sampler s2(SamplerConfig{.temperature = 0.0f}, 3);
    CHECK(s2.sample(l2, {}) == 1);
    // The vocabulary bound: extra logits past vocabSize are ignored.
    std::vector<float> l3 = {0.0f, 1.0f, 100.0f};
    Sampler s3(SamplerConfig{.temperature = 0.0f}, 2);
    CHECK(s3.sample(l3, {}) == 1);
    CHECK_THROWS_AS(s3.sample(std::span<float>(l3).first(1), {}), std::invalid_argument);
}

TEST_CASE("same seed gives the same sequence, and it matches run.c sampling", "[sampler]")
{
    const std::vector<float> base = {1.0f, 2.0f, 0.5f, 1.5f, -1.0f, 0.0f, 2.2f, 1.9f};
    for (float topp : {0.0f, 0.9f, 0.5f}) {
        INFO("top-p " << topp);
        SamplerConfig cfg{.temperature = 0.8f, .topP = topp, .seed = 99};
        Sampler a(cfg, 8), b(cfg, 8);
        RunC ref{99};
        std::vector<int> sa, sb;
        for (int i = 0; i < 300; ++i) {
            auto l1 = base, l2 = base;
            sa.push_back(a.sample(l1, {}));
            sb.push_back(b.sample(l2, {}));
            REQUIRE(sa.back() == ref.sample(base, 0.8f, topp));
        }
        CHECK(sa == sb);
        Sampler c(SamplerConfig{.temperature = 0.8f, .topP = topp, .seed = 100}, 8);
        std::vector<int> sc;
        for (int i = 0; i < 300; ++i) {
            auto l = base;
            sc.push_back(c.sample(l, {}));
        }
        CHECK(sc != sa);
    }
}

TEST_CASE("temperature sampling frequencies match the softmax", "[sampler]")
{
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f};
    const float temp = 0.7f;
    std::vector<double> p;
    double z = 0;
    for (float l : logits)
        z += std::exp(l / temp);
    for (float l : logits)
        p.push_back(std::exp(l / temp) / z);
    Sampler s(SamplerConfig{.temperature = temp, .topP = 1.0f, .seed = 5}, 5);
    const int draws = 40000;
    std::vector<int> counts(5, 0);
    for (int i = 0; i < draws; ++i) {
        auto l = logits;
        ++counts[static_cast<std::size_t>(s.sample(l, {}))];
    }
    for (std::size_t i = 0; i < 5; ++i) {
        const double se = std::sqrt(p[i] * (1 - p[i]) / draws);
        INFO("token " << i << " expected " << p[i] << " got " << double(counts[i]) / draws);
        CHECK(std::abs(double(counts[i]) / draws - p[i]) < 4 * se);
    }
}

TEST_CASE("top-k restricts to the k largest logits", "[sampler]")
{
    const std::vector<float> logits = {0.5f, 3.0f, 0.1f, 2.5f, 2.0f, 0.0f, 1.0f};
    Sampler s(SamplerConfig{.temperature = 1.0f, .topK = 3, .topP = 1.0f, .seed = 3}, 7);
    std::map<int, int> seen;
    for (int i = 0; i < 3000; ++i) {
        auto l = logits;
        ++seen[s.sample(l, {})];
    }
    CHECK(seen.size() == 3);
    CHECK(seen.count(1));
    CHECK(seen.count(3));
    CHECK(seen.count(4));
    // The kept tokens keep their relative odds: p(1)/p(4) = e.
    CHECK(double(seen[1]) / seen[4] == Approx(std::exp(1.0)).epsilon(0.12));
}

TEST_CASE("top-p samples only the nucleus", "[sampler]")
{
    // Sorted probabilities 0.5, 0.25, 0.15, 0.06, 0.04: the cumulative sum first exceeds 0.8 at the third.
    const std::vector<double> probs = {0.06, 0.5, 0.15, 0.04, 0.25};
    Sampler s(SamplerConfig{.temperature = 1.0f, .topP = 0.8f, .seed = 8}, 5);
    std::map<int, int> seen;
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
        auto l = logitsOf(probs);
        ++seen[s.sample(l, {})];
    }
    CHECK(seen.size() == 3);
    CHECK(seen.count(0) == 0);
    CHECK(seen.count(3) == 0);
    // Renormalised within the nucleus: 0.5/0.9, 0.25/0.9, 0.15/0.9.
    CHECK(double(seen[1]) / draws == Approx(0.5 / 0.9).epsilon(0.03));
    CHECK(double(seen[4]) / draws == Approx(0.25 / 0.9).epsilon(0.05));
    CHECK(double(seen[2]) / draws == Approx(0.15 / 0.9).epsilon(0.08));
}

TEST_CASE("min-p drops tokens below minP times the top probability", "[sampler]")
{
    const std::vector<double> probs = {0.4, 0.3, 0.15, 0.1, 0.05};
    Sampler s(SamplerConfig{.temperature = 1.0f, .topP = 1.0f, .minP = 0.3f, .seed = 2}, 5);
    std::map<int, int> seen;
    for (int i = 0; i < 5000; ++i) {
        auto l = logitsOf(probs);
        ++seen[s.sample(l, {})];
    }
    // Cut = 0.3 · 0.4 = 0.12: tokens 0, 1, 2 stay.
    CHECK(seen.size() == 3);
    CHECK(seen.count(3) == 0);
    CHECK(seen.count(4) == 0);
}

TEST_CASE("repetition penalty lowers a repeated token's probability", "[sampler]")
{
    // Greedy: token 2 wins without the penalty, token 0 wins once 2 and 3 are penalised.
    std::vector<float> l = {1.8f, -0.5f, 2.0f, -0.2f};
    Sampler plain(SamplerConfig{.temperature = 0.0f}, 4);
    auto l1 = l;
    CHECK(plain.sample(l1, std::vector<std::int32_t>{2, 3}) == 2);
    Sampler pen(SamplerConfig{.temperature = 0.0f, .repetitionPenalty = 1.3f}, 4);
    auto l2 = l;
    const std::vector<std::int32_t> history = {2, 3, 2};
    CHECK(pen.sample(l2, history) == 0);
    CHECK(l2[2] == Approx(2.0f / 1.3f));  // positive logit divided (once, though it occurs twice)
    CHECK(l2[3] == Approx(-0.2f * 1.3f)); // negative logit multiplied
    CHECK(l2[0] == 1.8f);
    // Only the last repeatLastN tokens count.
    Sampler window(SamplerConfig{.temperature = 0.0f, .repetitionPenalty = 1.3f, .repeatLastN = 1}, 4);
    auto l3 = l;
    CHECK(window.sample(l3, std::vector<std::int32_t>{2, 3}) == 2);
    CHECK(l3[2] == 2.0f);

    // Sampled: the penalised token's empirical frequency drops to what the penalised softmax predicts.
    const std::vector<float> flat = {1.0f, 1.0f, 1.0f};
    Sampler sp(SamplerConfig{.temperature = 1.0f, .topP = 1.0f, .repetitionPenalty = 2.0f, .seed = 4}, 3);
    int hits = 0;
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
        auto f = flat;
        hits += sp.sample(f, std::vector<std::int32_t>{0}) == 0;
    }
    const double want = std::exp(0.5) / (std::exp(0.5) + 2 * std::exp(1.0));
    CHECK(double(hits) / draws == Approx(want).epsilon(0.06));
    CHECK(double(hits) / draws < 0.3);
}

TEST_CASE("seed 0 is time-based and invalid settings are rejected", "[sampler]")
{
    Sampler a(SamplerConfig{.temperature = 1.0f, .topP = 1.0f, .seed = 0}, 1000);
    Sampler b(SamplerConfig{.temperature = 1.0f, .topP = 1.0f, .seed = 0}, 1000);
    std::vector<int> sa, sb;
    for (int i = 0; i < 20; ++i) {
        std::vector<float> l(1000, 0.0f), m(1000, 0.0f);
        sa.push_back(a.sample(l, {}));
        sb.push_back(b.sample(m, {}));
    }
    CHECK(sa != sb);
    CHECK_THROWS_AS(Sampler(SamplerConfig{}, 0), std::invalid_argument);
    CHECK_THROWS_AS(Sampler(SamplerConfig{.temperature = -1.0f}, 4), std::invalid_argument);
}
