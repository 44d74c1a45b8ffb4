// methods.md §3.4 partition search (BiLLM structural_searching, ARB-LLM structural_searching_*): salient
// column count by a BRAQ-error scan, then the sparse/concentrated break point over 81 quantiles. The
// first-order split errors come from per-row sorted values and prefix sums (sort once per block), so each
// candidate costs O(n log w) instead of a pass over the block.
#include "bq/quant/methods/binary_family.h"
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>

namespace bq::quant::binary {

namespace {

inline double sgn(double x) { return x >= 0 ? 1.0 : -1.0; }

// Σ squared error of BRAQ order K on v[0..c), in place-free.
double braqError(const double* v, int c, int order, std::vector<double>& r)
{
    if (c == 0) return 0;
    r.assign(v, v + c);
    for (int o = 0; o < order; ++o) {
        double mu = 0;
        for (int k = 0; k < c; ++k) mu += r[std::size_t(k)];
        mu /= c;
        double alpha = 0;
        for (int k = 0; k < c; ++k) alpha += std::abs(r[std::size_t(k)] - mu);
        alpha /= c;
        for (int k = 0; k < c; ++k) {
            const double d = r[std::size_t(k)] - mu;
            r[std::size_t(k)] = d - alpha * sgn(d);
        }
    }
    double e = 0;
    for (int k = 0; k < c; ++k) e += r[std::size_t(k)] * r[std::size_t(k)];
    return e;
}

// BRAQ approximation of the entries of v selected by `take` (others untouched in out).
void braqApprox(const double* v, const std::vector<int>& idx, int order, double* out)
{
    const int c = int(idx.size());
    if (c == 0) return;
    std::vector<double> r(static_cast<std::size_t>(c)), approx(static_cast<std::size_t>(c), 0.0);
    for (int k = 0; k < c; ++k) r[std::size_t(k)] = v[idx[std::size_t(k)]];
    for (int o = 0; o < order; ++o) {
        double mu = 0;
        for (int k = 0; k < c; ++k) mu += r[std::size_t(k)];
        mu /= c;
        double alpha = 0;
        for (int k = 0; k < c; ++k) alpha += std::abs(r[std::size_t(k)] - mu);
        alpha /= c;
        for (int k = 0; k < c; ++k) {
            const double d = r[std::size_t(k)] - mu, q = alpha * sgn(d) + mu;
            approx[std::size_t(k)] += q;
            r[std::size_t(k)] -= q;
        }
    }
    for (int k = 0; k < c; ++k) out[idx[std::size_t(k)]] = approx[std::size_t(k)];
}

// np.quantile (linear interpolation) of sorted values at q.
double quantile(const std::vector<double>& sorted, double q)
{
    if (sorted.empty()) return 0;
    const double pos = q * double(sorted.size() - 1);
    const std::size_t lo = std::size_t(std::floor(pos));
    const std::size_t hi = std::min(sorted.size() - 1, lo + 1);
    return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

std::vector<double> quantileCandidates(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    std::vector<double> out(81);
    for (int k = 0; k <= 80; ++k) out[std::size_t(k)] = quantile(values, 0.10 + 0.01 * k);
    return out;
}

// One row's non-salient values sorted ascending with prefix sums of x and x².
struct SortedRow {
    std::vector<double> x, s1, s2; // s1[k] = Σ x[0..k)
    void build(std::vector<double>& values)
    {
        std::sort(values.begin(), values.end());
        x = values;
        s1.assign(x.size() + 1, 0.0);
        s2.assign(x.size() + 1, 0.0);
        for (std::size_t k = 0; k < x.size(); ++k) {
            s1[k + 1] = s1[k] + x[k];
            s2[k + 1] = s2[k] + x[k] * x[k];
        }
    }
    // Σ |x − mu| over [a, b)
    double absDev(std::size_t a, std::size_t b, double mu) const
    {
        if (a >= b) return 0;
        const std::size_t k = std::size_t(std::lower_bound(x.begin() + long(a), x.begin() + long(b), mu) - x.begin());
        return (s1[b] - s1[k]) - double(b - k) * mu + double(k - a) * mu - (s1[k] - s1[a]);
    }
};

// First-order BRAQ SSE of the union of ranges: Σ(x−μ)² − c·α², α = mean|x−μ|.
double rangeError(const SortedRow& r, std::size_t a0, std::size_t b0, std::size_t a1, std::size_t b1)
{
    const double c = double((b0 - a0) + (b1 - a1));
    if (c == 0) return 0;
    const double sum = r.s1[b0] - r.s1[a0] + r.s1[b1] - r.s1[a1];
    const double sq = r.s2[b0] - r.s2[a0] + r.s2[b1] - r.s2[a1];
    const double mu = sum / c;
    const double alpha = (r.absDev(a0, b0, mu) + r.absDev(a1, b1, mu)) / c;
    return std::max(0.0, sq - c * mu * mu - c * alpha * alpha);
}

} // namespace

BlockPartition searchPartition(const MatrixXfR& Wb, const Eigen::VectorXd& diagU, const PartitionOptions& options)
{
    const Eigen::Index n = Wb.rows(), w = Wb.cols();
    BlockPartition out;
    out.salient.assign(std::size_t(w), 0);
    out.zone = MatrixXu8R::Constant(n, w, Dense);
    if (n == 0 || w == 0) return out;

    // Salience and the search domain D.
    MatrixXdR sal(n, w), D(n, w);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < w; ++j) {
            const double x = Wb(i, j);
            sal(i, j) = options.hessianSalience ? x * x / (diagU[j] * diagU[j]) : std::abs(x);
            D(i, j) = options.searchOnSalience ? sal(i, j) : x;
        }
    const Eigen::VectorXd score = sal.cwiseAbs().colwise().sum().transpose();
    std::vector<int> byScore(static_cast<std::size_t>(w));
    std::iota(byScore.begin(), byScore.end(), 0);
    std::stable_sort(byScore.begin(), byScore.end(), [&](int a, int b) { return score[a] > score[b]; });

    // 1–2: salient column count r* (order-2 BRAQ on both parts, plain squared error).
    const int rMax = std::min<int>(options.salientLimit - 1, int(w) - 1);
    int best = 0;
    if (rMax >= 1) {
        double bestErr = INFINITY;
        std::vector<double> rowv(static_cast<std::size_t>(w)), scratch;
        std::vector<double> err(static_cast<std::size_t>(rMax + 1), 0.0);
        for (Eigen::Index i = 0; i < n; ++i) {
            for (Eigen::Index k = 0; k < w; ++k) rowv[std::size_t(k)] = D(i, byScore[std::size_t(k)]);
            for (int r = 1; r <= rMax; ++r)
                err[std::size_t(r)] += braqError(rowv.data(), r, 2, scratch) +
                                       braqError(rowv.data() + r, int(w) - r, 2, scratch);
        }
        for (int r = 1; r <= rMax; ++r)
            if (err[std::size_t(r)] < bestErr) bestErr = err[std::size_t(r)], best = r;
    }
    out.salientCount = best;
    for (int k = 0; k < best; ++k) out.salient[std::size_t(byScore[std::size_t(k)])] = 1;

    std::vector<int> salCols, restCols;
    for (Eigen::Index j = 0; j < w; ++j) (out.salient[std::size_t(j)] ? salCols : restCols).push_back(int(j));

    // 3: non-salient break point p* over 81 quantiles of |D| (salient columns zeroed, as in the code).
    if (!restCols.empty()) {
        std::vector<double> absAll;
        absAll.reserve(std::size_t(n * w));
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < w; ++j) absAll.push_back(out.salient[std::size_t(j)] ? 0.0 : std::abs(D(i, j)));
        const std::vector<double> cand = quantileCandidates(std::move(absAll));
        std::vector<double> err(cand.size(), 0.0);
        if (!options.splitMetric) {
            SortedRow row;
            std::vector<double> vals;
            for (Eigen::Index i = 0; i < n; ++i) {
                vals.clear();
                for (int j : restCols) vals.push_back(D(i, j));
                row.build(vals);
                for (std::size_t c = 0; c < cand.size(); ++c) {
                    const double p = cand[c];
                    // concentrated: −p < x < p; sparse: x ≤ −p or x ≥ p
                    const std::size_t lo = std::size_t(std::upper_bound(row.x.begin(), row.x.end(), -p) - row.x.begin());
                    const std::size_t hi = std::max(lo, std::size_t(std::lower_bound(row.x.begin(), row.x.end(), p) - row.x.begin()));
                    err[c] += rangeError(row, lo, hi, hi, hi) + rangeError(row, 0, lo, hi, row.x.size());
                }
            }
        } else {
            // arb-x: Σ (RᵀR ⊙ S) with R = D − approx over the whole block (salient part: order-2 BRAQ).
            const Eigen::MatrixXf S = options.splitMetric->cast<float>(); // float GEMM: 81 per block
            MatrixXdR base = MatrixXdR::Zero(n, w);
            for (Eigen::Index i = 0; i < n; ++i) braqApprox(&D(i, 0), salCols, 2, &base(i, 0));
            MatrixXdR approx(n, w);
            Eigen::MatrixXf R(n, w);
            std::vector<int> sp, co;
            for (std::size_t c = 0; c < cand.size(); ++c) {
                approx = base;
                for (Eigen::Index i = 0; i < n; ++i) {
                    sp.clear();
                    co.clear();
                    for (int j : restCols) (std::abs(D(i, j)) >= cand[c] ? sp : co).push_back(j);
                    braqApprox(&D(i, 0), sp, 1, &approx(i, 0));
                    braqApprox(&D(i, 0), co, 1, &approx(i, 0));
                }
                R = (D - approx).cast<float>();
                err[c] = double((R * S).cwiseProduct(R).sum());
            }
        }
        std::size_t bestC = 0;
        for (std::size_t c = 1; c < cand.size(); ++c)
            if (err[c] < err[bestC]) bestC = c;
        const double p = cand[bestC];
        for (Eigen::Index i = 0; i < n; ++i)
            for (int j : restCols) out.zone(i, j) = std::abs(D(i, j)) >= p ? Sparse : Dense;
    }

    // CGB: split the salient entries by a quantile search over their non-zero |D| (order-2 BRAQ each).
    if (!salCols.empty()) {
        for (Eigen::Index i = 0; i < n; ++i)
            for (int j : salCols) out.zone(i, j) = SalientSparse;
        if (options.cgb) {
            std::vector<double> nz;
            for (Eigen::Index i = 0; i < n; ++i)
                for (int j : salCols)
                    if (D(i, j) != 0) nz.push_back(std::abs(D(i, j)));
            if (!nz.empty()) {
                const std::vector<double> cand = quantileCandidates(std::move(nz));
                std::vector<double> sp, co, scratch;
                std::size_t bestC = 0;
                double bestErr = INFINITY;
                for (std::size_t c = 0; c < cand.size(); ++c) {
                    double e = 0;
                    for (Eigen::Index i = 0; i < n; ++i) {
                        sp.clear();
                        co.clear();
                        for (int j : salCols) (std::abs(D(i, j)) >= cand[c] ? sp : co).push_back(D(i, j));
                        e += braqError(sp.data(), int(sp.size()), 2, scratch) +
                             braqError(co.data(), int(co.size()), 2, scratch);
                    }
                    if (e < bestErr) bestErr = e, bestC = c;
                }
                for (Eigen::Index i = 0; i < n; ++i)
                    for (int j : salCols)
                        out.zone(i, j) = std::abs(D(i, j)) >= cand[bestC] ? SalientSparse : SalientDense;
            }
        }
    }
    return out;
}

} // namespace bq::quant::binary
