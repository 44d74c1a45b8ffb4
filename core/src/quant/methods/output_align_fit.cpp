// The output-alignment updates of methods.md §3.7.2–3.7.3 on one 128-column block: block-coordinate descent
// on tr((Ŵ_b − T) M (Ŵ_b − T)ᵀ) over every zone plane's row scale a, signs B and column scale b, with the
// residual product RM = (T − Ŵ_b) M kept up to date so each coordinate update is exact and cheap.
#include "bq/quant/methods/binary_family.h"
#include "bq/quant/dense/dense_kernels.h"
#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <cmath>
#include <stdexcept>

namespace bq::quant::binary {

AmpGate parseAmpGate(const std::string& value, const std::string& method)
{
    if (value == "literal") return AmpGate::Literal;
    if (value == "directional") return AmpGate::Directional;
    if (value == "off") return AmpGate::Off;
    throw std::invalid_argument(method + ": option 'amp_gate' = \"" + value + "\", expected literal | directional | off");
}

namespace {

// Accept the coordinate update θ → θ* given ∂L_AMP/∂θ (Literal: gradient > 0; Directional: the move does not
// decrease L_AMP to first order).
inline bool accept(AmpGate gate, double delta, double grad)
{
    switch (gate) {
    case AmpGate::Off: return true;
    case AmpGate::Literal: return grad > 0;
    case AmpGate::Directional: return delta * grad >= 0;
    }
    return true;
}

// a · M for a row-major n × w and the column-major w × w metric, as a row-major n × w (dense_kernels GEMM:
// as column-major data the product is Mᵀ aᵀ).
MatrixXdR timesMetric(const MatrixXdR& a, const Eigen::MatrixXd& M)
{
    MatrixXdR out(a.rows(), M.cols());
    dense::gemm(true, false, M.cols(), a.rows(), a.cols(), 1.0, M.data(), M.rows(), a.data(), a.cols(), 0.0,
                out.data(), M.cols());
    return out;
}

struct Plane {
    int zone = 0, order = 0;
    Eigen::VectorXd* a = nullptr;  // n
    Eigen::VectorXd* b = nullptr;  // w
    MatrixXi8R* B = nullptr;       // n × w
};

} // namespace

void alignBlockOutput(const OutputAlignBlock& blk, std::array<ZoneParams, kZones>& zones, std::vector<double>* trace,
                      std::vector<MatrixXdR>* values)
{
    const MatrixXdR& T = *blk.target;
    const Eigen::MatrixXd& M = *blk.metric;
    const MatrixXu8R& zone = *blk.zone;
    const Eigen::Index n = T.rows(), w = T.cols();

    std::vector<Plane> planes;
    std::array<MatrixXdR, kZones> mask;
    for (int z = 0; z < kZones; ++z) {
        mask[std::size_t(z)] = MatrixXdR::Zero(n, w);
        bool any = false;
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < w; ++j)
                if (zone(i, j) == z) mask[std::size_t(z)](i, j) = 1, any = true;
        if (!any) continue;
        ZoneParams& p = zones[std::size_t(z)];
        for (int o = 0; o < p.order; ++o)
            planes.push_back({z, o, &p.alpha[std::size_t(o)], &p.col[std::size_t(o)], &p.sign[std::size_t(o)]});
    }
    auto planeValue = [&](const Plane& pl) { // diag(a) (B ⊙ mask) diag(b)
        MatrixXdR v = pl.B->cast<double>().cwiseProduct(mask[std::size_t(pl.zone)]);
        v.array().colwise() *= pl.a->array();
        v.array().rowwise() *= pl.b->transpose().array();
        return v;
    };
    auto current = [&] {
        MatrixXdR W = MatrixXdR::Zero(n, w);
        for (const Plane& pl : planes) W += planeValue(pl);
        return W;
    };
    MatrixXdR What = current();
    MatrixXdR RM = timesMetric(T - What, M);
    auto objective = [&] { return RM.cwiseProduct(T - current()).sum(); };
    if (trace) trace->assign(1, objective());
    if (values) values->assign(1, current());
    const double diagMean = std::max(1e-300, M.diagonal().cwiseAbs().mean());

    MatrixXdR gamma;
    for (int t = 0; t < blk.iterations; ++t) {
        if (blk.gate != AmpGate::Off) {
            gamma = blk.ampGradient(current());
            if (gamma.rows() != n || gamma.cols() != w)
                throw std::logic_error("alignBlockOutput: AMP gradient has the wrong shape");
        }
        for (const Plane& pl : planes) {
            const MatrixXdR& mk = mask[std::size_t(pl.zone)];
            Eigen::VectorXd& a = *pl.a;
            Eigen::VectorXd& b = *pl.b;
            MatrixXi8R& B = *pl.B;
            // a-update (every modK-th iteration): exact per-row LS, Newton step on the current residual.
            if (t % blk.modK == 0) {
                MatrixXdR V = B.cast<double>().cwiseProduct(mk);
                V.array().rowwise() *= b.transpose().array();
                const MatrixXdR VM = timesMetric(V, M);
                const Eigen::VectorXd den = VM.cwiseProduct(V).rowwise().sum();
                const Eigen::VectorXd num = RM.cwiseProduct(V).rowwise().sum();
                Eigen::VectorXd grad;
                if (blk.gate != AmpGate::Off) grad = gamma.cwiseProduct(V).rowwise().sum();
                for (Eigen::Index i = 0; i < n; ++i) {
                    if (!(den[i] > 1e-300)) continue;
                    const double delta = num[i] / den[i];
                    if (blk.gate != AmpGate::Off && !accept(blk.gate, delta, grad[i])) continue;
                    a[i] += delta;
                    RM.row(i) -= delta * VM.row(i);
                }
            }
            // B-update: one cyclic sweep; flipping B_ij moves Ŵ_ij by δ = −2 a_i b_j B_ij and changes the
            // objective by −2 δ RM_ij + δ² M_jj (rows are independent).
            for (Eigen::Index i = 0; i < n; ++i)
                for (Eigen::Index j = 0; j < w; ++j) {
                    if (mk(i, j) == 0) continue;
                    const double delta = -2.0 * a[i] * b[j] * B(i, j);
                    if (delta == 0) continue;
                    const bool better = -2.0 * delta * RM(i, j) + delta * delta * M(j, j) < 0;
                    if (blk.gate != AmpGate::Off) {
                        const double grad = a[i] * gamma(i, j) * b[j]; // ∂L_AMP/∂B_ij
                        const int bStar = better ? -B(i, j) : B(i, j);
                        if (!accept(blk.gate, double(bStar - B(i, j)), grad)) continue;
                    }
                    if (!better) continue;
                    B(i, j) = std::int8_t(-B(i, j));
                    RM.row(i) -= delta * M.row(j);
                }
            // b-update: ((B̃ᵀ diag(a²) B̃) ⊙ M + ρI) b = g, g_j = Σ_i (RM + Ŵ_p M)_ij a_i B̃_ij.
            MatrixXdR At = B.cast<double>().cwiseProduct(mk); // diag(a) B̃
            At.array().colwise() *= a.array();
            Eigen::MatrixXd K(w, w); // Atᵀ At; At's row-major data is Atᵀ column-major
            dense::gemm(false, true, w, w, n, 1.0, At.data(), w, At.data(), w, 0.0, K.data(), w);
            Eigen::MatrixXd sys = K.cwiseProduct(M);
            const Eigen::VectorXd g = (RM.cwiseProduct(At).colwise().sum()).transpose() + sys * b;
            const double rho = blk.ridge * std::max(diagMean, sys.diagonal().cwiseAbs().mean());
            sys.diagonal().array() += rho;
            Eigen::LDLT<Eigen::MatrixXd> ldlt(sys);
            Eigen::VectorXd bStar = ldlt.solve(g);
            if (ldlt.info() != Eigen::Success || !bStar.allFinite())
                bStar = sys.completeOrthogonalDecomposition().solve(g);
            // the ridge only regularises the solve: the step is kept only if it lowers the unridged objective
            const Eigen::VectorXd resid = (RM.cwiseProduct(At).colwise().sum()).transpose();
            Eigen::VectorXd db = Eigen::VectorXd::Zero(w);
            Eigen::VectorXd grad;
            if (blk.gate != AmpGate::Off) grad = (gamma.cwiseProduct(At).colwise().sum()).transpose();
            for (Eigen::Index j = 0; j < w; ++j) {
                if (K(j, j) == 0) continue; // column without entries in this zone keeps its scale
                const double delta = bStar[j] - b[j];
                if (blk.gate != AmpGate::Off && !accept(blk.gate, delta, grad[j])) continue;
                db[j] = delta;
            }
            const double change = db.dot(K.cwiseProduct(M) * db) - 2.0 * db.dot(resid);
            if (change < 0 && db.cwiseAbs().maxCoeff() > 0) {
                b += db;
                MatrixXdR dW = At;
                dW.array().rowwise() *= db.transpose().array();
                dense::gemm(true, false, w, n, w, -1.0, M.data(), M.rows(), dW.data(), w, 1.0, RM.data(), w); // RM −= dW M
            }
            // a, b ≥ 0: move signs into B (Ŵ unchanged)
            for (Eigen::Index i = 0; i < n; ++i)
                if (a[i] < 0) {
                    a[i] = -a[i];
                    for (Eigen::Index j = 0; j < w; ++j)
                        if (mk(i, j) != 0) B(i, j) = std::int8_t(-B(i, j));
                }
            for (Eigen::Index j = 0; j < w; ++j)
                if (b[j] < 0) {
                    b[j] = -b[j];
                    for (Eigen::Index i = 0; i < n; ++i)
                        if (mk(i, j) != 0) B(i, j) = std::int8_t(-B(i, j));
                }
        }
        if (trace) trace->push_back(objective());
        if (values) values->push_back(current());
    }
}

} // namespace bq::quant::binary
