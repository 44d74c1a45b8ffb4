#include "bq/quant/pipeline/block_weights.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/util/errors.h"
#include <stdexcept>

namespace bq::quant {

const std::array<std::vector<std::string>, kBlockSiteCount>& siteLinearParts()
{
    static const std::array<std::vector<std::string>, kBlockSiteCount> parts{
        std::vector<std::string>{"attn_q", "attn_k", "attn_v"}, std::vector<std::string>{"attn_output"},
        std::vector<std::string>{"ffn_gate", "ffn_up"}, std::vector<std::string>{"ffn_down"}};
    return parts;
}

const char* siteName(BlockSite s) noexcept
{
    switch (s) {
    case BlockSite::AttnIn: return "attn_in";
    case BlockSite::AttnOut: return "attn_out";
    case BlockSite::FfnIn: return "ffn_in";
    case BlockSite::FfnMid: return "ffn_mid";
    }
    return "?";
}

BlockWeightStore::BlockWeightStore(const Model& model, int layer)
{
    const ModelConfig& c = model.config;
    const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim();
    BlockWeights& w = m_weights;
    w.attnNorm = load(model, blockTensorName(layer, "attn_norm"), d);
    w.ffnNorm = load(model, blockTensorName(layer, "ffn_norm"), d);
    const struct {
        const char* part;
        std::int64_t rows, cols;
    } linears[] = {{"attn_q", q, d},   {"attn_k", kv, d}, {"attn_v", kv, d},  {"attn_output", d, q},
                   {"ffn_gate", h, d}, {"ffn_up", h, d},  {"ffn_down", d, h}};
    for (const auto& [part, rows, cols] : linears) {
        Linear& lin = w.linear(part);
        lin.w = load(model, blockTensorName(layer, part), rows * cols);
        lin.rows = int(rows);
        lin.cols = int(cols);
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

} // namespace bq::quant
