// Zone binarizers of methods.md §3.4–3.5: BiLLM's BRAQ, ARB (first/second order), the ARB-X S-weighted
// refinement and ARB-RC row×column scales. Each works on one zone of one block; rows are independent except
// for ARB-RC's column scales.
#include "bq/quant/methods/binary_family.h"
#include <cmath>

namespace bq::quant::binary {

namespace {

inline double sgn(double x) { return x >= 0 ? 1.0 : -1.0; }
inline std::int8_t sgn8(double x) { return x >= 0 ? 1 : -1; }

ZoneParams emptyParams(Eigen::Index n, Eigen::Index w, int order, bool mean)
{
    ZoneParams p;
    p.order = order;
    for (int o = 0; o < order; ++o) {
        p.alpha[std::size_t(o)] = Eigen::VectorXd::Zero(n);
        p.sign[std::size_t(o)] = MatrixXi8R::Ones(n, w);
    }
    if (mean) p.mean = Eigen::VectorXd::Zero(n);
    return p;
}

void rowIndices(const MatrixXu8R& zone, int z, Eigen::Index i, std::vector<int>& idx)
{
    idx.clear();
    for (Eigen::Index j = 0; j < zone.cols(); ++j)
        if (zone(i, j) == z) idx.push_back(int(j));
}

// Row i's zone error Σ (x − ŵ)² for mean/alpha parametrisations.
double rowError(const MatrixXdR& X, const ZoneParams& p, Eigen::Index i, const std::vector<int>& idx)
{
    double e = 0;
    for (int j : idx) {
        double v = p.mean.size() ? p.mean[i] : 0.0;
        for (int o = 0; o < p.order; ++o) v += p.alpha[std::size_t(o)][i] * p.sign[std::size_t(o)](i, j);
        const double d = X(i, j) - v;
        e += d * d;
    }
    return e;
}

// Row i's zone values into `out` (the step recording of the row-by-row fits).
void writeRowValues(const ZoneParams& p, Eigen::Index i, const std::vector<int>& idx, MatrixXdR& out)
{
    for (int j : idx) {
        double v = p.mean.size() ? p.mean[i] : 0.0;
        for (int o = 0; o < p.order; ++o) v += p.alpha[std::size_t(o)][i] * p.sign[std::size_t(o)](i, j);
        out(i, j) = v;
    }
}

// Keeps scales ≥ 0 by moving the sign into B (same values).
void normalizeRowSigns(ZoneParams& p, const MatrixXu8R& zone, int z)
{
    for (int o = 0; o < p.order; ++o)
        for (Eigen::Index i = 0; i < p.alpha[std::size_t(o)].size(); ++i)
            if (p.alpha[std::size_t(o)][i] < 0) {
                p.alpha[std::size_t(o)][i] = -p.alpha[std::size_t(o)][i];
                for (Eigen::Index j = 0; j < zone.cols(); ++j)
                    if (zone(i, j) == z) p.sign[std::size_t(o)](i, j) = std::int8_t(-p.sign[std::size_t(o)](i, j));
            }
}

} // namespace

MatrixXdR zoneValue(const ZoneParams& p, const MatrixXu8R& zone, int z)
{
    const Eigen::Index n = zone.rows(), w = zone.cols();
    MatrixXdR out = MatrixXdR::Zero(n, w);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < w; ++j) {
            if (zone(i, j) != z) continue;
            double v = p.mean.size() ? p.mean[i] : 0.0;
            for (int o = 0; o < p.order; ++o) {
                const auto so = std::size_t(o);
                v += p.alpha[so][i] * (p.col[so].size() ? p.col[so][j] : 1.0) * p.sign[so](i, j);
            }
            out(i, j) = v;
        }
    return out;
}

ZoneParams fitBraq(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order)
{
    const Eigen::Index n = X.rows(), w = X.cols();
    ZoneParams p = emptyParams(n, w, order, true);
    std::vector<int> idx;
    std::vector<double> r;
    for (Eigen::Index i = 0; i < n; ++i) {
        rowIndices(zone, z, i, idx);
        if (idx.empty()) continue;
        const double c = double(idx.size());
        r.resize(idx.size());
        for (std::size_t k = 0; k < idx.size(); ++k) r[k] = X(i, idx[k]);
        for (int o = 0; o < order; ++o) {
            double mu = 0, alpha = 0;
            for (double v : r) mu += v;
            mu /= c;
            for (double v : r) alpha += std::abs(v - mu);
            alpha /= c;
            for (std::size_t k = 0; k < idx.size(); ++k) {
                const double d = r[k] - mu;
                p.sign[std::size_t(o)](i, idx[k]) = sgn8(d);
                r[k] = d - alpha * sgn(d);
            }
            p.alpha[std::size_t(o)][i] = alpha;
            p.mean[i] += mu;
        }
    }
    return p;
}

ZoneParams fitArb(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order, int iterations,
                  std::vector<double>* trace, std::vector<MatrixXdR>* values)
{
    ZoneParams p = fitBraq(X, zone, z, order);
    const Eigen::Index n = X.rows();
    if (trace) trace->assign(std::size_t(iterations + 1), 0.0);
    if (values) values->assign(std::size_t(iterations + 1), MatrixXdR::Zero(n, X.cols()));
    std::vector<int> idx;
    for (Eigen::Index i = 0; i < n; ++i) {
        rowIndices(zone, z, i, idx);
        if (idx.empty()) continue;
        const double c = double(idx.size());
        double& mu = p.mean[i];
        double& a1 = p.alpha[0][i];
        auto& b1 = p.sign[0];
        if (trace) (*trace)[0] += rowError(X, p, i, idx);
        if (values) writeRowValues(p, i, idx, (*values)[0]);
        for (int t = 0; t < iterations; ++t) {
            if (order == 1) {
                double d = 0;
                for (int j : idx) d += X(i, j) - (a1 * b1(i, j) + mu);
                mu += d / c;
                double a = 0;
                for (int j : idx) a += b1(i, j) * (X(i, j) - mu);
                a1 = a / c;
                const double s = a1 >= 0 ? 1.0 : -1.0; // b = sgn(w − μ) is optimal for α ≥ 0
                for (int j : idx) b1(i, j) = std::int8_t(s * sgn(X(i, j) - mu));
                a1 = std::abs(a1);
            } else {
                double& a2 = p.alpha[1][i];
                auto& b2 = p.sign[1];
                double d = 0;
                for (int j : idx) d += X(i, j) - (a1 * b1(i, j) + a2 * b2(i, j) + mu);
                mu += d / c;
                double a = 0;
                for (int j : idx) a += b1(i, j) * (X(i, j) - mu - a2 * b2(i, j));
                a1 = a / c;
                a = 0;
                for (int j : idx) a += b2(i, j) * (X(i, j) - mu - a1 * b1(i, j));
                a2 = a / c;
                for (int j : idx) { // nearest of ±α₁ ± α₂
                    const double y = X(i, j) - mu;
                    double bestE = INFINITY;
                    for (int s1 = -1; s1 <= 1; s1 += 2)
                        for (int s2 = -1; s2 <= 1; s2 += 2) {
                            const double e = std::abs(y - s1 * a1 - s2 * a2);
                            if (e < bestE) bestE = e, b1(i, j) = std::int8_t(s1), b2(i, j) = std::int8_t(s2);
                        }
                }
            }
            if (trace) (*trace)[std::size_t(t + 1)] += rowError(X, p, i, idx);
            if (values) writeRowValues(p, i, idx, (*values)[std::size_t(t + 1)]);
        }
    }
    normalizeRowSigns(p, zone, z);
    return p;
}

void refineArbX(const MatrixXdR& X, const MatrixXu8R& zone, int z, const Eigen::MatrixXd& S, int iterations,
                ZoneParams& p, std::vector<double>* trace, std::vector<MatrixXdR>* values)
{
    const Eigen::Index n = X.rows(), w = X.cols();
    const int K = 1 + p.order; // θ = (μ, α₁[, α₂]) with basis e₀ = mask, e_o = b_o ⊙ mask
    std::vector<MatrixXdR> E(static_cast<std::size_t>(K), MatrixXdR::Zero(n, w));
    MatrixXdR T = MatrixXdR::Zero(n, w);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < w; ++j)
            if (zone(i, j) == z) {
                E[0](i, j) = 1;
                for (int o = 0; o < p.order; ++o) E[std::size_t(o + 1)](i, j) = p.sign[std::size_t(o)](i, j);
                T(i, j) = X(i, j);
            }
    // Per row: A_kl = e_k S e_lᵀ, r_k = e_k S tᵀ, c = t S tᵀ (B frozen, so all constant).
    std::vector<Eigen::VectorXd> A(static_cast<std::size_t>(K * K)), r(static_cast<std::size_t>(K));
    for (int k = 0; k < K; ++k) {
        const MatrixXdR ES = E[std::size_t(k)] * S;
        for (int l = 0; l < K; ++l) A[std::size_t(k * K + l)] = ES.cwiseProduct(E[std::size_t(l)]).rowwise().sum();
        r[std::size_t(k)] = ES.cwiseProduct(T).rowwise().sum();
    }
    const Eigen::VectorXd c0 = (T * S).cwiseProduct(T).rowwise().sum();
    const double scale = S.diagonal().cwiseAbs().mean();
    if (trace) trace->assign(std::size_t(iterations + 1), 0.0);
    if (values) values->assign(std::size_t(iterations + 1), MatrixXdR::Zero(n, w));
    Eigen::VectorXd theta(K);
    std::vector<int> idx;
    for (Eigen::Index i = 0; i < n; ++i) {
        if (A[0][i] <= 0) { // empty zone row: nothing to refine
            if (values) {
                rowIndices(zone, z, i, idx);
                for (MatrixXdR& out : *values) writeRowValues(p, i, idx, out);
            }
            continue;
        }
        theta[0] = p.mean[i];
        for (int o = 0; o < p.order; ++o) theta[o + 1] = p.alpha[std::size_t(o)][i];
        auto loss = [&] {
            double L = c0[i];
            for (int k = 0; k < K; ++k) {
                L -= 2 * theta[k] * r[std::size_t(k)][i];
                for (int l = 0; l < K; ++l) L += theta[k] * theta[l] * A[std::size_t(k * K + l)][i];
            }
            return L;
        };
        auto record = [&](int t) { // the row's values θ₀ + Σ_o θ_o b_o on its zone entries
            MatrixXdR& out = (*values)[std::size_t(t)];
            for (Eigen::Index j = 0; j < w; ++j) {
                if (E[0](i, j) == 0) continue;
                double v = theta[0];
                for (int k = 1; k < K; ++k) v += theta[k] * E[std::size_t(k)](i, j);
                out(i, j) = v;
            }
        };
        if (trace) (*trace)[0] += loss();
        if (values) record(0);
        for (int t = 0; t < iterations; ++t) {
            for (int k = 0; k < K; ++k) { // exact coordinate minimizer; a vanishing denominator keeps θ_k
                const double akk = A[std::size_t(k * K + k)][i];
                if (!(akk > 1e-12 * scale)) continue;
                double num = r[std::size_t(k)][i];
                for (int l = 0; l < K; ++l)
                    if (l != k) num -= A[std::size_t(k * K + l)][i] * theta[l];
                theta[k] = num / akk;
            }
            if (trace) (*trace)[std::size_t(t + 1)] += loss();
            if (values) record(t + 1);
        }
        p.mean[i] = theta[0];
        for (int o = 0; o < p.order; ++o) p.alpha[std::size_t(o)][i] = theta[o + 1];
    }
    normalizeRowSigns(p, zone, z);
}

namespace {

// One exact update of (a, c) for a single RC stage with fixed signs, target Y and mask M (all n × w).
void rcScaleStep(const MatrixXdR& PY, const MatrixXdR& M, Eigen::VectorXd& a, Eigen::VectorXd& c)
{
    // PY = B ⊙ Y ⊙ M; a_i = Σ_j c_j PY_ij / Σ_j c_j² M_ij; c_j = Σ_i a_i PY_ij / Σ_i a_i² M_ij
    const Eigen::VectorXd na = PY * c, da = M * c.cwiseAbs2();
    for (Eigen::Index i = 0; i < a.size(); ++i) a[i] = da[i] > 0 ? na[i] / da[i] : 0.0;
    const Eigen::VectorXd nc = PY.transpose() * a, dc = M.transpose() * a.cwiseAbs2();
    for (Eigen::Index j = 0; j < c.size(); ++j) c[j] = dc[j] > 0 ? nc[j] / dc[j] : 0.0;
}

void rcInit(const MatrixXdR& absY, const MatrixXdR& M, Eigen::VectorXd& a, Eigen::VectorXd& c)
{
    const Eigen::VectorXd cnt = M.rowwise().sum();
    a = absY.rowwise().sum();
    for (Eigen::Index i = 0; i < a.size(); ++i) a[i] = cnt[i] > 0 ? a[i] / cnt[i] : 0.0;
    c = Eigen::VectorXd::Zero(M.cols());
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
        double s = 0, k = 0;
        for (Eigen::Index i = 0; i < M.rows(); ++i)
            if (M(i, j) != 0 && a[i] > 0) s += absY(i, j) / a[i], k += 1;
        c[j] = k > 0 ? s / k : 0.0;
    }
}

} // namespace

ZoneParams fitArbRc(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order, int iterations,
                    std::vector<double>* trace, std::vector<MatrixXdR>* values)
{
    const Eigen::Index n = X.rows(), w = X.cols();
    ZoneParams p = emptyParams(n, w, order, false);
    MatrixXdR M = MatrixXdR::Zero(n, w), Xm = MatrixXdR::Zero(n, w);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < w; ++j)
            if (zone(i, j) == z) M(i, j) = 1, Xm(i, j) = X(i, j);
    auto stage = [&](int o) {
        MatrixXdR v = p.sign[std::size_t(o)].cast<double>().cwiseProduct(M);
        v.array().colwise() *= p.alpha[std::size_t(o)].array();
        v.array().rowwise() *= p.col[std::size_t(o)].transpose().array();
        return v;
    };
    auto value = [&] {
        MatrixXdR V = stage(0);
        for (int o = 1; o < order; ++o) V += stage(o);
        return V;
    };
    auto error = [&] {
        MatrixXdR R = Xm;
        for (int o = 0; o < order; ++o) R -= stage(o);
        return R.squaredNorm();
    };
    // init: stage 1 on X with B = sgn(X); stage 2 on the residual
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < w; ++j) p.sign[0](i, j) = sgn8(X(i, j));
    rcInit(Xm.cwiseAbs(), M, p.alpha[0], p.col[0]);
    if (order == 2) {
        const MatrixXdR R = Xm - stage(0);
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < w; ++j) p.sign[1](i, j) = sgn8(R(i, j));
        rcInit(R.cwiseAbs(), M, p.alpha[1], p.col[1]);
    }
    if (trace) trace->assign(1, error());
    if (values) values->assign(1, value());
    for (int t = 0; t < iterations; ++t) {
        if (order == 1) {
            rcScaleStep(Xm.cwiseAbs(), M, p.alpha[0], p.col[0]); // B = sgn(W) kept: B ⊙ W = |W|
        } else {
            for (int o = 0; o < 2; ++o) {
                const MatrixXdR Y = Xm - stage(1 - o);
                const MatrixXdR PY = p.sign[std::size_t(o)].cast<double>().cwiseProduct(Y).cwiseProduct(M);
                rcScaleStep(PY, M, p.alpha[std::size_t(o)], p.col[std::size_t(o)]);
            }
            for (Eigen::Index i = 0; i < n; ++i)
                for (Eigen::Index j = 0; j < w; ++j) {
                    if (M(i, j) == 0) continue;
                    const double c1 = p.alpha[0][i] * p.col[0][j], c2 = p.alpha[1][i] * p.col[1][j];
                    double bestE = INFINITY;
                    for (int s1 = -1; s1 <= 1; s1 += 2)
                        for (int s2 = -1; s2 <= 1; s2 += 2) {
                            const double e = std::abs(X(i, j) - s1 * c1 - s2 * c2);
                            if (e < bestE)
                                bestE = e, p.sign[0](i, j) = std::int8_t(s1), p.sign[1](i, j) = std::int8_t(s2);
                        }
                }
        }
        if (trace) trace->push_back(error());
        if (values) values->push_back(value());
    }
    // scales ≥ 0: move signs into B (row first, then column)
    for (int o = 0; o < order; ++o) {
        auto& a = p.alpha[std::size_t(o)];
        auto& c = p.col[std::size_t(o)];
        auto& B = p.sign[std::size_t(o)];
        for (Eigen::Index i = 0; i < n; ++i)
            if (a[i] < 0) {
                a[i] = -a[i];
                for (Eigen::Index j = 0; j < w; ++j)
                    if (M(i, j) != 0) B(i, j) = std::int8_t(-B(i, j));
            }
        for (Eigen::Index j = 0; j < w; ++j)
            if (c[j] < 0) {
                c[j] = -c[j];
                for (Eigen::Index i = 0; i < n; ++i)
                    if (M(i, j) != 0) B(i, j) = std::int8_t(-B(i, j));
            }
    }
    return p;
}

} // namespace bq::quant::binary
