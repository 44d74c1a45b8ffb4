// Tensor conversions shared by the writers: storage types through the tensor-type table, and RoPE row orders.
#include "bq/formats/convert.h"
#include <cstring>
#include <stdexcept>

namespace bq {

Tensor convertTensor(const Tensor& t, DType to)
{
    if (t.dtype == to)
        return t;
    const TensorTypeTraits& type = tensorType(to);
    if (!type.quantizeRow)
        throw std::invalid_argument("tensor " + t.name + ": conversion to " + type.name +
                                    " is not supported (this build reads " + type.name +
                                    " but has no reference quantizer for it)");
    const std::int64_t rows = t.rows(), cols = t.cols();
    if (cols % type.blockSize != 0)
        throw std::invalid_argument("tensor " + t.name + ": row length " + std::to_string(cols) +
                                    " is not a multiple of the " + type.name + " block size");
    const std::size_t rowBytes = type.rowBytes(cols);
    std::vector<std::byte> out(rowBytes * static_cast<std::size_t>(rows));
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (std::int64_t r = 0; r < rows; ++r) {
        t.rowToFloat(r, row.data());
        type.quantizeRow(row.data(), out.data() + static_cast<std::size_t>(r) * rowBytes, cols);
    }
    return makeOwnedTensor(t.name, to, t.shape, std::move(out));
}

Tensor permuteRopeRows(const Tensor& t, int nHeads, bool toNeoX)
{
    if (t.shape.empty() || nHeads <= 0 || t.shape[0] % nHeads != 0 || (t.shape[0] / nHeads) % 2 != 0)
        throw std::invalid_argument("tensor " + t.name + " " + t.shapeString() + " cannot be split into " +
                                    std::to_string(nHeads) + " heads of even size");
    const std::int64_t rows = t.shape[0], hd = rows / nHeads, half = hd / 2;
    const std::size_t rowBytes = t.nbytes / static_cast<std::size_t>(rows);
    std::vector<std::byte> out(t.nbytes);
    for (std::int64_t h = 0; h < nHeads; ++h)
        for (std::int64_t i = 0; i < half; ++i) {
            const std::int64_t neox[2] = {h * hd + i, h * hd + i + half};
            const std::int64_t inter[2] = {h * hd + 2 * i, h * hd + 2 * i + 1};
            for (int k = 0; k < 2; ++k) {
                const std::int64_t dst = toNeoX ? neox[k] : inter[k];
                const std::int64_t src = toNeoX ? inter[k] : neox[k];
                std::memcpy(out.data() + static_cast<std::size_t>(dst) * rowBytes,
                            t.data + static_cast<std::size_t>(src) * rowBytes, rowBytes);
            }
        }
    return makeOwnedTensor(t.name, t.dtype, t.shape, std::move(out));
}

// Which RoPE-ordered tensors a canonical name is, and over how many heads its rows run.
int ropeHeads(const std::string& name, const ModelConfig& c)
{
    auto ends = [&](const char* s) {
        const std::size_t n = std::strlen(s);
        return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
    };
    if (name.rfind("blk.", 0) != 0)
        return 0;
    if (ends(".attn_q.weight") || ends(".attn_q.bias"))
        return c.nHeads;
    if (ends(".attn_k.weight") || ends(".attn_k.bias"))
        return c.nKvHeads;
    if (ends(".attn_q_norm.weight") || ends(".attn_k_norm.weight"))
        return 1; // one head's worth of per-dimension weights
    return 0;
}

Tensor reorderForStyle(const Tensor& t, const std::string& name, const ModelConfig& c, RopeStyle target)
{
    if (c.ropeStyle == target)
        return t;
    const int heads = ropeHeads(name, c);
    if (heads == 0)
        return t;
    return permuteRopeRows(t, heads, target == RopeStyle::NeoX);
}

} // namespace bq
