#include "bq/model/tensor.h"
#include <cstring>
#include <stdexcept>

namespace bq {

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

void Tensor::rowToFloat(std::int64_t row, float* out) const
{
    const TensorTypeTraits& type = tensorType(dtype);
    const std::int64_t n = cols();
    type.dequantizeRow(data + static_cast<std::size_t>(row) * type.rowBytes(n), out, n);
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
