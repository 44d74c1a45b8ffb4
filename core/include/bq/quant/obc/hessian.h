// Preparing a layer's input Gram for OBC/GPTQ-style compensation (methods.md §1.3): dead columns, relative
// damping, and the upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U), with damping retries.
#pragma once
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace bq::quant {

struct PreparedHessian {
    Eigen::MatrixXd H;                 // damped Gram, dead diagonal entries set to 1
    Eigen::MatrixXd U;                 // upper-triangular, H⁻¹ = Uᵀ U
    std::vector<std::uint8_t> dead;    // m entries, 1 = column never active (its weights are zeroed)
    double damping = 0;                // λ actually added to the diagonal
    int retries = 0;                   // times λ was multiplied by 10 after a failed Cholesky
};

// percdamp: λ = percdamp · mean(Diag(H)) (paper default 0.01). Zeroes W's dead columns when W is given.
// Throws std::runtime_error naming `tensor` when H is not m × m or stays indefinite after 3 retries.
PreparedHessian prepareHessian(const Eigen::MatrixXd& gram, double percdamp, MatrixXfR* weight,
                               const std::string& tensor);

} // namespace bq::quant
