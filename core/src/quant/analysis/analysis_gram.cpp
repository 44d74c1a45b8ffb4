// Eigen-spectrum of a layer's input Gram: anisotropy, damped condition number, effective rank (methods.md §2.6).
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/util/errors.h"
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace bq::quant {

dense::Interrupt cancelInterrupt(const CancelToken* cancel)
{
    if (!cancel)
        return {};
    return {cancel, [](const void* token) { return static_cast<const CancelToken*>(token)->requested(); }};
}

void checkEigenStatus(dense::EigenStatus status, const char* what)
{
    if (status == dense::EigenStatus::Interrupted)
        throw Cancelled();
    if (status == dense::EigenStatus::NotConverged)
        throw std::runtime_error(std::string(what) + ": the symmetric eigen-solver did not converge");
}

GramSpectrum gramSpectrum(const Eigen::MatrixXd& gram, double percdamp, const CancelToken* cancel)
{
    if (gram.rows() != gram.cols() || gram.rows() == 0)
        throw std::invalid_argument("gramSpectrum: the Gram is " + std::to_string(gram.rows()) + "x" +
                                    std::to_string(gram.cols()) + ", expected a non-empty square matrix");
    if (!(percdamp >= 0))
        throw std::invalid_argument("gramSpectrum: percdamp must be >= 0");
    const Eigen::Index m = gram.rows();
    GramSpectrum out;

    Eigen::VectorXd ascending(m);
    checkEigenStatus(dense::symmetricEigenvalues(m, gram.data(), m, ascending.data(), cancelInterrupt(cancel)),
                     "gramSpectrum");
    out.eigenvalues.resize(std::size_t(m));
    // A PSD Gram's tiny negative eigenvalues are rounding; clamp them so p log p and the condition stay defined.
    for (Eigen::Index i = 0; i < m; ++i)
        out.eigenvalues[std::size_t(i)] = std::max(0.0, ascending(m - 1 - i));

    double sum = 0;
    for (double l : out.eigenvalues)
        sum += l;
    out.lambdaMax = out.eigenvalues.front();
    out.lambdaMean = sum / double(m);
    const double lambdaMin = out.eigenvalues.back();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    out.anisotropy = out.lambdaMean > 0 ? out.lambdaMax / out.lambdaMean : nan;

    // Damping exactly as §1.3 sets it: relative to the mean diagonal (= trace / m).
    out.damping = percdamp * gram.diagonal().mean();
    const double denominator = lambdaMin + out.damping;
    out.conditionDamped = denominator > 0 ? (out.lambdaMax + out.damping) / denominator
                                          : std::numeric_limits<double>::infinity();

    if (sum > 0) {
        double entropy = 0;
        for (double l : out.eigenvalues) {
            const double p = l / sum;
            if (p > 0)
                entropy -= p * std::log(p);
        }
        out.effectiveRank = std::exp(entropy);
    } else {
        out.effectiveRank = 0;
    }
    for (Eigen::Index j = 0; j < m; ++j)
        if (gram(j, j) == 0)
            ++out.deadColumns;
    return out;
}

} // namespace bq::quant
