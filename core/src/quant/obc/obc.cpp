#include "bq/quant/obc/obc.h"
#include "bq/jobs/job.h"
#include <algorithm>
#include <stdexcept>

namespace bq::quant {

void compensateWithinBlock(ColumnBlock& block, const Eigen::Ref<const Eigen::MatrixXf>& Ubb, Eigen::Index firstColumn,
                           const QuantizeColumnFn& quantizeColumn, ColumnBlock& E)
{
    const Eigen::Index n = block.rows(), w = block.cols();
    E.resize(n, w);
    Eigen::VectorXf q(n);
    for (Eigen::Index j = 0; j < w; ++j) {
        quantizeColumn(firstColumn + j, block.col(j), q);
        E.col(j) = (block.col(j) - q) / Ubb(j, j);
        // Immediate update of the rest of the block: one axpy per later column keeps columns contiguous.
        for (Eigen::Index k = j + 1; k < w; ++k) {
            const float u = Ubb(j, k);
            if (u != 0.0f) block.col(k).noalias() -= u * E.col(j);
        }
        block.col(j) = q;
    }
}

void propagateBlockError(MatrixXfR& W, Eigen::Index s, Eigen::Index e, const ColumnBlock& E, const Eigen::MatrixXf& Uf)
{
    const Eigen::Index rest = W.cols() - e;
    if (rest <= 0) return;
    W.rightCols(rest).noalias() -= E * Uf.block(s, e, e - s, rest);
}

double compensateColumnwise(MatrixXfR& W, const Eigen::MatrixXd& U, int blockSize, const ColumnwiseQuantizer& quantizer,
                            const CancelToken* cancel)
{
    const Eigen::Index m = W.cols();
    if (U.rows() != m || U.cols() != m)
        throw std::invalid_argument("compensateColumnwise: U is not m × m for an n × m weight");
    if (blockSize <= 0) throw std::invalid_argument("compensateColumnwise: blockSize must be positive");
    if (!quantizer.quantizeColumn) throw std::invalid_argument("compensateColumnwise: no column quantizer");
    const Eigen::MatrixXf Uf = U.cast<float>();
    const Eigen::Index group = quantizer.group > 0 ? quantizer.group : m;

    double loss = 0;
    ColumnBlock block, E;
    Eigen::Index s = 0;
    while (s < m) {
        if (cancel) cancel->throwIfRequested();
        // Next cut: the next multiple of blockSize or the next group start, whichever comes first.
        const Eigen::Index nextBlock = (s / blockSize + 1) * blockSize;
        const Eigen::Index nextGroup = (s / group + 1) * group;
        const Eigen::Index e = std::min({nextBlock, nextGroup, m});
        if (s % group == 0 && quantizer.onGroupEntry) {
            const Eigen::Index ge = std::min(s + group, m);
            const ColumnBlock current = W.middleCols(s, ge - s);
            quantizer.onGroupEntry(s, ge, current);
        }
        block = W.middleCols(s, e - s);
        compensateWithinBlock(block, Uf.block(s, s, e - s, e - s), s, quantizer.quantizeColumn, E);
        W.middleCols(s, e - s) = block;
        loss += double(E.squaredNorm());
        propagateBlockError(W, s, e, E, Uf);
        if (quantizer.onBlockDone)
            quantizer.onBlockDone(s, e, W, loss);
        s = e;
    }
    return loss;
}

void quantizeColumnwise(MatrixXfR& W, int blockSize, const ColumnwiseQuantizer& quantizer, const CancelToken* cancel)
{
    const Eigen::Index m = W.cols();
    if (blockSize <= 0) throw std::invalid_argument("quantizeColumnwise: blockSize must be positive");
    if (!quantizer.quantizeColumn) throw std::invalid_argument("quantizeColumnwise: no column quantizer");
    const Eigen::Index group = quantizer.group > 0 ? quantizer.group : m;
    Eigen::VectorXf w(W.rows()), q(W.rows());
    for (Eigen::Index j = 0; j < m; ++j) {
        if (cancel && j % blockSize == 0) cancel->throwIfRequested();
        if (j % group == 0 && quantizer.onGroupEntry) {
            const Eigen::Index ge = std::min(j + group, m);
            const ColumnBlock current = W.middleCols(j, ge - j);
            quantizer.onGroupEntry(j, ge, current);
        }
        w = W.col(j);
        quantizer.quantizeColumn(j, w, q);
        W.col(j) = q;
    }
}

} // namespace bq::quant
