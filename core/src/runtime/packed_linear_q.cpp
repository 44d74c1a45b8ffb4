#include "bq/runtime/packed_linear_q.h"
#include "bq/runtime/kernels_q.h"
#include <stdexcept>

namespace bq {

namespace {

class BlockPackedLinear final : public PackedLinear {
public:
    explicit BlockPackedLinear(const Tensor& w)
        : m_tensor(w), m_rows(static_cast<int>(w.rows())), m_cols(static_cast<int>(w.cols()))
    {
        if (w.dtype == DType::Q1_0) {
            // The kernels' split layout (same bytes); the GGUF blocks are not read again.
            m_q1 = kernels::splitQ1(w.data, m_rows, m_cols);
            m_q1View = m_q1.view();
            m_tensor.data = nullptr;
            m_tensor.keepAlive.reset();
        }
    }
    int rows() const override { return m_rows; }
    int cols() const override { return m_cols; }
    void gemv(const float* x, float* y, ThreadPool* pool) const override { gemm(x, 1, y, pool); }
    void gemm(const float* X, int tokens, float* Y, ThreadPool* pool) const override
    {
        if (m_tensor.dtype == DType::Q1_0)
            kernels::q1Matmul(m_q1View, m_rows, m_cols, X, tokens, Y, pool);
        else
            kernels::packedMatmul(m_tensor.dtype, m_tensor.data, m_rows, m_cols, X, tokens, Y, pool);
    }
    DType dtype() const { return m_tensor.dtype; }
    const std::byte* blocks() const { return m_tensor.data; }
    const kernels::Q1Planes* q1() const { return m_tensor.dtype == DType::Q1_0 ? &m_q1View : nullptr; }
    std::uint64_t weightBytes() const override
    {
        return static_cast<std::uint64_t>(dtypeRowBytes(m_tensor.dtype, m_cols)) * static_cast<std::uint64_t>(m_rows);
    }
    std::string kind() const override
    {
        switch (m_tensor.dtype) {
        case DType::Q1_0: return "q1_0";
        case DType::Q4_0: return "q4_0";
        case DType::Q6_K: return "q6_k";
        case DType::TQ2_0: return "tq2_0";
        case DType::TQ1_0: return "tq1_0";
        default: return "q8_0";
        }
    }

private:
    Tensor m_tensor; // a view sharing keepAlive (Q1_0: released after the split)
    int m_rows, m_cols;
    kernels::Q1PlaneStore m_q1;
    kernels::Q1Planes m_q1View;
};

} // namespace

bool blockOperands(const PackedLinear& linear, kernels::PackedMatrixOut& out, DType& type)
{
    const auto* block = dynamic_cast<const BlockPackedLinear*>(&linear);
    if (!block)
        return false;
    out.W = block->blocks();
    out.q1 = block->q1();
    out.N = block->rows();
    type = block->dtype();
    return true;
}

std::shared_ptr<const PackedLinear> makeBlockPackedLinear(const Tensor& weight)
{
    if (!kernels::packedKernelSupports(weight.dtype))
        throw std::invalid_argument("packed linear: tensor " + weight.name + " has type " + dtypeName(weight.dtype) +
                                    "; the block kernels take Q1_0, Q4_0, Q8_0, Q6_K, TQ2_0 or TQ1_0");
    if (weight.shape.size() != 2)
        throw std::invalid_argument("packed linear: tensor " + weight.name + " has shape " + weight.shapeString() +
                                    ", expected [rows, cols]");
    const std::int64_t rows = weight.rows(), cols = weight.cols();
    if (cols <= 0 || rows <= 0 || cols % dtypeBlockSize(weight.dtype) != 0)
        throw std::invalid_argument("packed linear: tensor " + weight.name + " " + weight.shapeString() + ": " +
                                    dtypeName(weight.dtype) + " needs the row length to be a multiple of " +
                                    std::to_string(dtypeBlockSize(weight.dtype)));
    if (weight.nbytes < dtypeRowBytes(weight.dtype, cols) * static_cast<std::size_t>(rows) || !weight.data)
        throw std::invalid_argument("packed linear: tensor " + weight.name + " holds " + std::to_string(weight.nbytes) +
                                    " bytes, expected " +
                                    std::to_string(dtypeRowBytes(weight.dtype, cols) * static_cast<std::size_t>(rows)));
    return std::make_shared<BlockPackedLinear>(weight);
}

} // namespace bq
