// methods.md §1.3: dead columns, relative damping, and U = upper Cholesky factor of H⁻¹.
//
// U is obtained from ONE Cholesky factorization (of the column-reversed H) and one triangular inverse, in
// float64, never from a general inverse: with P the reversal permutation and P H P = L Lᵀ,
//   H⁻¹ = P L⁻ᵀ L⁻¹ P = (P L⁻¹ P)ᵀ (P L⁻¹ P),
// and P L⁻¹ P is upper triangular with a positive diagonal, so it is exactly the factor GPTQ computes as
// cholesky(cholesky_inverse(cholesky(H)), upper=True) — at half the cost and without a second factorization
// that could fail.
#include "bq/quant/obc/hessian.h"
#include "bq/quant/dense/dense_kernels.h"
#include <cmath>
#include <stdexcept>

namespace bq::quant {

namespace {

// Upper Cholesky factor of H⁻¹, or false when H is not numerically positive definite. The factorization and
// the triangular inverse (recursive 2×2 blocking, m³/3 flops in triangular GEMMs) run in dense_kernels.
bool upperCholeskyOfInverse(const Eigen::MatrixXd& H, Eigen::MatrixXd& U)
{
    const Eigen::Index m = H.rows();
    Eigen::MatrixXd L = H.reverse(); // P H P (reverse() flips both rows and columns)
    if (!dense::choleskyLower(m, L.data(), m)) return false;
    for (Eigen::Index i = 0; i < m; ++i)
        if (!(L(i, i) > 0) || !std::isfinite(L(i, i))) return false;
    L.triangularView<Eigen::StrictlyUpper>().setZero();
    dense::invertLower(m, L.data(), m);
    U = L.reverse();
    U.triangularView<Eigen::StrictlyLower>().setZero();
    return U.allFinite();
}

} // namespace

PreparedHessian prepareHessian(const Eigen::MatrixXd& gram, double percdamp, MatrixXfR* weight,
                               const std::string& tensor)
{
    const Eigen::Index m = gram.rows();
    if (gram.cols() != m || m == 0)
        throw std::runtime_error(tensor + ": Gram is " + std::to_string(gram.rows()) + "×" +
                                 std::to_string(gram.cols()) + ", expected a non-empty square matrix");
    if (weight && weight->cols() != m)
        throw std::runtime_error(tensor + ": Gram is " + std::to_string(m) + "×" + std::to_string(m) +
                                 " but the weight has " + std::to_string(weight->cols()) + " input columns");
    if (!(percdamp >= 0) || !std::isfinite(percdamp))
        throw std::invalid_argument(tensor + ": percdamp must be a finite number ≥ 0");

    PreparedHessian out;
    out.H = gram;
    out.dead.assign(std::size_t(m), 0);
    for (Eigen::Index j = 0; j < m; ++j) {
        if (out.H(j, j) == 0) {
            out.dead[std::size_t(j)] = 1;
            out.H(j, j) = 1;
            if (weight) weight->col(j).setZero();
        }
    }
    double lambda = percdamp * out.H.diagonal().mean();
    if (!(lambda > 0)) lambda = percdamp > 0 ? percdamp : 0; // a zero Gram with dead columns set has mean 1
    const Eigen::MatrixXd undamped = out.H;
    for (int attempt = 0; attempt <= 3; ++attempt) {
        out.H = undamped;
        out.H.diagonal().array() += lambda;
        if (upperCholeskyOfInverse(out.H, out.U)) {
            out.damping = lambda;
            out.retries = attempt;
            return out;
        }
        if (lambda == 0) lambda = 1e-8 * std::max(1.0, undamped.diagonal().cwiseAbs().mean());
        lambda *= 10;
    }
    throw std::runtime_error(tensor + ": the Gram stays indefinite after 3 damping retries (λ up to " +
                             std::to_string(lambda / 10) + "); the calibration statistics are broken");
}

} // namespace bq::quant
