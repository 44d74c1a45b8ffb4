// methods.md §3.6 `svid`: OneBit's sign-value-independent decomposition (arXiv:2402.11295), PTQ initialisation
// only: W ≈ sgn(W) ⊙ a bᵀ with a bᵀ the rank-1 approximation of |W| from power iteration. |W| ≥ 0, so starting
// from a positive vector keeps u, v ≥ 0 (Perron–Frobenius). Stored as one sign plane with rowScale = a (n × 1)
// and colScale = b (m), both fp16. refine = T runs T alternating least-squares updates of a and b with the signs
// fixed (the arb-rc scale update with one group), on the fp16 values.
#include "bq/util/fp16.h"
#include "method_factories.h"
#include "method_memory.h"
#include "option_reader.h"
#include <cmath>

namespace bq::quant::methods {

namespace {

const char* kId = "svid";

// balanced = true splits σ as √σ·u, √σ·v so both scale vectors stay in fp16's comfortable range
// (Interpretation: the paper leaves the split open).
const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        intOption("iterations", 20, 1, 1000, "Power iterations for the rank-1 approximation of |W|"),
        boolOption("balanced", true, "Split the singular value as √σ·u, √σ·v (both scales in fp16's range)"),
        intOption("refine", 0, 0, 100, "Alternating least-squares updates of the row and column scales")};
    return options;
}

struct Options {
    int iterations;
    bool balanced;
    int refine;
};

Options read(const nlohmann::json& o)
{
    const OptionReader r(kId, schema(), o);
    return {r.integer("iterations"), r.flag("balanced"), r.integer("refine")};
}

double bits(Eigen::Index n, Eigen::Index m, const nlohmann::json& options)
{
    read(options);
    return 1.0 + 16.0 * double(n + m) / (double(n) * double(m));
}

// One int8 sign per weight, a float row scale per row and a float column scale per column.
double residentPerWeight(Eigen::Index n, Eigen::Index m, const nlohmann::json&)
{
    return 1.0 + 4.0 / double(m) + 4.0 / double(n);
}

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics& diag)
{
    const MatrixXfR& W = requireWeight(request, kId);
    const Options opt = read(request.options);
    const Eigen::Index n = W.rows(), m = W.cols();
    const Eigen::MatrixXd A = W.cast<double>().cwiseAbs();

    // Power iteration for the leading singular pair of |W|; stop on a relative change below 1e-6.
    Eigen::VectorXd v = Eigen::VectorXd::Constant(m, 1.0 / std::sqrt(double(m))), u(n);
    for (int it = 0; it < opt.iterations; ++it) {
        checkCancel(request);
        u = A * v;
        const double nu = u.norm();
        if (nu == 0) break; // |W| = 0
        u /= nu;
        Eigen::VectorXd next = A.transpose() * u;
        next /= next.norm();
        const double change = (next - v).norm();
        v = next;
        if (change < 1e-6) break;
    }
    const double sigma = u.allFinite() && u.norm() > 0 ? u.dot(A * v) : 0.0;
    Eigen::VectorXd a = opt.balanced ? Eigen::VectorXd(std::sqrt(sigma) * u) : Eigen::VectorXd(sigma * u);
    Eigen::VectorXd b = opt.balanced ? Eigen::VectorXd(std::sqrt(sigma) * v) : v;
    if (sigma == 0) a.setZero(), b.setZero();

    auto toHalf = [](const Eigen::VectorXd& x) {
        Eigen::VectorXf h(x.size());
        for (Eigen::Index k = 0; k < x.size(); ++k) h[k] = roundToHalf(float(std::max(0.0, x[k])));
        return h;
    };
    Eigen::VectorXf ah = toHalf(a), bh = toHalf(b);
    // sgn(W) ⊙ a bᵀ has error Σ(|w| − a_i b_j)², so the least-squares updates work on |W| directly.
    for (int t = 0; t < opt.refine; ++t) {
        checkCancel(request);
        const Eigen::VectorXd bd = bh.cast<double>(), ad0 = A * bd;
        const double bb = bd.squaredNorm();
        for (Eigen::Index i = 0; i < n; ++i) a[i] = bb > 0 ? ad0[i] / bb : 0.0;
        ah = toHalf(a);
        const Eigen::VectorXd ad = ah.cast<double>(), bd1 = A.transpose() * ad;
        const double aa = ad.squaredNorm();
        for (Eigen::Index j = 0; j < m; ++j) b[j] = aa > 0 ? bd1[j] / aa : 0.0;
        bh = toHalf(b);
        const Eigen::MatrixXd R = A - ah.cast<double>() * bh.cast<double>().transpose();
        diag.objectiveTrace.push_back(R.squaredNorm());
    }

    QuantizedLinear out = emptyResult(request, kId);
    SignPlane p;
    p.group = 0;
    p.signs = (W.array() >= 0.0f).select(MatrixXi8R::Constant(n, m, 1), MatrixXi8R::Constant(n, m, -1));
    p.rowScale = ah;
    p.colScale = bh;
    out.planes.push_back(std::move(p));
    out.storageBitsPerWeight = bits(n, m, request.options);
    return out;
}

} // namespace

MethodInfo svidMethod()
{
    MethodInfo info;
    info.id = kId;
    info.title = "OneBit SVID: sign × rank-1 scales (PTQ init only)";
    info.description = "OneBit's sign-value-independent decomposition (arXiv:2402.11295) without the QAT that "
                       "follows it: Ŵ = diag(a)·sgn(W)·diag(b), a bᵀ the rank-1 approximation of |W| (power "
                       "iteration). No calibration. Stores 1 bit + fp16 row and column scales: "
                       "1 + 16(n+m)/(nm) bits.";
    info.options = schema();
    info.unsupportedReason = [](Eigen::Index, Eigen::Index, const nlohmann::json& o) {
        return optionProblem([&] { read(o); });
    };
    info.estimateBits = bits;
    info.residentBytesPerWeight = residentPerWeight;
    info.workingBytes = [](Eigen::Index n, Eigen::Index m, const nlohmann::json&) { return weightCopyBytes(n, m); };
    info.quantize = run;
    return info;
}

} // namespace bq::quant::methods
