#include "bq/runtime/packed_quantize.h"
#include "bq/model/tensor_names.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace bq {

namespace {

void storeHalf(std::byte* p, float v)
{
    const std::uint16_t h = floatToHalf(v);
    std::memcpy(p, &h, 2);
}

void quantizeRowQ1(const float* x, std::int64_t cols, std::byte* out)
{
    for (std::int64_t b = 0; b < cols / 128; ++b) {
        const float* xb = x + b * 128;
        std::byte* blk = out + b * 18;
        float s = 0.0f;
        for (int j = 0; j < 128; ++j)
            s += std::fabs(xb[j]);
        storeHalf(blk, s / 128.0f);
        for (int j = 0; j < 16; ++j) {
            unsigned byte = 0;
            for (int k = 0; k < 8; ++k)
                byte |= (xb[8 * j + k] >= 0.0f ? 1u : 0u) << k;
            blk[2 + j] = static_cast<std::byte>(byte);
        }
    }
}

void quantizeRowQ4(const float* x, std::int64_t cols, std::byte* out)
{
    for (std::int64_t b = 0; b < cols / 32; ++b) {
        const float* xb = x + b * 32;
        std::byte* blk = out + b * 18;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; ++j)
            if (amax < std::fabs(xb[j])) {
                amax = std::fabs(xb[j]);
                max = xb[j];
            }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        storeHalf(blk, d);
        for (int j = 0; j < 16; ++j) {
            const int q0 = std::min(15, static_cast<int>(static_cast<std::int8_t>(xb[j] * id + 8.5f)));
            const int q1 = std::min(15, static_cast<int>(static_cast<std::int8_t>(xb[16 + j] * id + 8.5f)));
            blk[2 + j] = static_cast<std::byte>(q0 | (q1 << 4));
        }
    }
}

void quantizeRowQ8(const float* x, std::int64_t cols, std::byte* out)
{
    for (std::int64_t b = 0; b < cols / 32; ++b) {
        const float* xb = x + b * 32;
        std::byte* blk = out + b * 34;
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j)
            amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        storeHalf(blk, d);
        for (int j = 0; j < 32; ++j)
            blk[2 + j] = static_cast<std::byte>(static_cast<std::int8_t>(std::round(xb[j] * id)));
    }
}

void checkType(DType type, std::int64_t cols, const std::string& what)
{
    if (type != DType::Q1_0 && type != DType::Q4_0 && type != DType::Q8_0)
        throw std::invalid_argument("quantize " + what + ": unsupported target type " + dtypeName(type));
    if (cols <= 0 || cols % dtypeBlockSize(type) != 0)
        throw std::invalid_argument("quantize " + what + ": row length " + std::to_string(cols) +
                                    " is not a multiple of the " + dtypeName(type) + " block size " +
                                    std::to_string(dtypeBlockSize(type)));
}

template <class RowSource>
std::vector<std::byte> quantizeWith(DType type, std::int64_t rows, std::int64_t cols, ThreadPool* pool,
                                    const RowSource& source)
{
    const std::size_t rowBytes = dtypeRowBytes(type, cols);
    std::vector<std::byte> out(rowBytes * static_cast<std::size_t>(rows));
    auto run = [&](std::size_t b, std::size_t e, int) {
        std::vector<float> tmp;
        for (std::size_t r = b; r < e; ++r) {
            const float* x = source(static_cast<std::int64_t>(r), tmp);
            std::byte* o = out.data() + r * rowBytes;
            switch (type) {
            case DType::Q1_0: quantizeRowQ1(x, cols, o); break;
            case DType::Q4_0: quantizeRowQ4(x, cols, o); break;
            default: quantizeRowQ8(x, cols, o); break;
            }
        }
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
    checkType(type, cols, "rows");
    return quantizeWith(type, rows, cols, pool,
                        [&](std::int64_t r, std::vector<float>&) { return w + r * cols; });
}

Tensor quantizeTensor(const Tensor& src, DType type, ThreadPool* pool)
{
    checkType(type, src.cols(), "tensor " + src.name);
    const std::int64_t rows = src.rows(), cols = src.cols();
    const auto f32 = src.f32();
    auto bytes = quantizeWith(type, rows, cols, pool, [&](std::int64_t r, std::vector<float>& tmp) -> const float* {
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
