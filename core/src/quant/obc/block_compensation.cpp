#include "bq/quant/obc/block_compensation.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/jobs/job.h"
#include <stdexcept>

namespace bq::quant {

BlockMetric parseBlockMetric(const std::string& value, const std::string& method)
{
    if (value == "raw") return BlockMetric::Raw;
    if (value == "schur") return BlockMetric::Schur;
    throw std::invalid_argument(method + ": option 'block_metric' = \"" + value + "\", expected raw | schur");
}

Eigen::MatrixXd blockMetric(const PreparedHessian& hessian, Eigen::Index begin, Eigen::Index end, BlockMetric metric)
{
    const Eigen::Index w = end - begin;
    if (metric == BlockMetric::Raw) return hessian.H.block(begin, begin, w, w);
    // (U_bbᵀ U_bb)⁻¹ = U_bb⁻¹ U_bb⁻ᵀ, via one triangular solve (U_bb is upper with a positive diagonal).
    const Eigen::MatrixXd Ubb = hessian.U.block(begin, begin, w, w);
    Eigen::MatrixXd Uinv = Eigen::MatrixXd::Identity(w, w);
    Ubb.triangularView<Eigen::Upper>().solveInPlace(Uinv);
    Eigen::MatrixXd M = Uinv * Uinv.transpose();
    return 0.5 * (M + M.transpose());
}

void compensateBlockJoint(MatrixXfR& W, const PreparedHessian& hessian, const BlockJointOptions& options,
                          const BlockQuantizeFn& quantizeBlock, const CancelToken* cancel)
{
    const Eigen::Index n = W.rows(), m = W.cols();
    if (hessian.U.rows() != m || hessian.U.cols() != m)
        throw std::invalid_argument("compensateBlockJoint: U is not m × m for an n × m weight");
    if (options.blockSize <= 0) throw std::invalid_argument("compensateBlockJoint: blockSize must be positive");
    if (!quantizeBlock) throw std::invalid_argument("compensateBlockJoint: no block quantizer");

    MatrixXfR block;
    Eigen::MatrixXf E; // column-major n × w
    Eigen::MatrixXf Uf; // U[s:e, e:] in float, column-major
    for (Eigen::Index s = 0; s < m; s += options.blockSize) {
        if (cancel) cancel->throwIfRequested();
        const Eigen::Index e = std::min(m, s + Eigen::Index(options.blockSize)), w = e - s;
        block = W.middleCols(s, w);
        BlockView view;
        view.begin = s;
        view.end = e;
        view.weight = &block;
        view.diagU = hessian.U.diagonal().segment(s, w);
        if (options.needMetric) view.metric = blockMetric(hessian, s, e, options.metric);
        const MatrixXfR Q = quantizeBlock(view);
        if (Q.rows() != n || Q.cols() != w)
            throw std::logic_error("compensateBlockJoint: the block quantizer returned the wrong shape");
        E.resize(n, w);
        for (Eigen::Index j = 0; j < w; ++j)
            E.col(j) = (block.col(j) - Q.col(j)) / float(view.diagU[j]);
        W.middleCols(s, w) = Q;
        if (e < m) {
            // W[:, e:] −= E · U[s:e, e:]; W is row-major, so as column-major data it is W[:, e:]ᵀ (ld m) and the
            // update is W[:, e:]ᵀ −= U[s:e, e:]ᵀ Eᵀ.
            Uf = hessian.U.block(s, e, w, m - e).cast<float>();
            dense::gemm(true, true, m - e, n, w, -1.0f, Uf.data(), w, E.data(), n, 1.0f, W.data() + e, m);
        }
    }
}

} // namespace bq::quant
