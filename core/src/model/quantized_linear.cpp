#include "bq/model/quantized_linear.h"
#include "bq/util/fp16.h"
#include <stdexcept>

namespace bq {

namespace {

std::string where(const QuantizedLinear& q) { return q.tensor + " (" + q.method + "): "; }

void checkPlane(const QuantizedLinear& q, const SignPlane& p, std::size_t index)
{
    const std::string at = where(q) + "plane " + std::to_string(index) + " ";
    const int groups = groupCount(q.cols, p.group);
    if (p.signs.rows() != q.rows || p.signs.cols() != q.cols)
        throw std::logic_error(at + "signs are not rows × cols");
    if (p.rowScale.rows() != q.rows || p.rowScale.cols() != groups)
        throw std::logic_error(at + "rowScale is not rows × groups");
    if (p.colScale.size() != 0 && p.colScale.size() != q.cols)
        throw std::logic_error(at + "colScale has the wrong length");
    if (p.mean.size() != 0 && (p.mean.rows() != q.rows || p.mean.cols() != groups))
        throw std::logic_error(at + "mean is not rows × groups");
    if (p.mask.kind == PlaneMask::Kind::Columns && std::ssize(p.mask.columns) != q.cols)
        throw std::logic_error(at + "column mask has the wrong length");
    if (p.mask.kind == PlaneMask::Kind::Elements &&
        (p.mask.elements.rows() != q.rows || p.mask.elements.cols() != q.cols))
        throw std::logic_error(at + "element mask is not rows × cols");
    for (Eigen::Index k = 0; k < p.signs.size(); ++k) {
        const auto s = p.signs.data()[k];
        if (s != 1 && s != -1) throw std::logic_error(at + "has a sign that is not ±1");
    }
}

} // namespace

void QuantizedLinear::validate() const
{
    if (rows <= 0 || cols <= 0) throw std::logic_error(where(*this) + "empty shape");
    for (std::size_t p = 0; p < planes.size(); ++p) checkPlane(*this, planes[p], p);
    if (codes) {
        const int groups = groupCount(cols, codes->group);
        if (codes->bits < 1 || codes->bits > 8) throw std::logic_error(where(*this) + "code bits outside 1..8");
        if (codes->codes.rows() != rows || codes->codes.cols() != cols)
            throw std::logic_error(where(*this) + "codes are not rows × cols");
        if (codes->scale.rows() != rows || codes->scale.cols() != groups || codes->zero.rows() != rows ||
            codes->zero.cols() != groups)
            throw std::logic_error(where(*this) + "code scale/zero are not rows × groups");
        const int top = (1 << codes->bits) - 1;
        for (Eigen::Index k = 0; k < codes->codes.size(); ++k)
            if (codes->codes.data()[k] > top) throw std::logic_error(where(*this) + "code exceeds 2^bits − 1");
    }
    if (planes.empty() && !codes) throw std::logic_error(where(*this) + "no planes and no codes");
}

std::size_t QuantizedLinear::residentBytes() const
{
    std::size_t bytes = 0;
    for (const SignPlane& p : planes)
        bytes += std::size_t(p.signs.size()) + p.mask.columns.size() + std::size_t(p.mask.elements.size()) +
                 sizeof(float) * std::size_t(p.rowScale.size() + p.colScale.size() + p.mean.size());
    if (codes)
        bytes += std::size_t(codes->codes.size()) + sizeof(float) * std::size_t(codes->scale.size() + codes->zero.size());
    return bytes;
}

MatrixXfR QuantizedLinear::dequantize() const
{
    validate();
    MatrixXfR w = MatrixXfR::Zero(rows, cols);
    for (const SignPlane& p : planes) {
        const bool hasMean = p.mean.size() != 0, hasCol = p.colScale.size() != 0;
        for (Eigen::Index i = 0; i < rows; ++i)
            for (Eigen::Index j = 0; j < cols; ++j) {
                if (!p.mask.applies(i, j)) continue;
                const Eigen::Index g = groupOf(j, p.group);
                float v = p.rowScale(i, g) * float(p.signs(i, j));
                if (hasCol) v *= p.colScale[j];
                if (hasMean) v += p.mean(i, g);
                w(i, j) += v;
            }
    }
    if (codes)
        for (Eigen::Index i = 0; i < rows; ++i)
            for (Eigen::Index j = 0; j < cols; ++j) {
                const Eigen::Index g = groupOf(j, codes->group);
                w(i, j) += codes->scale(i, g) * (float(codes->codes(i, j)) - codes->zero(i, g));
            }
    return w;
}

bool QuantizedLinear::isExactQ1_0() const
{
    if (codes || planes.size() != 1 || cols % 128 != 0) return false;
    const SignPlane& p = planes[0];
    if (p.mask.kind != PlaneMask::Kind::All || p.group != 128 || p.colScale.size() != 0 || p.mean.size() != 0)
        return false;
    for (Eigen::Index k = 0; k < p.rowScale.size(); ++k) {
        const float d = p.rowScale.data()[k];
        if (!(d >= 0.0f) || roundToHalf(d) != d) return false;
    }
    return true;
}

} // namespace bq
