// Singular-value spectra of W, Ŵ and W − Ŵ: exact for small layers, top-k randomized SVD (Halko, Martinsson &
// Tropp 2011, Alg. 4.4 subspace iteration) for large ones.
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/dense/dense_kernels.h"
#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace bq::quant {

namespace {

// Standard normal samples from mt19937_64 by Box–Muller: mt19937_64's output is fixed by the standard, unlike
// std::normal_distribution's algorithm, so a seed gives the same sketch with every standard library.
class PortableGaussian {
public:
    explicit PortableGaussian(std::uint64_t seed) : m_engine(seed) {}
    double operator()()
    {
        if (m_haveSpare) {
            m_haveSpare = false;
            return m_spare;
        }
        const double u1 = uniformOpenZero();
        const double u2 = uniformOpenZero();
        const double radius = std::sqrt(-2.0 * std::log(u1));
        const double angle = 6.283185307179586476925 * u2;
        m_spare = radius * std::sin(angle);
        m_haveSpare = true;
        return radius * std::cos(angle);
    }

private:
    double uniformOpenZero() { return (double(m_engine() >> 11) + 1.0) * 0x1.0p-53; } // (0, 1]
    std::mt19937_64 m_engine;
    double m_spare = 0;
    bool m_haveSpare = false;
};

// Orthonormal basis of the column space of y (thin Q of a Householder QR).
Eigen::MatrixXd orthonormalize(const Eigen::MatrixXd& y)
{
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(y);
    return qr.householderQ() * Eigen::MatrixXd::Identity(y.rows(), y.cols());
}

std::vector<double> descending(const Eigen::VectorXd& v, std::size_t keep)
{
    std::vector<double> out(v.data(), v.data() + v.size());
    std::sort(out.begin(), out.end(), std::greater<>());
    if (out.size() > keep)
        out.resize(keep);
    return out;
}

} // namespace

std::vector<double> exactSingularValues(const MatrixXfR& a, ExactSvd method, const CancelToken* cancel)
{
    if (a.size() == 0)
        return {};
    if (method == ExactSvd::Bdcsvd) {
        // Values only (no U/V): bidiagonalization + divide and conquer.
        Eigen::BDCSVD<Eigen::MatrixXd> svd(a.cast<double>());
        return descending(svd.singularValues(), std::size_t(svd.singularValues().size()));
    }
    // σ_i² are the eigenvalues of the smaller Gram B Bᵀ, B = A (n ≤ m) or Aᵀ (column-major copies), its lower
    // triangle by one symmetric rank update.
    const Eigen::Index small = std::min(a.rows(), a.cols());
    const Eigen::MatrixXd b = a.rows() <= a.cols() ? Eigen::MatrixXd(a.cast<double>())
                                                   : Eigen::MatrixXd(a.transpose().cast<double>());
    Eigen::MatrixXd gram(small, small);
    dense::syrkLower(small, b.cols(), 1.0, b.data(), b.rows(), 0.0, gram.data(), small);
    Eigen::VectorXd lambda(small);
    // reads the lower triangle only
    checkEigenStatus(dense::symmetricEigenvalues(small, gram.data(), small, lambda.data(), cancelInterrupt(cancel)),
                     "exactSingularValues");
    const Eigen::VectorXd sigma = lambda.cwiseMax(0.0).cwiseSqrt();
    return descending(sigma, std::size_t(small));
}

std::vector<double> randomizedSingularValues(const MatrixXfR& a, int k, int oversample, int powerIterations,
                                             std::uint64_t seed, const CancelToken* cancel)
{
    const Eigen::Index small = std::min(a.rows(), a.cols());
    if (k < 1 || k > small || oversample < 0 || powerIterations < 0)
        throw std::invalid_argument("randomizedSingularValues: k = " + std::to_string(k) + " must be in 1.." +
                                    std::to_string(small) + ", oversample and powerIterations >= 0");
    const Eigen::Index width = std::min<Eigen::Index>(small, Eigen::Index(k) + oversample);
    const Eigen::MatrixXd ad = a.cast<double>();

    PortableGaussian gauss(seed);
    Eigen::MatrixXd omega(a.cols(), width);
    for (Eigen::Index j = 0; j < width; ++j)
        for (Eigen::Index i = 0; i < a.cols(); ++i)
            omega(i, j) = gauss();

    // Range finder with re-orthonormalized power iterations: the basis converges to the top singular
    // subspace at rate (σ_{width+1}/σ_i)^(2q+1), and re-orthonormalizing keeps small values from drowning.
    Eigen::MatrixXd q = orthonormalize(dense::multiply(ad, omega));
    for (int it = 0; it < powerIterations; ++it) {
        if (cancel)
            cancel->throwIfRequested();
        const Eigen::MatrixXd z = orthonormalize(dense::multiplyAtB(ad, q));
        q = orthonormalize(dense::multiply(ad, z));
    }
    const Eigen::MatrixXd b = dense::multiplyAtB(q, ad); // width × m, its singular values approximate A's top ones
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(b);
    return descending(svd.singularValues(), std::size_t(k));
}

Spectrum singularValues(const MatrixXfR& a, const SpectrumOptions& options, const CancelToken* cancel)
{
    Spectrum out;
    const Eigen::Index small = std::min(a.rows(), a.cols());
    if (small <= options.exactMaxDim || options.topK >= small) {
        out.values = exactSingularValues(a, options.exactMethod, cancel);
        out.exact = true;
    } else {
        out.values = randomizedSingularValues(a, std::max(1, options.topK), options.oversample,
                                              options.powerIterations, options.seed, cancel);
        out.exact = false;
    }
    return out;
}

} // namespace bq::quant
