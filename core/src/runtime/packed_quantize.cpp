#include "bq/runtime/packed_quantize.h"
#include "kernels_superblock.h"
#include "bq/model/tensor_names.h"
#include "bq/util/thread_pool.h"
#include <stdexcept>

namespace bq {

namespace {

// The block type that `type` names, with its reference quantizer (or, for Q6_K / TQ2_0 / TQ1_0 when the table
// has none, superblock_quantize.cpp's).
TensorTypeTraits targetType(DType type, std::int64_t cols, const std::string& what)
{
    TensorTypeTraits t = tensorType(type);
    if (!t.quantizeRow)
        t.quantizeRow = kernels::detail::superBlockQuantizer(type);
    if (!t.isBlockQuantized() || !t.quantizeRow)
        throw std::invalid_argument("quantize " + what + ": unsupported target type " + t.name);
    if (cols <= 0 || cols % t.blockSize != 0)
        throw std::invalid_argument("quantize " + what + ": row length " + std::to_string(cols) +
                                    " is not a multiple of the " + t.name + " block size " +
                                    std::to_string(t.blockSize));
    return t;
}

template <class RowSource>
std::vector<std::byte> quantizeWith(const TensorTypeTraits& type, std::int64_t rows, std::int64_t cols,
                                    ThreadPool* pool, const RowSource& source)
{
    const std::size_t rowBytes = type.rowBytes(cols);
    std::vector<std::byte> out(rowBytes * static_cast<std::size_t>(rows));
    auto run = [&](std::size_t b, std::size_t e, int) {
        std::vector<float> tmp;
        for (std::size_t r = b; r < e; ++r)
            type.quantizeRow(source(static_cast<std::int64_t>(r), tmp), out.data() + r * rowBytes, cols);
    };
    if (pool)
        pool->parallelFor(static_cast<std::size_t>(rows), run, 64);
    else
        run(0, static_cast<std::size_t>(rows), 0);
    return out;
}

} // namespace

std::vector<std::byte> quantizeRows(DType type, const float* w, std::int64_t rows, std::int64_t cols, ThreadPool* pool)
{
    return quantizeWith(targetType(type, cols, "rows"), rows, cols, pool,
                        [&](std::int64_t r, std::vector<float>&) { return w + r * cols; });
}

Tensor quantizeTensor(const Tensor& src, DType type, ThreadPool* pool)
{
    const TensorTypeTraits target = targetType(type, src.cols(), "tensor " + src.name);
    const std::int64_t rows = src.rows(), cols = src.cols();
    const auto f32 = src.f32();
    auto bytes = quantizeWith(target, rows, cols, pool, [&](std::int64_t r, std::vector<float>& tmp) -> const float* {
        if (!f32.empty())
            return f32.data() + r * cols;
        tmp.resize(static_cast<std::size_t>(cols));
        src.rowToFloat(r, tmp.data());
        return tmp.data();
    });
    return makeOwnedTensor(src.name, type, src.shape, std::move(bytes));
}

PackedConversion packModelLinears(std::shared_ptr<const Model> model, DType linearType, DType headType,
                                  ThreadPool* pool)
{
    if (!model)
        throw std::invalid_argument("packModelLinears: no model");
    auto out = std::make_shared<Model>(*model);
    PackedConversion result;
    const char* parts[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    auto pack = [&](const std::string& name, DType type) {
        auto it = out->tensors.find(name);
        if (it == out->tensors.end() || type == DType::F32)
            return;
        if (it->second.cols() % dtypeBlockSize(type) != 0) {
            result.keptFloat.push_back(name);
            return;
        }
        it->second = quantizeTensor(it->second, type, pool);
        result.packed.push_back(name);
    };
    for (int l = 0; l < model->config.nLayers; ++l)
        for (const char* part : parts)
            pack(blockTensorName(l, part), linearType);
    if (out->tensors.count("output.weight"))
        pack("output.weight", headType);
    else
        pack("token_embd.weight", headType);
    out->sourceFormat += "+packed";
    result.model = std::move(out);
    return result;
}

} // namespace bq
