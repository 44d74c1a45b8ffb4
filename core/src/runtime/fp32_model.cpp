#include "bq/runtime/fp32_model.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/runtime/rope.h"
#include "bq/util/errors.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>

namespace bq {

namespace {

// Longest prefill chunk run as one set of GEMMs (bounds the scratch memory; longer prompts loop).
constexpr int kMaxChunk = 256;

struct LayerWeights {
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
    const float* w1 = nullptr; // ffn_gate
    const float* w2 = nullptr; // ffn_down
    const float* w3 = nullptr; // ffn_up
};

std::unique_ptr<float[]> uninitFloats(std::size_t n)
{
    // Not value-initialised: a large KV cache only commits the pages that are actually written.
    return std::make_unique_for_overwrite<float[]>(n);
}

class Fp32Model;

class Fp32Context final : public InferenceContext {
public:
    Fp32Context(std::shared_ptr<const Fp32Model> model, int capacity);
    void forward(std::span<const std::int32_t> tokens, bool allPositions, std::vector<float>& logits) override;
    int position() const override { return m_count; }
    int capacity() const override { return m_capacity; }
    void reset() override
    {
        m_count = 0;
        m_dropped = 0;
    }
    bool dropOldest(int count) override;

private:
    void runChunk(std::span<const std::int32_t> tokens, bool allPositions, float* logitsOut);
    float* keyAt(int layer, int index) const;
    float* valueAt(int layer, int index) const;

    std::shared_ptr<const Fp32Model> m_model;
    int m_capacity;
    int m_count = 0;            // cached positions
    std::int64_t m_dropped = 0; // positions dropped by dropOldest (absolute position = m_dropped + index)
    std::size_t m_kvDim;
    std::unique_ptr<float[]> m_keys, m_values; // [layer][capacity][kvDim]
    std::unique_ptr<float[]> m_scores;         // [thread][capacity]
    std::vector<float> m_x, m_xb, m_q, m_k, m_v, m_att, m_hb, m_hb2, m_cos, m_sin;
};

class Fp32Model final : public InferenceModel, public std::enable_shared_from_this<Fp32Model> {
public:
    Fp32Model(std::shared_ptr<const Model> model, int threads, WeightOverrides overrides)
        : m_model(std::move(model)), m_pool(threads), m_rope(m_model->config)
    {
        const ModelConfig& c = m_model->config;
        c.validate(m_model->sourcePath);
        m_model->validateTensors();
        m_overrides = std::move(overrides);
        const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim(), v = c.vocabSize;
        m_embed = weight("token_embd.weight", v * d);
        if (m_overrides.count("output.weight") || !c.tiedEmbeddings)
            m_head = weight("output.weight", v * d);
        else
            m_head = m_embed;
        m_outNorm = weight("output_norm.weight", d);
        m_layers.resize(static_cast<std::size_t>(c.nLayers));
        for (int l = 0; l < c.nLayers; ++l) {
            LayerWeights& w = m_layers[static_cast<std::size_t>(l)];
            w.attnNorm = weight(blockTensorName(l, "attn_norm"), d);
            w.wq = weight(blockTensorName(l, "attn_q"), q * d);
            w.wk = weight(blockTensorName(l, "attn_k"), kv * d);
            w.wv = weight(blockTensorName(l, "attn_v"), kv * d);
            w.wo = weight(blockTensorName(l, "attn_output"), d * q);
            w.ffnNorm = weight(blockTensorName(l, "ffn_norm"), d);
            w.w1 = weight(blockTensorName(l, "ffn_gate"), h * d);
            w.w3 = weight(blockTensorName(l, "ffn_up"), h * d);
            w.w2 = weight(blockTensorName(l, "ffn_down"), d * h);
            if (c.qkvBias) {
                const std::string p = "blk." + std::to_string(l) + ".";
                w.bq = weight(p + "attn_q.bias", q);
                w.bk = weight(p + "attn_k.bias", kv);
                w.bv = weight(p + "attn_v.bias", kv);
            }
            if (c.qkNorm) {
                w.qNorm = weight(blockTensorName(l, "attn_q_norm"), c.headDim);
                w.kNorm = weight(blockTensorName(l, "attn_k_norm"), c.headDim);
            }
        }
        for (const auto& [name, values] : m_overrides)
            if (!m_used.count(name))
                throw std::invalid_argument("fp32 runtime: weight override '" + name +
                                            "' does not name a weight this model uses");
        const std::uint64_t linear = static_cast<std::uint64_t>(c.nLayers) *
                                     static_cast<std::uint64_t>(2 * q * d + 2 * kv * d + 3 * h * d);
        m_weightBytes = 4 * (linear + static_cast<std::uint64_t>(v * d) + static_cast<std::uint64_t>(d));
        m_overrides.clear(); // the values stay alive in m_owned
    }

    const ModelConfig& config() const override { return m_model->config; }
    const Tokenizer& tokenizer() const override
    {
        if (!m_model->tokenizer)
            throw std::logic_error("fp32 runtime: the model '" + m_model->sourcePath + "' has no tokenizer");
        return *m_model->tokenizer;
    }
    std::unique_ptr<InferenceContext> newContext(int maxTokens) const override
    {
        if (maxTokens < 0)
            throw std::invalid_argument("fp32 runtime: negative context size " + std::to_string(maxTokens));
        const int cap = maxTokens == 0 ? m_model->config.maxSeqLen : maxTokens;
        return std::make_unique<Fp32Context>(shared_from_this(), cap);
    }
    std::string backendName() const override { return "fp32"; }
    int threads() const override { return m_pool.size(); }
    std::uint64_t weightBytesPerToken() const override { return m_weightBytes; }

    ThreadPool& pool() const { return m_pool; }
    std::mutex& forwardMutex() const { return m_forwardMutex; }
    const Rope& rope() const { return m_rope; }
    const LayerWeights& layer(int l) const { return m_layers[static_cast<std::size_t>(l)]; }
    const float* embed() const { return m_embed; }
    const float* head() const { return m_head; }
    const float* outNorm() const { return m_outNorm; }

private:
    // fp32 values of a weight: an override, the mapped F32 data in place, or a one-time conversion.
    const float* weight(const std::string& name, std::int64_t numel)
    {
        if (auto it = m_resolved.find(name); it != m_resolved.end())
            return it->second;
        const float* p = nullptr;
        if (auto it = m_overrides.find(name); it != m_overrides.end()) {
            if (!it->second || static_cast<std::int64_t>(it->second->size()) != numel)
                throw std::invalid_argument("fp32 runtime: weight override '" + name + "' has " +
                                            std::to_string(it->second ? it->second->size() : 0) +
                                            " values, expected " + std::to_string(numel));
            m_owned.push_back(it->second);
            p = it->second->data();
        } else {
            const Tensor& t = m_model->tensor(name);
            if (t.numel() != numel)
                throw FormatError(m_model->sourcePath, "tensor " + name,
                                  std::to_string(numel) + " elements, found " + t.shapeString());
            if (t.dtype == DType::F32 && reinterpret_cast<std::uintptr_t>(t.data) % alignof(float) == 0 &&
                t.nbytes >= static_cast<std::size_t>(numel) * 4) {
                p = reinterpret_cast<const float*>(t.data);
            } else {
                auto converted = std::make_shared<const std::vector<float>>(t.toFloat());
                m_owned.push_back(converted);
                p = converted->data();
            }
        }
        m_used.insert(name);
        m_resolved[name] = p;
        return p;
    }

    std::shared_ptr<const Model> m_model;
    mutable ThreadPool m_pool;
    mutable std::mutex m_forwardMutex;
    Rope m_rope;
    WeightOverrides m_overrides;
    std::set<std::string> m_used;
    std::map<std::string, const float*> m_resolved;
    std::vector<std::shared_ptr<const std::vector<float>>> m_owned;
    std::vector<LayerWeights> m_layers;
    const float* m_embed = nullptr;
    const float* m_head = nullptr;
    const float* m_outNorm = nullptr;
    std::uint64_t m_weightBytes = 0;
};

Fp32Context::Fp32Context(std::shared_ptr<const Fp32Model> model, int capacity)
    : m_model(std::move(model)), m_capacity(capacity)
{
    const ModelConfig& c = m_model->config();
    m_kvDim = static_cast<std::size_t>(c.kvDim());
    const std::size_t cacheFloats =
        static_cast<std::size_t>(c.nLayers) * static_cast<std::size_t>(capacity) * m_kvDim;
    m_keys = uninitFloats(cacheFloats);
    m_values = uninitFloats(cacheFloats);
    m_scores = uninitFloats(static_cast<std::size_t>(m_model->threads()) * static_cast<std::size_t>(capacity));
    m_cos.resize(static_cast<std::size_t>(c.headDim / 2));
    m_sin.resize(static_cast<std::size_t>(c.headDim / 2));
}

float* Fp32Context::keyAt(int layer, int index) const
{
    return m_keys.get() + (static_cast<std::size_t>(layer) * static_cast<std::size_t>(m_capacity) +
                           static_cast<std::size_t>(index)) * m_kvDim;
}

float* Fp32Context::valueAt(int layer, int index) const
{
    return m_values.get() + (static_cast<std::size_t>(layer) * static_cast<std::size_t>(m_capacity) +
                             static_cast<std::size_t>(index)) * m_kvDim;
}

bool Fp32Context::dropOldest(int count)
{
    if (count < 0)
        return false;
    count = std::min(count, m_count);
    if (count == 0)
        return true;
    const int keep = m_count - count;
    const int layers = m_model->config().nLayers;
    for (int l = 0; l < layers; ++l) {
        std::memmove(keyAt(l, 0), keyAt(l, count), static_cast<std::size_t>(keep) * m_kvDim * sizeof(float));
        std::memmove(valueAt(l, 0), valueAt(l, count), static_cast<std::size_t>(keep) * m_kvDim * sizeof(float));
    }
    m_count = keep;
    m_dropped += count;
    return true;
}

void Fp32Context::forward(std::span<const std::int32_t> tokens, bool allPositions, std::vector<float>& logits)
{
    const ModelConfig& c = m_model->config();
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n == 0) {
        logits.clear();
        return;
    }
    if (m_count + n > m_capacity)
        throw std::length_error("fp32 runtime: " + std::to_string(n) + " token(s) at position " +
                                std::to_string(m_count) + " do not fit in a context of " +
                                std::to_string(m_capacity) +
                                " positions (reset the context, drop the oldest positions or create a larger one)");
    for (std::int64_t i = 0; i < n; ++i)
        if (tokens[static_cast<std::size_t>(i)] < 0 || tokens[static_cast<std::size_t>(i)] >= c.vocabSize)
            throw std::out_of_range("fp32 runtime: token id " + std::to_string(tokens[static_cast<std::size_t>(i)]) +
                                    " at index " + std::to_string(i) + " is outside the vocabulary [0, " +
                                    std::to_string(c.vocabSize) + ")");
    const auto vocab = static_cast<std::size_t>(c.vocabSize);
    logits.resize(allPositions ? static_cast<std::size_t>(n) * vocab : vocab);
    std::lock_guard<std::mutex> lock(m_model->forwardMutex());
    for (std::int64_t s = 0; s < n; s += kMaxChunk) {
        const std::int64_t len = std::min<std::int64_t>(kMaxChunk, n - s);
        float* out = allPositions ? logits.data() + static_cast<std::size_t>(s) * vocab
                                  : (s + len == n ? logits.data() : nullptr);
        runChunk(tokens.subspan(static_cast<std::size_t>(s), static_cast<std::size_t>(len)), allPositions, out);
    }
}

void Fp32Context::runChunk(std::span<const std::int32_t> tokens, bool allPositions, float* logitsOut)
{
    const Fp32Model& m = *m_model;
    const ModelConfig& c = m.config();
    ThreadPool* pool = &m.pool();
    const int T = static_cast<int>(tokens.size());
    const auto dim = static_cast<std::size_t>(c.dim), qDim = static_cast<std::size_t>(c.qDim()),
               kvDim = m_kvDim, hidden = static_cast<std::size_t>(c.hiddenDim);
    const int hd = c.headDim;
    const auto ut = static_cast<std::size_t>(T);
    m_x.resize(ut * dim);
    m_xb.resize(ut * std::max(dim, qDim));
    m_q.resize(ut * qDim);
    m_k.resize(ut * kvDim);
    m_v.resize(ut * kvDim);
    m_att.resize(ut * qDim);
    m_hb.resize(ut * hidden);
    m_hb2.resize(ut * hidden);

    for (int t = 0; t < T; ++t)
        std::memcpy(m_x.data() + static_cast<std::size_t>(t) * dim,
                    m.embed() + static_cast<std::size_t>(tokens[static_cast<std::size_t>(t)]) * dim,
                    dim * sizeof(float));

    const int kvMul = c.nHeads / c.nKvHeads;
    const float scaleDiv = std::sqrt(static_cast<float>(hd));
    for (int l = 0; l < c.nLayers; ++l) {
        const LayerWeights& w = m.layer(l);
        for (int t = 0; t < T; ++t)
            kernels::rmsnorm(m_xb.data() + t * dim, m_x.data() + t * dim, w.attnNorm, c.dim, c.normEps);
        kernels::matmul(w.wq, c.qDim(), c.dim, m_xb.data(), T, m_q.data(), pool);
        kernels::matmul(w.wk, c.kvDim(), c.dim, m_xb.data(), T, m_k.data(), pool);
        kernels::matmul(w.wv, c.kvDim(), c.dim, m_xb.data(), T, m_v.data(), pool);
        for (int t = 0; t < T; ++t) {
            float* q = m_q.data() + t * qDim;
            float* k = m_k.data() + t * kvDim;
            float* v = m_v.data() + t * kvDim;
            if (w.bq) {
                for (std::size_t i = 0; i < qDim; ++i)
                    q[i] += w.bq[i];
                for (std::size_t i = 0; i < kvDim; ++i) {
                    k[i] += w.bk[i];
                    v[i] += w.bv[i];
                }
            }
            if (w.qNorm) {
                for (int h = 0; h < c.nHeads; ++h)
                    kernels::rmsnorm(q + h * hd, q + h * hd, w.qNorm, hd, c.normEps);
                for (int h = 0; h < c.nKvHeads; ++h)
                    kernels::rmsnorm(k + h * hd, k + h * hd, w.kNorm, hd, c.normEps);
            }
            m.rope().angles(m_dropped + m_count + t, m_cos.data(), m_sin.data());
            m.rope().apply(q, c.nHeads, m_cos.data(), m_sin.data());
            m.rope().apply(k, c.nKvHeads, m_cos.data(), m_sin.data());
            std::memcpy(keyAt(l, m_count + t), k, kvDim * sizeof(float));
            std::memcpy(valueAt(l, m_count + t), v, kvDim * sizeof(float));
        }
        // Grouped-query causal attention, one head per task (independent, so thread-count invariant).
        pool->parallelFor(static_cast<std::size_t>(c.nHeads), [&](std::size_t hb, std::size_t he, int worker) {
            float* scores = m_scores.get() + static_cast<std::size_t>(worker) * static_cast<std::size_t>(m_capacity);
            for (auto h = static_cast<int>(hb); h < static_cast<int>(he); ++h) {
                const std::size_t kvOff = static_cast<std::size_t>(h / kvMul) * static_cast<std::size_t>(hd);
                for (int t = 0; t < T; ++t) {
                    const float* q = m_q.data() + t * qDim + static_cast<std::size_t>(h) * hd;
                    const int n = m_count + t + 1;
                    for (int j = 0; j < n; ++j)
                        scores[j] = kernels::dot(q, keyAt(l, j) + kvOff, hd) / scaleDiv;
                    kernels::softmax(scores, n);
                    float* out = m_att.data() + t * qDim + static_cast<std::size_t>(h) * hd;
                    std::fill(out, out + hd, 0.0f);
                    for (int j = 0; j < n; ++j)
                        kernels::axpy(scores[j], valueAt(l, j) + kvOff, out, hd);
                }
            }
        });
        kernels::matmul(w.wo, c.dim, c.qDim(), m_att.data(), T, m_xb.data(), pool);
        for (std::size_t i = 0; i < ut * dim; ++i)
            m_x[i] += m_xb[i];

        for (int t = 0; t < T; ++t)
            kernels::rmsnorm(m_xb.data() + t * dim, m_x.data() + t * dim, w.ffnNorm, c.dim, c.normEps);
        kernels::matmul(w.w1, c.hiddenDim, c.dim, m_xb.data(), T, m_hb.data(), pool);
        kernels::matmul(w.w3, c.hiddenDim, c.dim, m_xb.data(), T, m_hb2.data(), pool);
        kernels::siluMul(m_hb.data(), m_hb2.data(), static_cast<int>(ut * hidden));
        kernels::matmul(w.w2, c.dim, c.hiddenDim, m_hb.data(), T, m_xb.data(), pool);
        for (std::size_t i = 0; i < ut * dim; ++i)
            m_x[i] += m_xb[i];
    }
    m_count += T;

    if (!logitsOut)
        return;
    if (allPositions) {
        for (int t = 0; t < T; ++t)
            kernels::rmsnorm(m_xb.data() + t * dim, m_x.data() + t * dim, m.outNorm(), c.dim, c.normEps);
        kernels::matmul(m.head(), c.vocabSize, c.dim, m_xb.data(), T, logitsOut, pool);
    } else {
        kernels::rmsnorm(m_xb.data(), m_x.data() + (ut - 1) * dim, m.outNorm(), c.dim, c.normEps);
        kernels::matvec(m.head(), c.vocabSize, c.dim, m_xb.data(), logitsOut, pool);
    }
}

} // namespace

std::shared_ptr<InferenceModel> makeFp32Model(std::shared_ptr<const Model> model, int threads,
                                              WeightOverrides overrides)
{
    if (!model)
        throw std::invalid_argument("makeFp32Model: no model");
    return std::make_shared<Fp32Model>(std::move(model), threads, std::move(overrides));
}

} // namespace bq
