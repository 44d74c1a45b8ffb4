#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/util/errors.h"
#include <stdexcept>

namespace bq {

const Tensor& Model::tensor(const std::string& name) const
{
    auto it = tensors.find(name);
    if (it == tensors.end())
        throw std::out_of_range(sourcePath + ": tensor '" + name + "' is missing");
    return it->second;
}

const Tensor* Model::find(const std::string& name) const noexcept
{
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
}

const Tensor& Model::outputHead() const
{
    if (const Tensor* t = find("output.weight"))
        return *t;
    return tensor("token_embd.weight");
}

std::int64_t Model::parameterCount() const noexcept
{
    std::int64_t n = 0;
    for (const auto& [name, t] : tensors)
        n += t.numel();
    return n;
}

void Model::validateTensors() const
{
    const ModelConfig& c = config;
    auto expect = [&](const std::string& name, std::vector<std::int64_t> shape) {
        const Tensor* t = find(name);
        std::string want = "[";
        for (std::size_t i = 0; i < shape.size(); ++i)
            want += (i ? ", " : "") + std::to_string(shape[i]);
        want += "]";
        if (!t)
            throw FormatError(sourcePath, "tensor " + name, "present with shape " + want);
        if (t->shape != shape)
            throw FormatError(sourcePath, "tensor " + name, "shape " + want + ", found " + t->shapeString());
    };
    const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim(), v = c.vocabSize;
    expect("token_embd.weight", {v, d});
    expect("output_norm.weight", {d});
    if (!c.tiedEmbeddings)
        expect("output.weight", {v, d});
    for (int l = 0; l < c.nLayers; ++l) {
        expect(blockTensorName(l, "attn_norm"), {d});
        expect(blockTensorName(l, "attn_q"), {q, d});
        expect(blockTensorName(l, "attn_k"), {kv, d});
        expect(blockTensorName(l, "attn_v"), {kv, d});
        expect(blockTensorName(l, "attn_output"), {d, q});
        expect(blockTensorName(l, "ffn_norm"), {d});
        expect(blockTensorName(l, "ffn_gate"), {h, d});
        expect(blockTensorName(l, "ffn_up"), {h, d});
        expect(blockTensorName(l, "ffn_down"), {d, h});
        if (c.qkNorm) {
            expect(blockTensorName(l, "attn_q_norm"), {c.headDim});
            expect(blockTensorName(l, "attn_k_norm"), {c.headDim});
        }
        if (c.qkvBias) {
            const std::string p = "blk." + std::to_string(l) + ".";
            expect(p + "attn_q.bias", {q});
            expect(p + "attn_k.bias", {kv});
            expect(p + "attn_v.bias", {kv});
        }
    }
}

} // namespace bq
