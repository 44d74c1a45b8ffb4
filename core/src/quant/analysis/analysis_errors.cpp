// Weight error and the Gram-based layer-output errors of methods.md §2.6 (no token storage).
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/dense/dense_kernels.h"
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace bq::quant {

namespace {

std::string shapeOf(Eigen::Index r, Eigen::Index c)
{
    return std::to_string(r) + "x" + std::to_string(c);
}

void requireSameShape(const MatrixXfR& a, const MatrixXfR& b, const char* what)
{
    if (a.rows() != b.rows() || a.cols() != b.cols())
        throw std::invalid_argument(std::string(what) + ": weight is " + shapeOf(a.rows(), a.cols()) +
                                    " but the quantized weight is " + shapeOf(b.rows(), b.cols()));
}

void requireGram(const Eigen::MatrixXd& h, Eigen::Index m, const char* name)
{
    if (h.rows() != m || h.cols() != m)
        throw std::invalid_argument(std::string("outputErrors: ") + name + " is " + shapeOf(h.rows(), h.cols()) +
                                    ", expected " + shapeOf(m, m) + " (the weight's column count)");
}

// ⟨A H, B⟩ = tr(A H Bᵀ) with A, B already in float64; H symmetric.
double traceProduct(const Eigen::MatrixXd& a, const Eigen::MatrixXd& h, const Eigen::MatrixXd& b)
{
    const Eigen::MatrixXd ah = dense::multiply(a, h);
    return ah.cwiseProduct(b).sum();
}

} // namespace

double relativeWeightError(const MatrixXfR& weight, const MatrixXfR& quantized)
{
    requireSameShape(weight, quantized, "relativeWeightError");
    double err = 0, ref = 0;
    const float* w = weight.data();
    const float* q = quantized.data();
    const Eigen::Index count = weight.size();
    for (Eigen::Index i = 0; i < count; ++i) {
        const double d = double(w[i]) - double(q[i]);
        err += d * d;
        ref += double(w[i]) * double(w[i]);
    }
    if (ref == 0)
        return err == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    return std::sqrt(err / ref);
}

double traceAHBt(const MatrixXfR& a, const Eigen::MatrixXd& h, const MatrixXfR& b)
{
    requireSameShape(a, b, "traceAHBt");
    requireGram(h, a.cols(), "H");
    return traceProduct(a.cast<double>(), h, b.cast<double>());
}

OutputErrors outputErrors(const MatrixXfR& weight, const MatrixXfR& quantized, const LayerStatistics& stats)
{
    requireSameShape(weight, quantized, "outputErrors");
    const Eigen::Index m = weight.cols();
    // Single-stream runs have only Ĥ; then the "FP" inputs are the quantized prefix's (X̂ = X).
    const Eigen::MatrixXd* hFp = stats.gramFp ? stats.gramFp : stats.gram;
    if (!hFp)
        throw std::invalid_argument("outputErrors: LayerStatistics has neither gramFp nor gram");
    requireGram(*hFp, m, stats.gramFp ? "gramFp" : "gram");

    const Eigen::MatrixXd w = weight.cast<double>();
    const Eigen::MatrixXd q = quantized.cast<double>();
    OutputErrors out;
    out.reference = traceProduct(w, *hFp, w);
    // ΔW H ΔWᵀ directly rather than by expanding it: no cancellation when the error is small.
    const Eigen::MatrixXd delta = w - q;
    const double localAbs = traceProduct(delta, *hFp, delta);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto relative = [&](double abs) {
        if (out.reference == 0)
            return abs == 0 ? 0.0 : std::numeric_limits<double>::infinity();
        return abs / out.reference;
    };
    out.local = relative(localAbs);

    out.cumulative = nan;
    if (stats.gramFp && stats.gram && stats.crossGram) {
        requireGram(*stats.gram, m, "gram");
        requireGram(*stats.crossGram, m, "crossGram");
        // C = Σ x̂ xᵀ, so tr(Ŵ C Wᵀ) = Σ_t ⟨Ŵ x̂_t, W x_t⟩; C is not symmetric, keep the order.
        const double cross = dense::multiply(q, *stats.crossGram).cwiseProduct(w).sum();
        const double quant = traceProduct(q, *stats.gram, q);
        // Rounding can make a tiny true error slightly negative; an error is never below zero.
        out.cumulative = relative(std::max(0.0, out.reference - 2 * cross + quant));
    }
    return out;
}

} // namespace bq::quant
