#include "bq/quant/pipeline/block_forward.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace bq::quant {

const char* siteName(Site s) noexcept
{
    switch (s) {
    case Site::AttnIn: return "attn_in";
    case Site::AttnOut: return "attn_out";
    case Site::FfnIn: return "ffn_in";
    case Site::FfnMid: return "ffn_mid";
    }
    return "?";
}

Site siteOfLinear(const std::string& part)
{
    if (part == "attn_q" || part == "attn_k" || part == "attn_v")
        return Site::AttnIn;
    if (part == "attn_output")
        return Site::AttnOut;
    if (part == "ffn_gate" || part == "ffn_up")
        return Site::FfnIn;
    if (part == "ffn_down")
        return Site::FfnMid;
    throw std::invalid_argument("siteOfLinear: '" + part + "' is not a block linear");
}

const std::array<const char*, 7>& blockLinearParts()
{
    static const std::array<const char*, 7> parts{"attn_q", "attn_k", "attn_v", "attn_output",
                                                  "ffn_gate", "ffn_up", "ffn_down"};
    return parts;
}

const float*& BlockWeights::linear(const std::string& part)
{
    if (part == "attn_q") return wq;
    if (part == "attn_k") return wk;
    if (part == "attn_v") return wv;
    if (part == "attn_output") return wo;
    if (part == "ffn_gate") return wGate;
    if (part == "ffn_up") return wUp;
    if (part == "ffn_down") return wDown;
    throw std::invalid_argument("BlockWeights: '" + part + "' is not a block linear");
}

BlockWeightStore::BlockWeightStore(const Model& model, int layer)
{
    const ModelConfig& c = model.config;
    const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim();
    BlockWeights& w = m_weights;
    w.attnNorm = load(model, blockTensorName(layer, "attn_norm"), d);
    w.ffnNorm = load(model, blockTensorName(layer, "ffn_norm"), d);
    const std::pair<const char*, std::int64_t> linears[] = {{"attn_q", q * d},   {"attn_k", kv * d},
                                                            {"attn_v", kv * d},  {"attn_output", d * q},
                                                            {"ffn_gate", h * d}, {"ffn_up", h * d},
                                                            {"ffn_down", d * h}};
    for (const auto& [part, numel] : linears) {
        w.linear(part) = load(model, blockTensorName(layer, part), numel);
        m_linear.emplace_back(part, m_owned.back().get());
    }
    if (c.qkvBias) {
        const std::string p = "blk." + std::to_string(layer) + ".";
        w.bq = load(model, p + "attn_q.bias", q);
        w.bk = load(model, p + "attn_k.bias", kv);
        w.bv = load(model, p + "attn_v.bias", kv);
    }
    if (c.qkNorm) {
        w.qNorm = load(model, blockTensorName(layer, "attn_q_norm"), c.headDim);
        w.kNorm = load(model, blockTensorName(layer, "attn_k_norm"), c.headDim);
    }
}

const float* BlockWeightStore::load(const Model& model, const std::string& name, std::int64_t numel)
{
    const Tensor& t = model.tensor(name);
    if (t.numel() != numel)
        throw FormatError(model.sourcePath, "tensor " + name,
                          std::to_string(numel) + " elements, found " + t.shapeString());
    auto values = std::make_shared<const std::vector<float>>(t.toFloat());
    m_owned.push_back(values);
    return values->data();
}

const std::vector<float>& BlockWeightStore::linearValues(const std::string& part) const
{
    for (const auto& [name, values] : m_linear)
        if (name == part)
            return *values;
    throw std::invalid_argument("BlockWeightStore: '" + part + "' is not a block linear");
}

void embedTokens(const float* embed, int dim, const std::int32_t* tokens, int T, float* x)
{
    for (int t = 0; t < T; ++t)
        std::memcpy(x + std::size_t(t) * std::size_t(dim), embed + std::size_t(tokens[t]) * std::size_t(dim),
                    std::size_t(dim) * sizeof(float));
}

void headLogits(const ModelConfig& c, const float* outNorm, const float* head, const float* x, int T,
                std::vector<float>& xb, float* logits)
{
    const auto dim = std::size_t(c.dim);
    xb.resize(std::size_t(T) * dim);
    for (int t = 0; t < T; ++t)
        kernels::rmsnorm(xb.data() + std::size_t(t) * dim, x + std::size_t(t) * dim, outNorm, c.dim, c.normEps);
    kernels::matmul(head, c.vocabSize, c.dim, xb.data(), T, logits, nullptr);
}

void forwardBlock(const ModelConfig& c, const Rope& rope, const BlockWeights& w, float* x, int T,
                  BlockScratch& s, const SiteHook& hook, int stopAfter)
{
    const auto ut = std::size_t(T);
    const auto dim = std::size_t(c.dim), qDim = std::size_t(c.qDim()), kvDim = std::size_t(c.kvDim()),
               hidden = std::size_t(c.hiddenDim);
    const int hd = c.headDim;
    s.xb.resize(ut * std::max(dim, qDim));
    s.q.resize(ut * qDim);
    s.k.resize(ut * kvDim);
    s.v.resize(ut * kvDim);
    s.att.resize(ut * qDim);
    s.hb.resize(ut * hidden);
    s.hb2.resize(ut * hidden);
    s.scores.resize(ut);
    s.cosv.resize(std::size_t(hd / 2));
    s.sinv.resize(std::size_t(hd / 2));
    auto report = [&](Site site, const float* in, std::size_t m) {
        if (hook)
            hook(site, in, T, int(m));
        return stopAfter == int(site);
    };

    // Attention (same operations and order as the fp32 runtime's runChunk).
    for (int t = 0; t < T; ++t)
        kernels::rmsnorm(s.xb.data() + std::size_t(t) * dim, x + std::size_t(t) * dim, w.attnNorm, c.dim, c.normEps);
    if (report(Site::AttnIn, s.xb.data(), dim))
        return;
    kernels::matmul(w.wq, c.qDim(), c.dim, s.xb.data(), T, s.q.data(), nullptr);
    kernels::matmul(w.wk, c.kvDim(), c.dim, s.xb.data(), T, s.k.data(), nullptr);
    kernels::matmul(w.wv, c.kvDim(), c.dim, s.xb.data(), T, s.v.data(), nullptr);
    for (int t = 0; t < T; ++t) {
        float* q = s.q.data() + std::size_t(t) * qDim;
        float* k = s.k.data() + std::size_t(t) * kvDim;
        float* v = s.v.data() + std::size_t(t) * kvDim;
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
        rope.angles(t, s.cosv.data(), s.sinv.data());
        rope.apply(q, c.nHeads, s.cosv.data(), s.sinv.data());
        rope.apply(k, c.nKvHeads, s.cosv.data(), s.sinv.data());
    }
    const int kvMul = c.nHeads / c.nKvHeads;
    const float scaleDiv = std::sqrt(float(hd));
    for (int h = 0; h < c.nHeads; ++h) {
        const std::size_t kvOff = std::size_t(h / kvMul) * std::size_t(hd);
        for (int t = 0; t < T; ++t) {
            const float* q = s.q.data() + std::size_t(t) * qDim + std::size_t(h) * std::size_t(hd);
            const int n = t + 1;
            for (int j = 0; j < n; ++j)
                s.scores[std::size_t(j)] = kernels::dot(q, s.k.data() + std::size_t(j) * kvDim + kvOff, hd) / scaleDiv;
            kernels::softmax(s.scores.data(), n);
            float* out = s.att.data() + std::size_t(t) * qDim + std::size_t(h) * std::size_t(hd);
            std::fill(out, out + hd, 0.0f);
            for (int j = 0; j < n; ++j)
                kernels::axpy(s.scores[std::size_t(j)], s.v.data() + std::size_t(j) * kvDim + kvOff, out, hd);
        }
    }
    if (report(Site::AttnOut, s.att.data(), qDim))
        return;
    kernels::matmul(w.wo, c.dim, c.qDim(), s.att.data(), T, s.xb.data(), nullptr);
    for (std::size_t i = 0; i < ut * dim; ++i)
        x[i] += s.xb[i];

    // SwiGLU feed-forward.
    for (int t = 0; t < T; ++t)
        kernels::rmsnorm(s.xb.data() + std::size_t(t) * dim, x + std::size_t(t) * dim, w.ffnNorm, c.dim, c.normEps);
    if (report(Site::FfnIn, s.xb.data(), dim))
        return;
    kernels::matmul(w.wGate, c.hiddenDim, c.dim, s.xb.data(), T, s.hb.data(), nullptr);
    kernels::matmul(w.wUp, c.hiddenDim, c.dim, s.xb.data(), T, s.hb2.data(), nullptr);
    kernels::siluMul(s.hb.data(), s.hb2.data(), int(ut * hidden));
    if (report(Site::FfnMid, s.hb.data(), hidden))
        return;
    kernels::matmul(w.wDown, c.dim, c.hiddenDim, s.hb.data(), T, s.xb.data(), nullptr);
    for (std::size_t i = 0; i < ut * dim; ++i)
        x[i] += s.xb[i];
}

} // namespace bq::quant
