// The column-wise OBC/GPTQ error-compensation loop of methods.md §1.4 (lazy batch updates), shared by gptq,
// q1_0 and the compensated variants of residual and ternary. Columns are fixed left to right in natural order;
// the error of each fixed column is spread over the later columns through U (the upper Cholesky factor of H⁻¹
// from prepareHessian). Inside a block the update is immediate; to later blocks it is one GEMM per block.
#pragma once
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <functional>

namespace bq {
class CancelToken;
}

namespace bq::quant {

using ColumnBlock = Eigen::MatrixXf; // n × width, column-major so that one column is contiguous

// Called when the loop enters a group [begin, end): `current` holds the group's compensated weights as they
// are now (every earlier column fixed and its error propagated). Set the group's parameters here.
using GroupEntryFn = std::function<void(Eigen::Index begin, Eigen::Index end, const ColumnBlock& current)>;
// Quantizes column j: w is its compensated value, q receives the quantized value (stored values, fp16 scales
// already applied). Record codes/signs in the callback's own state.
using QuantizeColumnFn =
    std::function<void(Eigen::Index j, const Eigen::Ref<const Eigen::VectorXf>& w, Eigen::Ref<Eigen::VectorXf> q)>;

// Called by compensateColumnwise after the columns [begin, end) are fixed and their error is spread: W holds Ŵ on
// the columns before `end` and the compensated weights after it; loss is Σ‖E‖² so far. For observers (the Layer
// lab's step recording): it must not change anything the loop uses.
using BlockDoneFn = std::function<void(Eigen::Index begin, Eigen::Index end, const MatrixXfR& W, double loss)>;

struct ColumnwiseQuantizer {
    int group = 0;              // columns per parameter group (0 = the whole row); every group start is a block start
    GroupEntryFn onGroupEntry;  // may be empty
    QuantizeColumnFn quantizeColumn;
    BlockDoneFn onBlockDone;    // may be empty
};

// Runs the loop on W (n × m, overwritten with the quantized weights Ŵ). U is m × m upper triangular.
// Blocks are blockSize columns wide, additionally cut at group starts so each group is entered with exact
// compensated weights. Checks cancel once per block. Returns Σ‖E‖², the OBS loss tr(ΔW H ΔWᵀ)-increase the
// loop accumulated (E = per-column error divided by U_jj).
double compensateColumnwise(MatrixXfR& W, const Eigen::MatrixXd& U, int blockSize, const ColumnwiseQuantizer& quantizer,
                            const CancelToken* cancel);

// The same traversal (group entries, column quantizer) without any error propagation: what the methods' plain
// (uncompensated) variants run, so both variants share one quantizer. Checks cancel once per block.
void quantizeColumnwise(MatrixXfR& W, int blockSize, const ColumnwiseQuantizer& quantizer, const CancelToken* cancel);

// Building blocks for methods that run their own block logic (q1_0's scale↔sign alternation).
// The inner loop on one block: `block` (n × w, compensated at block entry) is overwritten with Q; E (n × w)
// receives the scaled errors; Ubb is U[s:e, s:e] in float. `firstColumn` is s (passed to quantizeColumn).
void compensateWithinBlock(ColumnBlock& block, const Eigen::Ref<const Eigen::MatrixXf>& Ubb, Eigen::Index firstColumn,
                           const QuantizeColumnFn& quantizeColumn, ColumnBlock& E);
// The lazy update W[:, e:] −= E · U[s:e, e:], with Uf = U in float.
void propagateBlockError(MatrixXfR& W, Eigen::Index s, Eigen::Index e, const ColumnBlock& E, const Eigen::MatrixXf& Uf);

} // namespace bq::quant
