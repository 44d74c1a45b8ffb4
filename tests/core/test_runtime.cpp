// The fp32 reference runtime: SIMD kernels against the scalar reference, the forward pass against a naive
// double-precision transformer written from the formulas, prefill/decode agreement, thread invariance,
// one block's invariance to the pool and to chunking, context limits, sliding window, weight overrides,
// synthetic models and the llama2.c golden output.
#include "bq/bench/quant_bench.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/formats/llama2c_reader.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/model/tensor_names.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/runtime/rope.h"
#include "bq/runtime/sampler.h"
#include "bq/runtime/transformer_block.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <numbers>
#include <random>

using namespace bq;

namespace {

std::vector<float> randomVector(std::size_t n, std::mt19937_64& rng, float scale = 1.0f)
{
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = dist(rng);
    return v;
}

std::vector<kernels::F32Path> simdPaths()
{
    std::vector<kernels::F32Path> paths;
    for (auto p : {kernels::F32Path::Avx2, kernels::F32Path::Avx512})
        if (kernels::f32PathSupported(p))
            paths.push_back(p);
    return paths;
}

// ---- naive double-precision transformer ----------------------------------------------------------------

struct RefWeights {
    std::map<std::string, std::vector<double>> w;
    const std::vector<double>& operator[](const std::string& name) const { return w.at(name); }
};

RefWeights refWeights(const Model& m)
{
    RefWeights r;
    for (const auto& [name, t] : m.tensors) {
        const std::vector<float> f = t.toFloat();
        r.w[name] = std::vector<double>(f.begin(), f.end());
    }
    return r;
}

std::vector<double> refMatvec(const std::vector<double>& W, const std::vector<double>& x, std::size_t N)
{
    const std::size_t K = x.size();
    std::vector<double> y(N, 0.0);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            y[n] += W[n * K + k] * x[k];
    return y;
}

std::vector<double> refRmsnorm(const std::vector<double>& x, const double* w, double eps)
{
    double ss = 0.0;
    for (double v : x)
        ss += v * v;
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
    std::vector<double> o(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        o[i] = w[i] * x[i] * s;
    return o;
}

// Llama 3 frequency rule written straight from HF _compute_llama3_parameters.
std::vector<double> refFrequencies(const ModelConfig& c)
{
    std::vector<double> f(static_cast<std::size_t>(c.headDim / 2));
    for (int i = 0; i < c.headDim / 2; ++i) {
        double inv = std::pow(static_cast<double>(c.ropeTheta), -2.0 * i / c.headDim);
        if (c.ropeScaling) {
            const RopeScaling& s = *c.ropeScaling;
            const double wavelen = 2.0 * std::numbers::pi / inv;
            const double lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
            const double highWavelen = s.originalMaxPositions / s.highFreqFactor;
            if (wavelen > lowWavelen) {
                inv = inv / s.factor;
            } else if (wavelen >= highWavelen) {
                const double smooth =
                    (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
                inv = (1.0 - smooth) * inv / s.factor + smooth * inv;
            }
        }
        f[static_cast<std::size_t>(i)] = inv;
    }
    return f;
}

void refRope(double* v, int hd, RopeStyle style, const std::vector<double>& freq, double pos)
{
    for (int i = 0; i < hd / 2; ++i) {
        const double a = pos * freq[static_cast<std::size_t>(i)];
        const int i0 = style == RopeStyle::Interleaved ? 2 * i : i;
        const int i1 = style == RopeStyle::Interleaved ? 2 * i + 1 : i + hd / 2;
        const double x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * std::cos(a) - x1 * std::sin(a);
        v[i1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
}

// Logits for every token of `tokens`, the first at absolute position startPos.
std::vector<std::vector<double>> refForward(const Model& m, const std::vector<std::int32_t>& tokens, int startPos = 0)
{
    const ModelConfig& c = m.config;
    const RefWeights W = refWeights(m);
    const auto d = static_cast<std::size_t>(c.dim), hd = static_cast<std::size_t>(c.headDim);
    const auto freq = refFrequencies(c);
    std::vector<std::vector<std::vector<double>>> keys(static_cast<std::size_t>(c.nLayers)),
        values(static_cast<std::size_t>(c.nLayers));
    std::vector<std::vector<double>> out;
    for (std::size_t p = 0; p < tokens.size(); ++p) {
        const auto& emb = W["token_embd.weight"];
        std::vector<double> x(emb.begin() + static_cast<std::ptrdiff_t>(tokens[p] * d),
                              emb.begin() + static_cast<std::ptrdiff_t>((tokens[p] + 1) * d));
        for (int l = 0; l < c.nLayers; ++l) {
            auto name = [&](const char* part) { return blockTensorName(l, part); };
            const std::string b = "blk." + std::to_string(l) + ".";
            const auto xn = refRmsnorm(x, W[name("attn_norm")].data(), c.normEps);
            auto q = refMatvec(W[name("attn_q")], xn, static_cast<std::size_t>(c.qDim()));
            auto k = refMatvec(W[name("attn_k")], xn, static_cast<std::size_t>(c.kvDim()));
            auto v = refMatvec(W[name("attn_v")], xn, static_cast<std::size_t>(c.kvDim()));
            if (c.qkvBias) {
                for (std::size_t i = 0; i < q.size(); ++i)
                    q[i] += W[b + "attn_q.bias"][i];
                for (std::size_t i = 0; i < k.size(); ++i) {
                    k[i] += W[b + "attn_k.bias"][i];
                    v[i] += W[b + "attn_v.bias"][i];
                }
            }
            for (int h = 0; h < c.nHeads; ++h) {
                std::vector<double> head(q.begin() + static_cast<std::ptrdiff_t>(h * hd),
                                         q.begin() + static_cast<std::ptrdiff_t>((h + 1) * hd));
                if (c.qkNorm)
                    head = refRmsnorm(head, W[name("attn_q_norm")].data(), c.normEps);
                refRope(head.data(), c.headDim, c.ropeStyle, freq, static_cast<double>(startPos + p));
                std::copy(head.begin(), head.end(), q.begin() + static_cast<std::ptrdiff_t>(h * hd));
            }
            for (int h = 0; h < c.nKvHeads; ++h) {
                std::vector<double> head(k.begin() + static_cast<std::ptrdiff_t>(h * hd),
                                         k.begin() + static_cast<std::ptrdiff_t>((h + 1) * hd));
                if (c.qkNorm)
                    head = refRmsnorm(head, W[name("attn_k_norm")].data(), c.normEps);
                refRope(head.data(), c.headDim, c.ropeStyle, freq, static_cast<double>(startPos + p));
                std::copy(head.begin(), head.end(), k.begin() + static_cast<std::ptrdiff_t>(h * hd));
            }
            keys[static_cast<std::size_t>(l)].push_back(k);
            values[static_cast<std::size_t>(l)].push_back(v);
            std::vector<double> att(static_cast<std::size_t>(c.qDim()), 0.0);
            const int group = c.nHeads / c.nKvHeads;
            for (int h = 0; h < c.nHeads; ++h) {
                const std::size_t kvo = static_cast<std::size_t>(h / group) * hd, qo = static_cast<std::size_t>(h) * hd;
                std::vector<double> s(p + 1);
                double mx = -1e300;
                for (std::size_t j = 0; j <= p; ++j) {
                    double dotv = 0.0;
                    for (std::size_t i = 0; i < hd; ++i)
                        dotv += q[qo + i] * keys[static_cast<std::size_t>(l)][j][kvo + i];
                    s[j] = dotv / std::sqrt(static_cast<double>(hd));
                    mx = std::max(mx, s[j]);
                }
                double sum = 0.0;
                for (auto& e : s)
                    sum += (e = std::exp(e - mx));
                for (std::size_t j = 0; j <= p; ++j)
                    for (std::size_t i = 0; i < hd; ++i)
                        att[qo + i] += s[j] / sum * values[static_cast<std::size_t>(l)][j][kvo + i];
            }
            const auto o = refMatvec(W[name("attn_output")], att, d);
            for (std::size_t i = 0; i < d; ++i)
                x[i] += o[i];
            const auto xf = refRmsnorm(x, W[name("ffn_norm")].data(), c.normEps);
            auto g = refMatvec(W[name("ffn_gate")], xf, static_cast<std::size_t>(c.hiddenDim));
            const auto u = refMatvec(W[name("ffn_up")], xf, static_cast<std::size_t>(c.hiddenDim));
            for (std::size_t i = 0; i < g.size(); ++i)
                g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
            const auto dn = refMatvec(W[name("ffn_down")], g, d);
            for (std::size_t i = 0; i < d; ++i)
                x[i] += dn[i];
        }
        const auto xn = refRmsnorm(x, W["output_norm.weight"].data(), c.normEps);
        const std::string head = c.tiedEmbeddings ? "token_embd.weight" : "output.weight";
        out.push_back(refMatvec(W[head], xn, static_cast<std::size_t>(c.vocabSize)));
    }
    return out;
}

// ---- random test models --------------------------------------------------------------------------------

ModelConfig smallConfig(int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab, int ctx)
{
    ModelConfig c;
    c.dim = dim;
    c.hiddenDim = hidden;
    c.nLayers = layers;
    c.nHeads = heads;
    c.nKvHeads = kvHeads;
    c.headDim = headDim;
    c.vocabSize = vocab;
    c.maxSeqLen = ctx;
    return c;
}

// Weights with std 1/sqrt(fan-in)·1.5 so attention and the FFN do real work; norms near 1. `f16` stores the
// attention and FFN matrices as F16 (the runtime must convert them once).
std::shared_ptr<Model> randomModel(const ModelConfig& c, std::uint64_t seed, bool f16 = false)
{
    auto m = std::make_shared<Model>();
    m->config = c;
    m->sourcePath = "random-test-model";
    std::mt19937_64 rng(seed);
    auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float scale, bool norm = false,
                   bool half = false) {
        std::size_t n = 1;
        for (auto s : shape)
            n *= static_cast<std::size_t>(s);
        std::vector<float> v = randomVector(n, rng, scale);
        if (norm)
            for (auto& x : v)
                x = 1.0f + 0.5f * x;
        if (half) {
            std::vector<std::byte> bytes(n * 2);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint16_t h = floatToHalf(v[i]);
                std::memcpy(bytes.data() + 2 * i, &h, 2);
            }
            m->tensors.emplace(name, makeOwnedTensor(name, DType::F16, std::move(shape), std::move(bytes)));
        } else {
            m->tensors.emplace(name, makeF32Tensor(name, std::move(shape), std::move(v)));
        }
    };
    const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim(), v = c.vocabSize;
    const float sd = 1.5f / std::sqrt(static_cast<float>(d));
    add("token_embd.weight", {v, d}, 1.0f);
    add("output_norm.weight", {d}, 0.2f, true);
    if (!c.tiedEmbeddings)
        add("output.weight", {v, d}, sd);
    for (int l = 0; l < c.nLayers; ++l) {
        add(blockTensorName(l, "attn_norm"), {d}, 0.2f, true);
        add(blockTensorName(l, "attn_q"), {q, d}, sd, false, f16);
        add(blockTensorName(l, "attn_k"), {kv, d}, sd, false, f16);
        add(blockTensorName(l, "attn_v"), {kv, d}, sd, false, f16);
        add(blockTensorName(l, "attn_output"), {d, q}, 1.0f / std::sqrt(static_cast<float>(q)), false, f16);
        add(blockTensorName(l, "ffn_norm"), {d}, 0.2f, true);
        add(blockTensorName(l, "ffn_gate"), {h, d}, sd, false, f16);
        add(blockTensorName(l, "ffn_up"), {h, d}, sd, false, f16);
        add(blockTensorName(l, "ffn_down"), {d, h}, 1.0f / std::sqrt(static_cast<float>(h)), false, f16);
        if (c.qkNorm) {
            add(blockTensorName(l, "attn_q_norm"), {c.headDim}, 0.2f, true);
            add(blockTensorName(l, "attn_k_norm"), {c.headDim}, 0.2f, true);
        }
        if (c.qkvBias) {
            const std::string p = "blk." + std::to_string(l) + ".";
            add(p + "attn_q.bias", {q}, 0.3f);
            add(p + "attn_k.bias", {kv}, 0.3f);
            add(p + "attn_v.bias", {kv}, 0.3f);
        }
    }
    m->validateTensors();
    return m;
}

std::vector<std::int32_t> randomTokens(int n, int vocab, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> dist(0, vocab - 1);
    std::vector<std::int32_t> t(static_cast<std::size_t>(n));
    for (auto& x : t)
        x = dist(rng);
    return t;
}

// max |a − b| / max |b| over all positions.
double relError(const std::vector<float>& got, const std::vector<std::vector<double>>& want, std::size_t firstRow = 0)
{
    double maxDiff = 0.0, maxRef = 0.0;
    const std::size_t vocab = want[0].size();
    for (std::size_t p = firstRow; p < want.size(); ++p)
        for (std::size_t i = 0; i < vocab; ++i) {
            maxDiff = std::max(maxDiff, std::abs(static_cast<double>(got[(p - firstRow) * vocab + i]) - want[p][i]));
            maxRef = std::max(maxRef, std::abs(want[p][i]));
        }
    return maxDiff / maxRef;
}

} // namespace

// ---- kernels -------------------------------------------------------------------------------------------

TEST_CASE("SIMD matmul/matvec/dot/axpy match the scalar reference on odd shapes", "[runtime][kernels]")
{
    const auto paths = simdPaths();
    if (paths.empty())
        WARN("no SIMD path on this CPU; only the scalar kernels are tested");
    std::mt19937_64 rng(7);
    for (int N : {1, 3, 5, 9, 13, 33}) {
        for (int K : {1, 5, 7, 15, 17, 31, 33, 67, 130, 257, 1100}) {
            const auto W = randomVector(static_cast<std::size_t>(N * K), rng);
            const auto X = randomVector(static_cast<std::size_t>(7 * K), rng);
            for (int T = 1; T <= 7; ++T) {
                std::vector<float> ref(static_cast<std::size_t>(T * N)), got(ref.size());
                kernels::matmulRows(kernels::F32Path::Scalar, W.data(), K, X.data(), static_cast<std::size_t>(K), T,
                                    ref.data(), static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
                // A double-precision bound: each output's error is at most ~K·eps·Σ|w·x|.
                for (auto path : paths) {
                    INFO("path " << kernels::f32PathName(path) << " N " << N << " K " << K << " T " << T);
                    kernels::matmulRows(path, W.data(), K, X.data(), static_cast<std::size_t>(K), T, got.data(),
                                        static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
                    for (int t = 0; t < T; ++t)
                        for (int n = 0; n < N; ++n) {
                            double absSum = 0.0;
                            for (int k = 0; k < K; ++k)
                                absSum += std::abs(double(W[static_cast<std::size_t>(n * K + k)]) *
                                                   X[static_cast<std::size_t>(t * K + k)]);
                            const auto i = static_cast<std::size_t>(t * N + n);
                            REQUIRE(std::abs(got[i] - ref[i]) <= 2e-6 * absSum + 1e-30);
                        }
                    // matmul over T tokens equals T independent matvecs, bit for bit.
                    for (int t = 0; t < T; ++t) {
                        std::vector<float> y(static_cast<std::size_t>(N));
                        kernels::matvecRows(path, W.data(), K, X.data() + t * K, y.data(), 0,
                                            static_cast<std::size_t>(N));
                        REQUIRE(std::memcmp(y.data(), got.data() + t * N, static_cast<std::size_t>(N) * 4) == 0);
                    }
                }
            }
            // dot and axpy
            for (auto path : paths) {
                const float a = kernels::dot(path, W.data(), X.data(), K);
                const float b = kernels::dot(kernels::F32Path::Scalar, W.data(), X.data(), K);
                double absSum = 0.0;
                for (int k = 0; k < K; ++k)
                    absSum += std::abs(double(W[static_cast<std::size_t>(k)]) * X[static_cast<std::size_t>(k)]);
                REQUIRE(std::abs(a - b) <= 2e-6 * absSum);
                std::vector<float> y1(X.begin(), X.begin() + K), y2 = y1;
                kernels::axpy(path, 0.37f, W.data(), y1.data(), K);
                kernels::axpy(kernels::F32Path::Scalar, 0.37f, W.data(), y2.data(), K);
                for (int k = 0; k < K; ++k)
                    REQUIRE(y1[static_cast<std::size_t>(k)] ==
                            Approx(y2[static_cast<std::size_t>(k)]).margin(1e-6).epsilon(1e-6));
            }
        }
    }
}

TEST_CASE("dotRows / axpyRows over a strided cache equal dot / axpy per row bit for bit", "[runtime][kernels]")
{
    std::mt19937 rng(17);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int n : {1, 7, 16, 64, 100}) {
        const int count = 37;
        const std::size_t stride = static_cast<std::size_t>(n) + 5;
        std::vector<float> rows(stride * count), q(static_cast<std::size_t>(n)), s(count);
        for (auto& v : rows) v = dist(rng);
        for (auto& v : q) v = dist(rng);
        for (auto& v : s) v = dist(rng);
        std::vector<float> got(count), want(count);
        kernels::dotRows(q.data(), rows.data(), stride, count, n, got.data());
        for (int j = 0; j < count; ++j)
            want[static_cast<std::size_t>(j)] = kernels::dot(q.data(), rows.data() + static_cast<std::size_t>(j) * stride, n);
        INFO("n " << n);
        CHECK(got == want);
        std::vector<float> y1(static_cast<std::size_t>(n), 0.5f), y2 = y1;
        kernels::axpyRows(s.data(), rows.data(), stride, count, y1.data(), n);
        for (int j = 0; j < count; ++j)
            kernels::axpy(s[static_cast<std::size_t>(j)], rows.data() + static_cast<std::size_t>(j) * stride, y2.data(), n);
        CHECK(y1 == y2);
        double expect0 = 0.5;
        for (int j = 0; j < count; ++j)
            expect0 += double(s[static_cast<std::size_t>(j)]) * rows[static_cast<std::size_t>(j) * stride];
        CHECK(y1[0] == Approx(expect0).epsilon(1e-4));
    }
}

TEST_CASE("matmul over many tokens and wide rows equals matvec per token bit for bit", "[runtime][kernels]")
{
    // Several token blocks, 8-, 4- and 1-row strips, and K both read in place and cut into copied panels.
    std::mt19937_64 rng(23);
    const int N = 21, T = 203;
    for (int K : {700, 1100, 2100}) {
        const auto W = randomVector(static_cast<std::size_t>(N * K), rng);
        const auto X = randomVector(static_cast<std::size_t>(T * K), rng);
        for (auto path : simdPaths()) {
            INFO("path " << kernels::f32PathName(path) << " K " << K);
            std::vector<float> got(static_cast<std::size_t>(T * N)), y(static_cast<std::size_t>(N));
            kernels::matmulRows(path, W.data(), K, X.data(), static_cast<std::size_t>(K), T, got.data(),
                                static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
            for (int t = 0; t < T; ++t) {
                kernels::matvecRows(path, W.data(), K, X.data() + static_cast<std::size_t>(t) * K, y.data(), 0,
                                    static_cast<std::size_t>(N));
                REQUIRE(std::memcmp(y.data(), got.data() + static_cast<std::size_t>(t) * N, y.size() * 4) == 0);
            }
        }
    }
}

TEST_CASE("causal attention over several queries equals dot / axpy per row bit for bit", "[runtime][kernels]")
{
    // Every path this CPU has (scalar included) against its own dot / axpy, on odd head sizes, query counts and
    // cache lengths: the prefill tiles must give what token-by-token decode gives.
    auto paths = simdPaths();
    paths.insert(paths.begin(), kernels::F32Path::Scalar);
    std::mt19937_64 rng(29);
    for (int n : {1, 7, 8, 16, 17, 33, 64, 80, 100}) {
        for (int m : {1, 2, 3, 5, 8, 17}) {
            for (int count0 : {1, 6, 19}) {
                const int rowsNeeded = count0 + m - 1;
                const std::size_t stride = static_cast<std::size_t>(n) + 3, ldq = static_cast<std::size_t>(n) + 5,
                                  ldo = static_cast<std::size_t>(rowsNeeded) + 2, ldy = static_cast<std::size_t>(n) + 1;
                const auto rows = randomVector(stride * static_cast<std::size_t>(rowsNeeded), rng);
                const auto q = randomVector(ldq * static_cast<std::size_t>(m), rng);
                const auto s = randomVector(ldo * static_cast<std::size_t>(m), rng);
                const auto y0 = randomVector(ldy * static_cast<std::size_t>(m), rng);
                for (auto path : paths) {
                    INFO("path " << kernels::f32PathName(path) << " n " << n << " m " << m << " count0 " << count0);
                    std::vector<float> out(ldo * static_cast<std::size_t>(m), -7.0f), want = out;
                    kernels::dotRowsCausal(path, q.data(), ldq, m, rows.data(), stride, count0, n, out.data(), ldo);
                    std::vector<float> y = y0, yWant = y0;
                    kernels::axpyRowsCausal(path, s.data(), ldo, m, rows.data(), stride, count0, y.data(), ldy, n);
                    for (int i = 0; i < m; ++i) {
                        const auto ui = static_cast<std::size_t>(i);
                        for (int j = 0; j < count0 + i; ++j) {
                            const auto uj = static_cast<std::size_t>(j);
                            const float* row = rows.data() + uj * stride;
                            want[ui * ldo + uj] = kernels::dot(path, q.data() + ui * ldq, row, n);
                            kernels::axpy(path, s[ui * ldo + uj], row, yWant.data() + ui * ldy, n);
                        }
                    }
                    // Bit for bit, and nothing written outside each query's causal range.
                    REQUIRE(std::memcmp(out.data(), want.data(), out.size() * 4) == 0);
                    REQUIRE(std::memcmp(y.data(), yWant.data(), y.size() * 4) == 0);
                }
            }
        }
    }
}

TEST_CASE("scalar matvec sums sequentially in fp32 like run.c", "[runtime][kernels]")
{
    // 1 + 1e-8·k sums: sequential fp32 accumulation loses every small term after the first 1.
    std::vector<float> w = {1.0f, 1e-8f, 1e-8f, 1e-8f}, x = {1.0f, 1.0f, 1.0f, 1.0f};
    float y = 0;
    kernels::matvecRows(kernels::F32Path::Scalar, w.data(), 4, x.data(), &y, 0, 1);
    CHECK(y == 1.0f);
    std::vector<float> w2 = {1e-8f, 1e-8f, 1e-8f, 1.0f};
    kernels::matvecRows(kernels::F32Path::Scalar, w2.data(), 4, x.data(), &y, 0, 1);
    CHECK(y == 1.0f + 3e-8f);
}

TEST_CASE("multithreaded matmul is bit-identical for 1, 2 and 3 threads", "[runtime][kernels]")
{
    std::mt19937_64 rng(11);
    const int N = 203, K = 135, T = 6;
    const auto W = randomVector(static_cast<std::size_t>(N * K), rng), X = randomVector(static_cast<std::size_t>(T * K), rng);
    std::vector<float> y1(static_cast<std::size_t>(T * N)), y2(y1.size()), y3(y1.size());
    ThreadPool p1(1), p2(2), p3(3);
    kernels::matmul(W.data(), N, K, X.data(), T, y1.data(), &p1);
    kernels::matmul(W.data(), N, K, X.data(), T, y2.data(), &p2);
    kernels::matmul(W.data(), N, K, X.data(), T, y3.data(), &p3);
    CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0);
    CHECK(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0);
    std::vector<float> v1(static_cast<std::size_t>(N)), v2(v1.size());
    kernels::matvec(W.data(), N, K, X.data(), v1.data(), &p1);
    kernels::matvec(W.data(), N, K, X.data(), v2.data(), &p2);
    CHECK(std::memcmp(v1.data(), v2.data(), v1.size() * 4) == 0);
    CHECK(std::memcmp(v1.data(), y1.data(), v1.size() * 4) == 0);
}

TEST_CASE("rmsnorm, softmax and silu helpers", "[runtime][kernels]")
{
    std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f}, w = {1.0f, 2.0f, 0.5f, 1.0f}, o(4);
    kernels::rmsnorm(o.data(), x.data(), w.data(), 4, 1e-5f);
    const double rms = std::sqrt((1.0 + 4.0 + 9.0 + 0.25) / 4.0 + 1e-5);
    for (std::size_t i = 0; i < 4; ++i)
        CHECK(o[i] == Approx(w[i] * x[i] / rms).epsilon(1e-6));
    std::vector<float> s = {1000.0f, 1001.0f, 999.0f};
    kernels::softmax(s.data(), 3);
    const double e0 = std::exp(-1.0), e2 = std::exp(-2.0), z = e0 + 1.0 + e2;
    CHECK(s[0] == Approx(e0 / z).epsilon(1e-6));
    CHECK(s[1] == Approx(1.0 / z).epsilon(1e-6));
    CHECK(s[2] == Approx(e2 / z).epsilon(1e-6));
    std::vector<float> g = {2.0f, -1.0f}, u = {3.0f, 4.0f};
    kernels::siluMul(g.data(), u.data(), 2);
    CHECK(g[0] == Approx(2.0 / (1.0 + std::exp(-2.0)) * 3.0).epsilon(1e-6));
    CHECK(g[1] == Approx(-1.0 / (1.0 + std::exp(1.0)) * 4.0).epsilon(1e-6));
}

TEST_CASE("llama3 RoPE frequencies follow the HF rule", "[runtime][rope]")
{
    // head_dim 128, theta 500000, factor 32, low 1, high 4, original 8192 (Llama 3.2).
    RopeScaling s{32.0f, 1.0f, 4.0f, 8192};
    const auto f = ropeFrequencies(128, 500000.0f, s);
    const auto plain = ropeFrequencies(128, 500000.0f, std::nullopt);
    REQUIRE(f.size() == 64);
    int high = 0, low = 0, mid = 0;
    for (std::size_t i = 0; i < 64; ++i) {
        const double wavelen = 2 * std::numbers::pi / plain[i];
        if (wavelen < 8192.0 / 4) {
            CHECK(f[i] == plain[i]);
            ++high;
        } else if (wavelen > 8192.0) {
            CHECK(f[i] == Approx(plain[i] / 32.0).epsilon(1e-6));
            ++low;
        } else {
            const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
            CHECK(f[i] == Approx((1 - smooth) * plain[i] / 32.0 + smooth * plain[i]).epsilon(1e-6));
            CHECK(f[i] < plain[i]);
            CHECK(f[i] > plain[i] / 32.0);
            ++mid;
        }
    }
    CHECK(high > 0);
    CHECK(low > 0);
    CHECK(mid > 0);
    // run.c: freq_i = 1 / 10000^(2i/hd).
    const auto r = ropeFrequencies(8, 10000.0f, std::nullopt);
    CHECK(r[1] == Approx(1.0 / std::pow(10000.0, 2.0 / 8.0)).epsilon(1e-6));
}

// ---- forward pass --------------------------------------------------------------------------------------

TEST_CASE("fp32 forward matches a naive double-precision transformer", "[runtime][forward]")
{
    struct Case {
        const char* name;
        ModelConfig config;
        bool f16 = false;
    };
    std::vector<Case> cases;
    {
        ModelConfig c = smallConfig(48, 100, 2, 4, 4, 12, 67, 32);
        cases.push_back({"llama interleaved MHA, tied", c});
    }
    {
        ModelConfig c = smallConfig(32, 72, 2, 4, 2, 8, 53, 32);
        c.ropeStyle = RopeStyle::NeoX;
        c.tiedEmbeddings = false;
        cases.push_back({"NeoX, GQA 4/2, untied head", c});
    }
    {
        ModelConfig c = smallConfig(64, 90, 2, 8, 2, 8, 61, 32);
        cases.push_back({"interleaved GQA 8/2", c});
    }
    {
        ModelConfig c = smallConfig(40, 64, 2, 4, 2, 10, 59, 32);
        c.arch = "qwen2";
        c.qkvBias = true;
        c.ropeStyle = RopeStyle::NeoX;
        c.ropeTheta = 1000000.0f;
        cases.push_back({"qwen2 q/k/v bias", c});
    }
    {
        ModelConfig c = smallConfig(40, 64, 2, 4, 2, 16, 59, 32);
        c.arch = "qwen3";
        c.qkNorm = true;
        c.normEps = 1e-6f;
        c.ropeStyle = RopeStyle::NeoX;
        cases.push_back({"qwen3 q/k norm, head_dim 16 != dim/heads", c});
    }
    {
        ModelConfig c = smallConfig(48, 96, 2, 4, 2, 12, 71, 32);
        c.ropeScaling = RopeScaling{8.0f, 1.0f, 4.0f, 16};
        c.ropeTheta = 500.0f;
        cases.push_back({"llama3 rope scaling", c});
    }
    {
        ModelConfig c = smallConfig(32, 64, 2, 4, 4, 8, 50, 32);
        cases.push_back({"F16 matrices converted at load", c, true});
    }
    std::uint64_t seed = 100;
    for (const auto& tc : cases) {
        INFO(tc.name);
        auto model = randomModel(tc.config, ++seed, tc.f16);
        auto rt = makeFp32Model(model, 2);
        const auto tokens = randomTokens(13, tc.config.vocabSize, seed);
        const auto ref = refForward(*model, tokens);

        auto ctx = rt->newContext();
        std::vector<float> logits;
        ctx->forward(tokens, true, logits);
        REQUIRE(logits.size() == tokens.size() * static_cast<std::size_t>(tc.config.vocabSize));
        CHECK(relError(logits, ref) < 2e-5);
        CHECK(ctx->position() == 13);

        // Decode one by one: same logits (to 1e-4 relative), and matching the reference.
        auto ctx2 = rt->newContext();
        std::vector<float> all, one;
        for (auto t : tokens) {
            ctx2->forward(std::span<const std::int32_t>(&t, 1), false, one);
            all.insert(all.end(), one.begin(), one.end());
        }
        double maxDiff = 0, maxAbs = 0;
        for (std::size_t i = 0; i < all.size(); ++i) {
            maxDiff = std::max(maxDiff, double(std::abs(all[i] - logits[i])));
            maxAbs = std::max(maxAbs, double(std::abs(logits[i])));
        }
        CHECK(maxDiff <= 1e-4 * maxAbs);
        CHECK(relError(all, ref) < 2e-5);

        // Chunked prefill (5 + 8) with last-position logits only.
        auto ctx3 = rt->newContext(16);
        std::vector<float> last;
        ctx3->forward(std::span<const std::int32_t>(tokens).first(5), false, last);
        ctx3->forward(std::span<const std::int32_t>(tokens).subspan(5), false, last);
        REQUIRE(last.size() == static_cast<std::size_t>(tc.config.vocabSize));
        CHECK(relError(last, {ref.back()}) < 2e-5);
    }
}

TEST_CASE("thread counts 1 and 2 give bit-identical logits", "[runtime][forward]")
{
    ModelConfig c = smallConfig(64, 176, 2, 8, 4, 8, 300, 64);
    auto model = randomModel(c, 5);
    auto r1 = makeFp32Model(model, 1), r2 = makeFp32Model(model, 2);
    CHECK(r1->threads() == 1);
    CHECK(r2->threads() == 2);
    const auto tokens = randomTokens(20, c.vocabSize, 9);
    std::vector<float> a, b;
    r1->newContext()->forward(tokens, true, a);
    r2->newContext()->forward(tokens, true, b);
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

TEST_CASE("a transformer block pass does not depend on the pool or on how the tokens are chunked", "[runtime][block]")
{
    // The quantization pipeline runs blocks over whole sequences with a null pool, the runtime over prompt chunks
    // and single tokens with its pool: every way must give the same hidden states, bit for bit.
    ModelConfig c = smallConfig(64, 96, 1, 8, 2, 8, 50, 32);
    c.qkvBias = true;
    c.qkNorm = true;
    c.ropeStyle = RopeStyle::NeoX;
    std::mt19937_64 rng(17);
    std::vector<std::vector<float>> owned;
    auto values = [&](std::size_t n, float scale, float offset = 0.0f) {
        owned.push_back(randomVector(n, rng, scale));
        for (float& v : owned.back())
            v += offset;
        return owned.back().data();
    };
    const auto d = std::size_t(c.dim), h = std::size_t(c.hiddenDim), q = std::size_t(c.qDim()),
               kv = std::size_t(c.kvDim()), hd = std::size_t(c.headDim);
    BlockWeights w;
    auto linear = [&](Linear& l, std::size_t rows, std::size_t cols) {
        l.w = values(rows * cols, 1.5f / std::sqrt(float(cols)));
        l.rows = int(rows);
        l.cols = int(cols);
    };
    w.attnNorm = values(d, 0.1f, 1.0f);
    w.ffnNorm = values(d, 0.1f, 1.0f);
    w.qNorm = values(hd, 0.1f, 1.0f);
    w.kNorm = values(hd, 0.1f, 1.0f);
    w.bq = values(q, 0.1f);
    w.bk = values(kv, 0.1f);
    w.bv = values(kv, 0.1f);
    linear(w.wq, q, d);
    linear(w.wk, kv, d);
    linear(w.wv, kv, d);
    linear(w.wo, d, q);
    linear(w.gate, h, d);
    linear(w.up, h, d);
    linear(w.down, d, h);
    const Rope rope(c);
    const int T = 37; // more than two 16-query attention tiles
    const std::vector<float> x0 = randomVector(std::size_t(T) * d, rng);
    auto run = [&](ThreadPool* pool, int chunk) {
        std::vector<float> x = x0, keys(std::size_t(T) * kv), vals(keys.size());
        BlockScratch scratch;
        int sites = 0;
        for (int t0 = 0; t0 < T; t0 += chunk) {
            BlockKv cache;
            cache.keys = keys.data();
            cache.values = vals.data();
            cache.cached = t0;
            cache.position = t0;
            forwardBlock(c, rope, w, x.data() + std::size_t(t0) * d, std::min(chunk, T - t0), cache, scratch, pool,
                         [&](BlockSite, const float*, int, int) { return ++sites > 0; });
        }
        CHECK(sites == 4 * ((T + chunk - 1) / chunk));
        return x;
    };
    ThreadPool pool(3);
    const std::vector<float> whole = run(nullptr, T);
    for (const auto& [p, chunk] : {std::pair<ThreadPool*, int>{&pool, T}, {nullptr, 1}, {&pool, 1}, {&pool, 4}}) {
        INFO("pool " << (p ? 3 : 0) << ", chunk " << chunk);
        const std::vector<float> x = run(p, chunk);
        CHECK(std::memcmp(x.data(), whole.data(), x.size() * sizeof(float)) == 0);
    }
}

TEST_CASE("context capacity, reset and the sliding window", "[runtime][context]")
{
    // One layer: its cached keys/values depend only on each token and its position, so after a slide the
    // result must equal a fresh run of the kept tokens (with more layers the kept entries remember what was
    // dropped, as in every sliding-window runtime).
    ModelConfig c = smallConfig(32, 64, 1, 4, 2, 8, 40, 24);
    auto model = randomModel(c, 77);
    auto rt = makeFp32Model(model, 2);
    CHECK(rt->backendName() == "fp32");
    auto ctx = rt->newContext(8);
    CHECK(ctx->capacity() == 8);
    CHECK(rt->newContext()->capacity() == 24);
    const auto tokens = randomTokens(20, c.vocabSize, 3);
    std::vector<float> logits;
    ctx->forward(std::span<const std::int32_t>(tokens).first(6), false, logits);
    try {
        ctx->forward(std::span<const std::int32_t>(tokens).subspan(6, 3), false, logits);
        FAIL("expected std::length_error");
    } catch (const std::length_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("3 token(s) at position 6") != std::string::npos);
        CHECK(msg.find("context of 8 positions") != std::string::npos);
    }
    CHECK(ctx->position() == 6);
    CHECK_THROWS_AS(ctx->forward(std::vector<std::int32_t>{c.vocabSize}, false, logits), std::out_of_range);
    ctx->forward(std::span<const std::int32_t>(tokens).subspan(6, 2), false, logits); // exactly full
    CHECK(ctx->position() == 8);
    ctx->reset();
    CHECK(ctx->position() == 0);
    std::vector<float> again, fresh;
    ctx->forward(std::span<const std::int32_t>(tokens).first(3), false, again);
    rt->newContext(8)->forward(std::span<const std::int32_t>(tokens).first(3), false, fresh);
    CHECK(std::memcmp(again.data(), fresh.data(), again.size() * 4) == 0);

    // Sliding window: fill 8, drop the oldest 3, continue. The kept keys keep their absolute RoPE angles, so
    // the result equals the reference run of tokens[3..] starting at absolute position 3.
    ctx->reset();
    ctx->forward(std::span<const std::int32_t>(tokens).first(8), false, logits);
    REQUIRE(ctx->dropOldest(3));
    CHECK(ctx->position() == 5);
    ctx->forward(std::span<const std::int32_t>(tokens).subspan(8, 3), true, logits);
    CHECK(ctx->position() == 8);
    const std::vector<std::int32_t> kept(tokens.begin() + 3, tokens.begin() + 11);
    const auto ref = refForward(*model, kept, 3);
    CHECK(relError(logits, ref, 5) < 2e-5);
    // ... and generation keeps going across several more slides.
    Sampler greedy(SamplerConfig{.temperature = 0.0f}, c.vocabSize);
    std::int32_t next = greedy.sample(std::span<float>(logits).last(static_cast<std::size_t>(c.vocabSize)), {});
    for (int i = 0; i < 20; ++i) {
        if (ctx->position() + 1 > ctx->capacity())
            REQUIRE(ctx->dropOldest(4));
        ctx->forward(std::span<const std::int32_t>(&next, 1), false, logits);
        for (float v : logits)
            REQUIRE(std::isfinite(v));
        next = greedy.sample(logits, {});
    }
    CHECK(ctx->position() <= 8);
    CHECK(ctx->dropOldest(100));
    CHECK(ctx->position() == 0);
}

TEST_CASE("weight overrides replace matrices and are checked", "[runtime][overrides]")
{
    ModelConfig c = smallConfig(32, 64, 1, 4, 2, 8, 40, 16);
    auto model = randomModel(c, 21);
    auto changed = std::make_shared<Model>(*model);
    std::mt19937_64 rng(4);
    auto values = std::make_shared<std::vector<float>>(randomVector(static_cast<std::size_t>(c.qDim() * c.dim), rng, 0.3f));
    changed->tensors["blk.0.attn_q.weight"] = makeF32Tensor("blk.0.attn_q.weight", {c.qDim(), c.dim}, *values);
    auto head = std::make_shared<std::vector<float>>(randomVector(static_cast<std::size_t>(c.vocabSize * c.dim), rng, 0.3f));
    changed->tensors["output.weight"] = makeF32Tensor("output.weight", {c.vocabSize, c.dim}, *head);
    changed->config.tiedEmbeddings = false;

    const auto tokens = randomTokens(6, c.vocabSize, 1);
    std::vector<float> a, b, base;
    makeFp32Model(model, 1, {{"blk.0.attn_q.weight", values}, {"output.weight", head}})->newContext()->forward(tokens, true, a);
    makeFp32Model(changed, 1)->newContext()->forward(tokens, true, b);
    makeFp32Model(model, 1)->newContext()->forward(tokens, true, base);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    CHECK(std::memcmp(a.data(), base.data(), a.size() * 4) != 0);

    CHECK_THROWS_AS(makeFp32Model(model, 1, {{"blk.9.attn_q.weight", values}}), std::invalid_argument);
    auto wrong = std::make_shared<std::vector<float>>(10, 0.0f);
    CHECK_THROWS_AS(makeFp32Model(model, 1, {{"blk.0.attn_k.weight", wrong}}), std::invalid_argument);
}

// ---- synthetic models ----------------------------------------------------------------------------------

TEST_CASE("synthetic shapes have the documented dimensions", "[runtime][synthetic]")
{
    const auto& s = syntheticShape("stories260k").config;
    CHECK((s.dim == 64 && s.hiddenDim == 172 && s.nLayers == 5 && s.nHeads == 8 && s.nKvHeads == 4 &&
           s.vocabSize == 512 && s.maxSeqLen == 512 && s.tiedEmbeddings));
    const auto& t = syntheticShape("ts5m").config;
    CHECK((t.dim == 256 && t.hiddenDim == 768 && t.nLayers == 6 && t.vocabSize == 512 && t.maxSeqLen == 256));
    const auto& o = syntheticShape("opt125m").config;
    CHECK((o.dim == 768 && o.hiddenDim == 3072 && o.nLayers == 12 && o.nHeads == 12 && o.nKvHeads == 12 &&
           o.vocabSize == 50272 && o.maxSeqLen == 2048 && o.arch == "llama"));
    const auto& l = syntheticShape("llama3.2-1b").config;
    CHECK((l.dim == 2048 && l.hiddenDim == 8192 && l.nLayers == 16 && l.nHeads == 32 && l.nKvHeads == 8 &&
           l.headDim == 64 && l.vocabSize == 128256 && l.maxSeqLen == 131072 && l.ropeTheta == 500000.0f));
    REQUIRE(l.ropeScaling.has_value());
    CHECK((l.ropeScaling->factor == 32.0f && l.ropeScaling->lowFreqFactor == 1.0f &&
           l.ropeScaling->highFreqFactor == 4.0f && l.ropeScaling->originalMaxPositions == 8192));
    const auto& q = syntheticShape("qwen3-0.6b").config;
    CHECK((q.dim == 1024 && q.hiddenDim == 3072 && q.nLayers == 28 && q.nHeads == 16 && q.nKvHeads == 8 &&
           q.headDim == 128 && q.vocabSize == 151936 && q.qkNorm && q.tiedEmbeddings && q.ropeTheta == 1e6f));
    CHECK_THROWS_AS(syntheticShape("gpt5"), std::invalid_argument);
    CHECK(syntheticShapes().size() == 6);
}

TEST_CASE("synthetic models are deterministic with std 0.02 and run", "[runtime][synthetic]")
{
    const auto& shape = syntheticShape("ts5m");
    auto a = makeSyntheticModel(shape, 1), b = makeSyntheticModel(shape, 1), c = makeSyntheticModel(shape, 2);
    CHECK(a->parameterCount() == b->parameterCount());
    const auto& ta = a->tensor("blk.2.ffn_up.weight");
    const auto& tb = b->tensor("blk.2.ffn_up.weight");
    const auto& tc = c->tensor("blk.2.ffn_up.weight");
    CHECK(std::memcmp(ta.data, tb.data, ta.nbytes) == 0);
    CHECK(std::memcmp(ta.data, tc.data, ta.nbytes) != 0);
    const auto f = ta.f32();
    double sum = 0, sq = 0;
    for (float v : f) {
        sum += v;
        sq += double(v) * v;
    }
    const double mean = sum / double(f.size()), sd = std::sqrt(sq / double(f.size()) - mean * mean);
    CHECK(std::abs(mean) < 1e-3);
    CHECK(sd == Approx(0.02).epsilon(0.02));
    for (float v : a->tensor("blk.0.attn_norm.weight").f32())
        REQUIRE(v == 1.0f);
    // Two tensors of the same shape differ.
    CHECK(std::memcmp(a->tensor("blk.0.ffn_up.weight").data, ta.data, ta.nbytes) != 0);

    // The placeholder tokenizer covers the vocabulary: control tokens, bytes, fillers.
    const Tokenizer& tok = *a->tokenizer;
    CHECK(tok.vocabSize() == 512);
    CHECK(tok.bosId() == 1);
    const auto ids = tok.encode("Hi\n");
    REQUIRE(ids.size() >= 3);
    CHECK(tok.decode(ids) == "Hi\n");
    CHECK(tok.piece(3 + 'H') == "<0x48>");
    CHECK(tok.kind(3 + 'H') == TokenKind::Byte);
    CHECK(tok.kind(1) == TokenKind::Control);
    CHECK(tok.piece(511) == "[511]");
    CHECK(tok.decode(tok.encode("a b\xc3\xa9")) == "a b\xc3\xa9");

    auto rt = makeFp32Model(a, 2);
    auto ctx = rt->newContext(32);
    std::vector<float> logits;
    ctx->forward(std::vector<std::int32_t>{1, 75, 108, 3}, false, logits);
    REQUIRE(logits.size() == 512);
    for (float v : logits)
        REQUIRE(std::isfinite(v));
    CHECK(rt->weightBytesPerToken() ==
          4ull * (6ull * (2 * 256 * 256 + 2 * 128 * 256 + 3 * 768 * 256) + 512 * 256 + 256));
}

// ---- llama2.c golden output ----------------------------------------------------------------------------

namespace {

// run.c generate(): print decode(prev, next) for every step (prompt tokens included), stop on BOS, then "\n".
std::string runcGreedy(const InferenceModel& rt, const std::string& prompt, int steps)
{
    const Tokenizer& tok = rt.tokenizer();
    std::vector<std::int32_t> promptIds = tok.encode(prompt, EncodeOptions{.addBos = true});
    auto ctx = rt.newContext();
    Sampler sampler(SamplerConfig{.temperature = 0.0f}, rt.config().vocabSize);
    std::string out;
    std::vector<float> logits;
    std::int32_t token = promptIds[0];
    for (int pos = 0; pos < steps; ++pos) {
        ctx->forward(std::span<const std::int32_t>(&token, 1), false, logits);
        const std::int32_t next = pos < static_cast<int>(promptIds.size()) - 1
                                      ? promptIds[static_cast<std::size_t>(pos) + 1]
                                      : sampler.sample(logits, {});
        if (next == 1)
            break;
        out += tok.decodeToken(token, next);
        token = next;
    }
    return out + "\n";
}

} // namespace

TEST_CASE("stories260K greedy generation matches llama2.c run.c byte for byte", "[runtime][golden]")
{
    if (!bqtest::haveShared("models/stories260K"))
        return;
    auto model = loadLlama2cModel(bqtest::sharedPath("models/stories260K/stories260K.bin"),
                                  bqtest::sharedPath("models/stories260K/tok512.bin"));
    const std::string want =
        bqtest::readFile(bqtest::sharedPath("models/stories260K/reference_greedy_once_upon_a_time_n256.txt"));
    for (int threads : {1, 2}) {
        INFO("threads " << threads << ", kernels " << kernels::f32PathName(kernels::bestF32Path()));
        auto rt = makeFp32Model(model, threads);
        CHECK(runcGreedy(*rt, "Once upon a time", 256) == want);
    }
    // Prefill of the whole reference text reproduces the same greedy choices.
    auto rt = makeFp32Model(model, 2);
    const auto ids = rt->tokenizer().encode(want.substr(0, want.size() - 1), EncodeOptions{.addBos = true});
    const int n = std::min<int>(static_cast<int>(ids.size()), 256);
    std::vector<float> logits;
    rt->newContext()->forward(std::span<const std::int32_t>(ids).first(static_cast<std::size_t>(n)), true, logits);
    int agree = 0, generated = 0;
    for (int p = 4; p + 1 < n; ++p) { // positions after the prompt "Once upon a time"
        const float* row = logits.data() + static_cast<std::size_t>(p) * 512;
        ++generated;
        agree += static_cast<int>(std::max_element(row, row + 512) - row) == ids[static_cast<std::size_t>(p) + 1];
    }
    // Re-encoding the decoded text may split a few words differently from the generated tokens.
    CHECK(agree >= generated * 9 / 10);
}

// ---- speed (hidden; run with `test_runtime "[bench]"`) -------------------------------------------------

TEST_CASE("fp32 speed on the llama3.2-1b synthetic model", "[.][bench]")
{
    SyntheticShape shape = syntheticShape("llama3.2-1b");
    shape.config.maxSeqLen = 2048;
    auto t0 = std::chrono::steady_clock::now();
    auto model = makeSyntheticModel(shape, 1);
    auto t1 = std::chrono::steady_clock::now();
    std::printf("generated %.2f B parameters in %.2f s\n", double(model->parameterCount()) / 1e9,
                std::chrono::duration<double>(t1 - t0).count());
    const auto prompt = randomTokens(128, shape.config.vocabSize, 1);
    // Wall time, and process CPU time per thread (a less noisy figure when other jobs share the machine).
    auto cpuNow = [] {
        timespec t{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
    };
    for (int threads : {1, 2}) {
        auto rt = makeFp32Model(model, threads);
        auto ctx = rt->newContext();
        std::vector<float> logits;
        double ca = cpuNow();
        auto a = std::chrono::steady_clock::now();
        ctx->forward(prompt, false, logits);
        auto b = std::chrono::steady_clock::now();
        double cb = cpuNow();
        const double prefill = 128.0 / std::chrono::duration<double>(b - a).count();
        const double prefillCpu = 128.0 / ((cb - ca) / threads);
        std::int32_t tok = 5;
        const int n = 8;
        auto c = std::chrono::steady_clock::now();
        double cc = cpuNow();
        for (int i = 0; i < n; ++i)
            ctx->forward(std::span<const std::int32_t>(&tok, 1), false, logits);
        double cd = cpuNow();
        auto d = std::chrono::steady_clock::now();
        const double decode = n / std::chrono::duration<double>(d - c).count();
        const double decodeCpu = n / ((cd - cc) / threads);
        const double gb = double(rt->weightBytesPerToken()) / 1e9;
        std::printf("threads %d (%s): prefill %.1f tok/s (CPU-time %.1f), decode %.2f tok/s (CPU-time %.2f), "
                    "%.2f GB/token -> %.1f GB/s (CPU-time %.1f)\n",
                    threads, kernels::f32PathName(kernels::bestF32Path()), prefill, prefillCpu, decode, decodeCpu,
                    gb, decode * gb, decodeCpu * gb);
    }
}

TEST_CASE("block forward speed on the opt125m shape against the GEMM rate", "[.][bench]")
{
    // What the quantization engine runs per calibration sequence: one block over T = 512 tokens, one thread, no
    // pool; the rate set against the GEMM of bench-quant measured right after on one thread; best of five each,
    // wall and thread CPU time (the CPU figure is the steadier one when other jobs share the machine).
    const ModelConfig c = syntheticShape("opt125m").config;
    const int T = 512;
    std::mt19937_64 rng(31);
    const auto d = std::size_t(c.dim), h = std::size_t(c.hiddenDim);
    std::vector<std::vector<float>> owned;
    auto values = [&](std::size_t n, float scale, float offset = 0.0f) {
        owned.push_back(randomVector(n, rng, scale));
        for (float& v : owned.back())
            v += offset;
        return owned.back().data();
    };
    BlockWeights w;
    auto linear = [&](Linear& l, std::size_t rows, std::size_t cols) {
        l.w = values(rows * cols, 1.0f / std::sqrt(float(cols)));
        l.rows = int(rows);
        l.cols = int(cols);
    };
    w.attnNorm = values(d, 0.1f, 1.0f);
    w.ffnNorm = values(d, 0.1f, 1.0f);
    linear(w.wq, d, d);
    linear(w.wk, d, d);
    linear(w.wv, d, d);
    linear(w.wo, d, d);
    linear(w.gate, h, d);
    linear(w.up, h, d);
    linear(w.down, d, h);
    const Rope rope(c);
    const std::vector<float> x0 = randomVector(std::size_t(T) * d, rng);
    std::vector<float> x, keys(std::size_t(T) * d), vals(keys.size());
    BlockScratch scratch;
    auto threadCpu = [] {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
    };
    double bestWall = 1e30, bestCpu = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        x = x0;
        BlockKv kv;
        kv.keys = keys.data();
        kv.values = vals.data();
        const double c0 = threadCpu();
        const auto a = std::chrono::steady_clock::now();
        forwardBlock(c, rope, w, x.data(), T, kv, scratch, nullptr);
        bestWall = std::min(bestWall, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
        bestCpu = std::min(bestCpu, threadCpu() - c0);
    }
    // The Gram GEMM of bench-quant (dense::gemm, T × m by T × m), timed the same way.
    const int m = c.dim;
    const std::vector<float> A = randomVector(std::size_t(T) * std::size_t(m), rng),
                             B = randomVector(std::size_t(T) * std::size_t(m), rng);
    std::vector<float> C(std::size_t(m) * std::size_t(m));
    double gemmWall = 1e30, gemmCpu = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        const double c0 = threadCpu();
        const auto a = std::chrono::steady_clock::now();
        quant::dense::gemm(true, false, m, m, T, 1.0f, A.data(), T, B.data(), T, 0.0f, C.data(), m);
        gemmWall = std::min(gemmWall, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
        gemmCpu = std::min(gemmCpu, threadCpu() - c0);
    }
    const double flops = blockForwardFlops(c, T), gemmFlops = 2.0 * T * double(m) * m;
    std::printf("block forward (%s), T = %d: %.1f ms wall, %.1f ms thread CPU -> %.1f GFLOP/s (CPU: %.1f); "
                "GEMM (%s) %.1f GFLOP/s (CPU: %.1f) -> forward at %.0f %% of it (CPU: %.0f %%)\n",
                kernels::f32PathName(kernels::bestF32Path()), T, bestWall * 1e3, bestCpu * 1e3, flops / bestWall * 1e-9,
                flops / bestCpu * 1e-9, quant::dense::pathName(quant::dense::bestPath()), gemmFlops / gemmWall * 1e-9,
                gemmFlops / gemmCpu * 1e-9, 100.0 * gemmWall * flops / (bestWall * gemmFlops),
                100.0 * gemmCpu * flops / (bestCpu * gemmFlops));
}
