// Token-level comparisons fed chunk by chunk: stream relative MSE / cosine, and the token-similarity error of
// arXiv:2512.21651 (methods.md §3.7.4).
#include "bq/quant/analysis/analysis.h"
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace bq::quant {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string shapeOf(Eigen::Index r, Eigen::Index c)
{
    return std::to_string(r) + "x" + std::to_string(c);
}

double mean(const std::vector<double>& v)
{
    return v.empty() ? kNaN : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

// ‖A Aᵀ − B Bᵀ‖_F in float64 via symmetric rank updates (T²·d multiply-adds for both, lower triangle only).
// Computed directly, not as ‖AᵀA‖² − 2‖AᵀB‖² + ‖BᵀB‖², which cancels badly when the two are close.
double similarityDifferenceNorm(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b)
{
    const Eigen::Index t = a.rows();
    Eigen::MatrixXd d = Eigen::MatrixXd::Zero(t, t);
    d.selfadjointView<Eigen::Lower>().rankUpdate(a, 1.0);
    d.selfadjointView<Eigen::Lower>().rankUpdate(b, -1.0);
    double sum = 0;
    for (Eigen::Index j = 0; j < t; ++j) {
        sum += d(j, j) * d(j, j);
        for (Eigen::Index i = j + 1; i < t; ++i)
            sum += 2 * d(i, j) * d(i, j);
    }
    return std::sqrt(sum);
}

void normalizeRows(Eigen::MatrixXd& z)
{
    for (Eigen::Index i = 0; i < z.rows(); ++i) {
        const double norm = z.row(i).norm();
        if (norm > 0)
            z.row(i) /= norm;
    }
}

} // namespace

void StreamComparison::add(const float* quantized, const float* fp, Eigen::Index tokens, Eigen::Index dim)
{
    if (tokens < 0 || dim <= 0)
        throw std::invalid_argument("StreamComparison::add: bad chunk shape " + shapeOf(tokens, dim));
    if (m_dim >= 0 && dim != m_dim)
        throw std::invalid_argument("StreamComparison::add: chunk width " + std::to_string(dim) +
                                    " differs from the earlier chunks' " + std::to_string(m_dim));
    m_dim = dim;
    for (Eigen::Index t = 0; t < tokens; ++t) {
        const float* q = quantized + t * dim;
        const float* f = fp + t * dim;
        double err = 0, qq = 0, ff = 0, qf = 0;
        for (Eigen::Index j = 0; j < dim; ++j) {
            const double a = q[j], b = f[j];
            err += (a - b) * (a - b);
            qq += a * a;
            ff += b * b;
            qf += a * b;
        }
        m_sumErr += err;
        m_sumRef += ff;
        if (qq == 0 && ff == 0)
            m_sumCos += 1;
        else if (qq > 0 && ff > 0)
            m_sumCos += qf / std::sqrt(qq * ff);
        ++m_tokens;
    }
}

void StreamComparison::add(const Eigen::Ref<const MatrixXfR>& quantized, const Eigen::Ref<const MatrixXfR>& fp)
{
    if (quantized.rows() != fp.rows() || quantized.cols() != fp.cols())
        throw std::invalid_argument("StreamComparison::add: quantized chunk is " +
                                    shapeOf(quantized.rows(), quantized.cols()) + " but the FP chunk is " +
                                    shapeOf(fp.rows(), fp.cols()));
    // Ref<const RowMajor> may be strided between rows; go row by row.
    for (Eigen::Index t = 0; t < quantized.rows(); ++t)
        add(quantized.data() + t * quantized.outerStride(), fp.data() + t * fp.outerStride(), 1, quantized.cols());
}

void StreamComparison::merge(const StreamComparison& other)
{
    if (other.m_tokens == 0)
        return;
    if (m_dim >= 0 && other.m_dim != m_dim)
        throw std::invalid_argument("StreamComparison::merge: widths " + std::to_string(m_dim) + " and " +
                                    std::to_string(other.m_dim) + " differ");
    m_dim = other.m_dim;
    m_tokens += other.m_tokens;
    m_sumErr += other.m_sumErr;
    m_sumRef += other.m_sumRef;
    m_sumCos += other.m_sumCos;
}

double StreamComparison::relativeMse() const
{
    if (m_tokens == 0)
        return kNaN;
    if (m_sumRef == 0)
        return m_sumErr == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    return m_sumErr / m_sumRef;
}

double StreamComparison::meanCosine() const
{
    return m_tokens == 0 ? kNaN : m_sumCos / double(m_tokens);
}

TokenSimilarityError tokenSimilarityError(const Eigen::Ref<const MatrixXfR>& quantized,
                                          const Eigen::Ref<const MatrixXfR>& fp)
{
    if (quantized.rows() != fp.rows() || quantized.cols() != fp.cols())
        throw std::invalid_argument("tokenSimilarityError: quantized outputs are " +
                                    shapeOf(quantized.rows(), quantized.cols()) + " but the FP outputs are " +
                                    shapeOf(fp.rows(), fp.cols()));
    Eigen::MatrixXd a = quantized.cast<double>();
    Eigen::MatrixXd b = fp.cast<double>();
    TokenSimilarityError out;
    out.unnormalized = similarityDifferenceNorm(a, b);
    normalizeRows(a);
    normalizeRows(b);
    out.normalized = similarityDifferenceNorm(a, b);
    return out;
}

void TokenSimilarityAccumulator::addSequence(const Eigen::Ref<const MatrixXfR>& quantized,
                                             const Eigen::Ref<const MatrixXfR>& fp)
{
    const TokenSimilarityError e = tokenSimilarityError(quantized, fp);
    m_normalized.push_back(e.normalized);
    m_unnormalized.push_back(e.unnormalized);
}

double TokenSimilarityAccumulator::meanNormalized() const { return mean(m_normalized); }
double TokenSimilarityAccumulator::meanUnnormalized() const { return mean(m_unnormalized); }

} // namespace bq::quant
