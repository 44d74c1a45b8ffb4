// A named tensor: a dtype, a shape (outermost first, PyTorch/HF order: a weight matrix is [rows N][cols K],
// row-major) and a read-only view of its bytes. The view points into a memory-mapped file or into an owned
// buffer; `keepAlive` holds whichever owns the bytes. Quantized dtypes run their blocks along the last axis
// (layouts: tensor_types.h).
#pragma once
#include "bq/model/tensor_types.h"
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bq {

struct Tensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape; // outermost first
    const std::byte* data = nullptr;
    std::size_t nbytes = 0;
    std::shared_ptr<const void> keepAlive;

    std::int64_t numel() const noexcept;
    // Safe on any shape: 0 rows when the last dimension is 0 or negative (readers refuse such files).
    std::int64_t rows() const noexcept { return shape.size() >= 2 ? (shape.back() > 0 ? numel() / shape.back() : 0) : 1; }
    std::int64_t cols() const noexcept { return shape.empty() ? 1 : shape.back(); }
    std::string shapeString() const; // e.g. "[512, 64]"

    // Converts (dequantizes) the whole tensor to fp32.
    std::vector<float> toFloat() const;
    // Converts one row (along the last axis) to fp32 into out (size cols()).
    void rowToFloat(std::int64_t row, float* out) const;
    // fp32 data when dtype == F32 (no copy), else empty.
    std::span<const float> f32() const noexcept;
};

// A tensor that owns its bytes (for converted, generated or dequantized data).
Tensor makeOwnedTensor(std::string name, DType dtype, std::vector<std::int64_t> shape,
                       std::vector<std::byte> bytes);
Tensor makeF32Tensor(std::string name, std::vector<std::int64_t> shape, std::vector<float> values);

} // namespace bq
