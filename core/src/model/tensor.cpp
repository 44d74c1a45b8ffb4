#include "bq/model/tensor.h"
#include "bq/util/fp16.h"
#include <cstring>
#include <stdexcept>

namespace bq {

const char* dtypeName(DType t) noexcept
{
    switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
    case DType::Q1_0: return "Q1_0";
    case DType::I8: return "I8";
    case DType::I32: return "I32";
    }
    return "?";
}

int dtypeBlockSize(DType t) noexcept
{
    switch (t) {
    case DType::Q8_0:
    case DType::Q4_0: return 32;
    case DType::Q1_0: return 128;
    default: return 1;
    }
}

int dtypeBlockBytes(DType t) noexcept
{
    switch (t) {
    case DType::F32: return 4;
    case DType::F16:
    case DType::BF16: return 2;
    case DType::Q8_0: return 34;
    case DType::Q4_0: return 18;
    case DType::Q1_0: return 18;
    case DType::I8: return 1;
    case DType::I32: return 4;
    }
    return 1;
}

std::size_t dtypeRowBytes(DType t, std::int64_t count) noexcept
{
    return static_cast<std::size_t>(count / dtypeBlockSize(t)) * static_cast<std::size_t>(dtypeBlockBytes(t));
}

std::int64_t Tensor::numel() const noexcept
{
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d;
    return n;
}

std::string Tensor::shapeString() const
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

static std::uint16_t loadU16(const std::byte* p)
{
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

void Tensor::rowToFloat(std::int64_t row, float* out) const
{
    const std::int64_t n = cols();
    const std::size_t rowBytes = dtypeRowBytes(dtype, n);
    const std::byte* p = data + static_cast<std::size_t>(row) * rowBytes;
    switch (dtype) {
    case DType::F32: std::memcpy(out, p, static_cast<std::size_t>(n) * 4); return;
    case DType::F16:
        for (std::int64_t i = 0; i < n; ++i)
            out[i] = halfToFloat(loadU16(p + 2 * i));
        return;
    case DType::BF16:
        for (std::int64_t i = 0; i < n; ++i)
            out[i] = bf16ToFloat(loadU16(p + 2 * i));
        return;
    case DType::Q8_0:
        for (std::int64_t b = 0; b < n / 32; ++b) {
            const std::byte* blk = p + b * 34;
            const float d = halfToFloat(loadU16(blk));
            for (int j = 0; j < 32; ++j)
                out[b * 32 + j] = d * float(static_cast<std::int8_t>(blk[2 + j]));
        }
        return;
    case DType::Q4_0:
        for (std::int64_t b = 0; b < n / 32; ++b) {
            const std::byte* blk = p + b * 18;
            const float d = halfToFloat(loadU16(blk));
            for (int j = 0; j < 16; ++j) {
                const auto q = static_cast<std::uint8_t>(blk[2 + j]);
                out[b * 32 + j] = d * float(int(q & 0x0f) - 8);
                out[b * 32 + j + 16] = d * float(int(q >> 4) - 8);
            }
        }
        return;
    case DType::Q1_0:
        for (std::int64_t b = 0; b < n / 128; ++b) {
            const std::byte* blk = p + b * 18;
            const float d = halfToFloat(loadU16(blk));
            for (int j = 0; j < 128; ++j) {
                const bool bit = (static_cast<std::uint8_t>(blk[2 + j / 8]) >> (j % 8)) & 1u;
                out[b * 128 + j] = bit ? d : -d;
            }
        }
        return;
    case DType::I8:
        for (std::int64_t i = 0; i < n; ++i)
            out[i] = float(static_cast<std::int8_t>(p[i]));
        return;
    case DType::I32:
        for (std::int64_t i = 0; i < n; ++i) {
            std::int32_t v;
            std::memcpy(&v, p + 4 * i, 4);
            out[i] = float(v);
        }
        return;
    }
}

std::vector<float> Tensor::toFloat() const
{
    std::vector<float> out(static_cast<std::size_t>(numel()));
    const std::int64_t r = rows(), c = cols();
    for (std::int64_t i = 0; i < r; ++i)
        rowToFloat(i, out.data() + i * c);
    return out;
}

std::span<const float> Tensor::f32() const noexcept
{
    if (dtype != DType::F32)
        return {};
    return {reinterpret_cast<const float*>(data), static_cast<std::size_t>(numel())};
}

Tensor makeOwnedTensor(std::string name, DType dtype, std::vector<std::int64_t> shape, std::vector<std::byte> bytes)
{
    auto owner = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    Tensor t;
    t.name = std::move(name);
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.data = owner->data();
    t.nbytes = owner->size();
    t.keepAlive = owner;
    return t;
}

Tensor makeF32Tensor(std::string name, std::vector<std::int64_t> shape, std::vector<float> values)
{
    auto owner = std::make_shared<std::vector<float>>(std::move(values));
    Tensor t;
    t.name = std::move(name);
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    if (t.numel() != static_cast<std::int64_t>(owner->size()))
        throw std::invalid_argument("makeF32Tensor " + t.name + ": shape " + t.shapeString() + " does not match " +
                                    std::to_string(owner->size()) + " values");
    t.data = reinterpret_cast<const std::byte*>(owner->data());
    t.nbytes = owner->size() * sizeof(float);
    t.keepAlive = owner;
    return t;
}

} // namespace bq
