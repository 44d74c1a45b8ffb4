// The block-joint OBC compensation of methods.md §1.4 (BiLLM / ARB family, output-align): each 128-column
// block is quantized as a whole from its compensated weights, then its error, scaled column-wise by Diag(U),
// is spread over all later columns with one GEMM. No intra-block updates.
#pragma once
#include "bq/quant/obc/hessian.h"
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <functional>
#include <string>

namespace bq {
class CancelToken;
}

namespace bq::quant {

// Metric a method may use for its block objective tr(ΔW_b · M · ΔW_bᵀ):
//   Raw   M = H[s:e, s:e]            (ARB-X: ignores that later columns still compensate)
//   Schur M = (U_bbᵀ U_bb)⁻¹          (Derived: the exact block objective when later columns compensate)
enum class BlockMetric { Raw, Schur };
// "raw" | "schur"; throws std::invalid_argument naming the method.
BlockMetric parseBlockMetric(const std::string& value, const std::string& method);

struct BlockView {
    Eigen::Index begin = 0, end = 0;  // columns [begin, end)
    const MatrixXfR* weight = nullptr; // n × (end − begin), the compensated weights at block entry
    Eigen::VectorXd diagU;             // U_jj for j in the block (salience S_ij = W_ij² / U_jj²)
    Eigen::MatrixXd metric;            // (end − begin)², only filled when requested
};

// Returns Q_b (n × (end − begin)): exactly the values the method's stored parts dequantize to.
using BlockQuantizeFn = std::function<MatrixXfR(const BlockView&)>;

struct BlockJointOptions {
    int blockSize = 128;
    bool needMetric = false;           // fill BlockView::metric
    BlockMetric metric = BlockMetric::Raw;
};

// Runs the loop on W (n × m, overwritten with Ŵ = the concatenated Q_b). `hessian` comes from prepareHessian
// on the same columns. Checks cancel once per block (throws bq::Cancelled).
void compensateBlockJoint(MatrixXfR& W, const PreparedHessian& hessian, const BlockJointOptions& options,
                          const BlockQuantizeFn& quantizeBlock, const CancelToken* cancel);

// The block metric on its own (used by tests and by methods that evaluate objectives).
Eigen::MatrixXd blockMetric(const PreparedHessian& hessian, Eigen::Index begin, Eigen::Index end, BlockMetric metric);

} // namespace bq::quant
