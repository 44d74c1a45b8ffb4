#include "bq/runtime/fp32_model.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/runtime/kernels_q.h"
#include "bq/runtime/packed_linear_q.h"
#include "bq/runtime/packed_model.h"
#include "bq/runtime/packed_quantize.h"
#include "bq/runtime/rope.h"
#include "bq/runtime/transformer_block.h"
#include "bq/util/errors.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>

namespace bq {

namespace {

// Longest prefill chunk run as one set of GEMMs (bounds the scratch memory; longer prompts loop).
constexpr int kMaxChunk = 256;

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
    std::uint16_t* keyAt16(int layer, int index) const;
    std::uint16_t* valueAt16(int layer, int index) const;

    std::shared_ptr<const Fp32Model> m_model;
    int m_capacity;
    int m_count = 0;            // cached positions
    std::int64_t m_dropped = 0; // positions dropped by dropOldest (absolute position = m_dropped + index)
    std::size_t m_kvDim;
    bool m_f16 = false;                        // fp16 KV cache (packed runtime option)
    std::unique_ptr<float[]> m_keys, m_values; // [layer][capacity][kvDim]
    std::unique_ptr<std::uint16_t[]> m_keys16, m_values16;
    std::vector<float> m_x, m_xb;
    BlockScratch m_scratch;
};

class Fp32Model final : public InferenceModel, public std::enable_shared_from_this<Fp32Model> {
public:
    // packed == null: the fp32 reference runtime; else the packed runtime with those options.
    Fp32Model(std::shared_ptr<const Model> model, int threads, WeightOverrides overrides,
              const PackedModelOptions* packed = nullptr)
        : m_model(std::move(model)), m_pool(threads), m_rope(m_model->config)
    {
        const ModelConfig& c = m_model->config;
        c.validate(m_model->sourcePath);
        if (!packed || !packed->linearFactory)
            m_model->validateTensors();
        if (packed) {
            m_packedMode = true;
            m_f16Kv = packed->f16KvCache;
            m_factory = packed->linearFactory;
        }
        m_overrides = std::move(overrides);
        const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim(), v = c.vocabSize;
        const bool headIsOwn = m_overrides.count("output.weight") || !c.tiedEmbeddings;
        const std::string headName = headIsOwn ? "output.weight" : "token_embd.weight";
        const Tensor* embedTensor = m_model->find("token_embd.weight");
        if (m_packedMode && embedTensor && embedTensor->dtype != DType::F32) {
            // Looked up one row per token (a packed tied embedding is never expanded to fp32).
            if (embedTensor->numel() != v * d)
                throw FormatError(m_model->sourcePath, "tensor token_embd.weight",
                                  std::to_string(v * d) + " elements, found " + embedTensor->shapeString());
            m_embedTensor = embedTensor;
        } else {
            m_embed = weight("token_embd.weight", v * d);
        }
        m_head = linear("output.weight", headName, static_cast<int>(v), static_cast<int>(d));
        m_outNorm = weight("output_norm.weight", d);
        m_layers.resize(static_cast<std::size_t>(c.nLayers));
        for (int l = 0; l < c.nLayers; ++l) {
            BlockWeights& w = m_layers[static_cast<std::size_t>(l)];
            w.attnNorm = weight(blockTensorName(l, "attn_norm"), d);
            auto lin = [&](const char* part, std::int64_t rows, std::int64_t cols) {
                const std::string name = blockTensorName(l, part);
                return linear(name, name, static_cast<int>(rows), static_cast<int>(cols));
            };
            w.wq = lin("attn_q", q, d);
            w.wk = lin("attn_k", kv, d);
            w.wv = lin("attn_v", kv, d);
            w.wo = lin("attn_output", d, q);
            w.ffnNorm = weight(blockTensorName(l, "ffn_norm"), d);
            w.gate = lin("ffn_gate", h, d);
            w.up = lin("ffn_up", h, d);
            w.down = lin("ffn_down", d, h);
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
        // Every linear weight and the head once per token, plus the final norm (an embedding row is noise).
        std::set<std::string> kinds; // of the layers' linears
        m_weightBytes = m_head.bytes() + 4 * static_cast<std::uint64_t>(d);
        const std::string headKind = m_head.packed ? m_head.packed->kind() : "fp32";
        for (const BlockWeights& w : m_layers)
            for (const Linear* p : {&w.wq, &w.wk, &w.wv, &w.wo, &w.gate, &w.down, &w.up}) {
                m_weightBytes += p->bytes();
                kinds.insert(p->packed ? p->packed->kind() : "fp32");
            }
        if (!m_packedMode)
            m_backend = "fp32";
        else if (kinds.count("fp32") || headKind == "fp32")
            m_backend = kinds.size() == 1 && headKind == *kinds.begin() ? headKind : "mixed";
        else { // packed kinds only, the body's first and the head's last: "q1_0", "q1_0+q6_k"
            m_backend.clear();
            for (const std::string& k : kinds)
                m_backend += (m_backend.empty() ? "" : "+") + k;
            if (!kinds.count(headKind))
                m_backend += "+" + headKind;
        }
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
    std::string backendName() const override { return m_backend; }
    int threads() const override { return m_pool.size(); }
    std::uint64_t weightBytesPerToken() const override { return m_weightBytes; }

    ThreadPool& pool() const { return m_pool; }
    std::mutex& forwardMutex() const { return m_forwardMutex; }
    const Rope& rope() const { return m_rope; }
    const BlockWeights& layer(int l) const { return m_layers[static_cast<std::size_t>(l)]; }
    bool f16KvCache() const { return m_f16Kv; }
    // Token `id`'s embedding row into out[dim].
    void embedRow(std::int32_t id, float* out) const
    {
        const auto dim = static_cast<std::size_t>(m_model->config.dim);
        if (m_embed)
            std::memcpy(out, m_embed + static_cast<std::size_t>(id) * dim, dim * sizeof(float));
        else
            m_embedTensor->rowToFloat(id, out);
    }
    const Linear& head() const { return m_head; }
    const float* outNorm() const { return m_outNorm; }

private:
    // A projection: in the packed runtime the factory's or the built-in block kernels' PackedLinear when the
    // weight (no override) is packed, else the fp32 values. `key` names it for overrides and the factory
    // ("output.weight" for the head), `tensorName` is where its values live.
    Linear linear(const std::string& key, const std::string& tensorName, int rows, int cols)
    {
        Linear out;
        out.rows = rows;
        out.cols = cols;
        if (m_packedMode && !m_overrides.count(key)) {
            if (m_factory)
                out.packed = m_factory(*m_model, key);
            const Tensor* t = out.packed ? nullptr : m_model->find(tensorName);
            if (t && kernels::packedKernelSupports(t->dtype) && t->cols() % dtypeBlockSize(t->dtype) == 0) {
                out.packed = makeBlockPackedLinear(*t);
                out.blockPacked = true;
            } else if (t && tensorType(t->dtype).isBlockQuantized() && t->shape.size() == 2 &&
                       t->cols() % dtypeBlockSize(DType::Q8_0) == 0) {
                // llama.cpp types without packed kernels (Q4_1, Q5_0, Q5_1, Q2_K..Q5_K, Q8_K, IQ4_NL, IQ4_XS):
                // dequantized and repacked once to Q8_0 (ggml's rounding per 32), run by the int8 kernels.
                out.packed = makeBlockPackedLinear(quantizeTensor(*t, DType::Q8_0, &m_pool));
                out.blockPacked = true;
            }
            if (out.packed) {
                if (out.packed->rows() != rows || out.packed->cols() != cols)
                    throw FormatError(m_model->sourcePath, "tensor " + tensorName,
                                      "[" + std::to_string(rows) + ", " + std::to_string(cols) + "], found a " +
                                          out.packed->kind() + " matrix [" + std::to_string(out.packed->rows()) +
                                          ", " + std::to_string(out.packed->cols()) + "]");
                m_used.insert(key);
                return out;
            }
        }
        out.w = weight(key == "output.weight" && tensorName != key ? tensorName : key,
                       static_cast<std::int64_t>(rows) * cols);
        return out;
    }

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
    std::vector<BlockWeights> m_layers;
    const float* m_embed = nullptr;
    const Tensor* m_embedTensor = nullptr; // packed runtime: a non-F32 embedding, dequantized per row
    Linear m_head;
    const float* m_outNorm = nullptr;
    std::uint64_t m_weightBytes = 0;
    bool m_packedMode = false, m_f16Kv = false;
    std::function<std::shared_ptr<const PackedLinear>(const Model&, const std::string&)> m_factory;
    std::string m_backend = "fp32";
};

Fp32Context::Fp32Context(std::shared_ptr<const Fp32Model> model, int capacity)
    : m_model(std::move(model)), m_capacity(capacity)
{
    const ModelConfig& c = m_model->config();
    m_kvDim = static_cast<std::size_t>(c.kvDim());
    const std::size_t cacheFloats =
        static_cast<std::size_t>(c.nLayers) * static_cast<std::size_t>(capacity) * m_kvDim;
    m_f16 = m_model->f16KvCache();
    if (m_f16) {
        m_keys16 = std::make_unique_for_overwrite<std::uint16_t[]>(cacheFloats);
        m_values16 = std::make_unique_for_overwrite<std::uint16_t[]>(cacheFloats);
    } else {
        m_keys = uninitFloats(cacheFloats);
        m_values = uninitFloats(cacheFloats);
    }
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

std::uint16_t* Fp32Context::keyAt16(int layer, int index) const
{
    return m_keys16.get() + (static_cast<std::size_t>(layer) * static_cast<std::size_t>(m_capacity) +
                             static_cast<std::size_t>(index)) * m_kvDim;
}

std::uint16_t* Fp32Context::valueAt16(int layer, int index) const
{
    return m_values16.get() + (static_cast<std::size_t>(layer) * static_cast<std::size_t>(m_capacity) +
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
        if (m_f16) {
            std::memmove(keyAt16(l, 0), keyAt16(l, count), static_cast<std::size_t>(keep) * m_kvDim * 2);
            std::memmove(valueAt16(l, 0), valueAt16(l, count), static_cast<std::size_t>(keep) * m_kvDim * 2);
            continue;
        }
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
    const auto dim = static_cast<std::size_t>(c.dim);
    m_x.resize(static_cast<std::size_t>(T) * dim);
    for (int t = 0; t < T; ++t)
        m.embedRow(tokens[static_cast<std::size_t>(t)], m_x.data() + static_cast<std::size_t>(t) * dim);

    for (int l = 0; l < c.nLayers; ++l) {
        BlockKv kv;
        if (m_f16) {
            kv.keys16 = keyAt16(l, 0);
            kv.values16 = valueAt16(l, 0);
        } else {
            kv.keys = keyAt(l, 0);
            kv.values = valueAt(l, 0);
        }
        kv.cached = m_count;
        kv.position = m_dropped + m_count;
        forwardBlock(c, m.rope(), m.layer(l), m_x.data(), T, kv, m_scratch, pool);
    }
    m_count += T;

    if (!logitsOut)
        return;
    // The head reads every position's final norm, or only the last one's.
    const int rows = allPositions ? T : 1;
    m_xb.resize(static_cast<std::size_t>(rows) * dim);
    rmsnormTokens(c, m.outNorm(), m_x.data() + static_cast<std::size_t>(T - rows) * dim, rows, m_xb.data());
    m.head().apply(m_xb.data(), rows, logitsOut, pool);
}

} // namespace

std::shared_ptr<InferenceModel> makeFp32Model(std::shared_ptr<const Model> model, int threads,
                                              WeightOverrides overrides)
{
    if (!model)
        throw std::invalid_argument("makeFp32Model: no model");
    return std::make_shared<Fp32Model>(std::move(model), threads, std::move(overrides));
}

std::shared_ptr<InferenceModel> makePackedModel(std::shared_ptr<const Model> model, int threads,
                                                PackedModelOptions options)
{
    if (!model)
        throw std::invalid_argument("makePackedModel: no model");
    return std::make_shared<Fp32Model>(std::move(model), threads, WeightOverrides{}, &options);
}

bool hasPackedLinears(const Model& model)
{
    for (const auto& [name, t] : model.tensors)
        if (kernels::packedKernelSupports(t.dtype) && t.shape.size() == 2 &&
            (name.rfind("blk.", 0) == 0 || name == "output.weight" || name == "token_embd.weight"))
            return true;
    return false;
}

} // namespace bq
