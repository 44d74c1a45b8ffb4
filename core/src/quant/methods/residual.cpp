// methods.md §3.3 `residual`: k sign planes by greedy residual binarization (HORQ, arXiv:1708.08687):
// Ŵ = μ + Σ_p α_p·B_p per row and group, α_p = fp16(mean |R|), B_p = sgn(R), R ← R − α_p B_p.
// refine = T (Derived) alternates T times: α (and μ) ← least squares for fixed planes (small ridge), then each
// weight → the nearest of the 2^k levels. mean = true (Interpretation of the BiLLM-style offset): one fp16 offset
// μ = mean(w) per row and group is fitted first and the planes binarize w − μ; it is stored on plane 0.
// compensate = true (Derived) runs the column-wise OBC loop (§1.4), fitting each row group's levels when the loop
// enters the group and quantizing every column to the nearest level.
#include "bq/quant/obc/hessian.h"
#include "bq/quant/obc/obc.h"
#include "bq/util/fp16.h"
#include "method_factories.h"
#include "method_memory.h"
#include "option_reader.h"
#include "step_recorder.h"
#include <Eigen/Cholesky>
#include <cmath>
#include <vector>

namespace bq::quant::methods {

namespace {

const char* kId = "residual";
constexpr int kMaxPlanes = 4;

const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        intOption("k", 2, 1, kMaxPlanes, "Sign planes, each binarizing what the previous ones left"),
        groupOption(128, "Columns per scale: \"row\" (one scale per row and plane) or a count"),
        boolOption("mean", false, "Fit a mean offset per row and group first (one more fp16 value per group)"),
        intOption("refine", 0, 0, 100, "Least-squares scale / nearest-level alternations after the greedy fit"),
        boolOption("compensate", false, "GPTQ-style column-wise error compensation (needs the calibration Gram)"),
        floatOption("percdamp", 0.01, 0, 10, "Hessian damping, as a fraction of the mean diagonal (compensate)")};
    return options;
}

struct Options {
    int k, group;
    bool mean;
    int refine;
    bool compensate;
    double percdamp;
};

Options read(const nlohmann::json& o)
{
    const OptionReader r(kId, schema(), o);
    return {r.integer("k"), r.group("group"), r.flag("mean"), r.integer("refine"), r.flag("compensate"),
            r.number("percdamp")};
}

double bits(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    const Options opt = read(options);
    const double perGroup = 16.0 * double(groupsPerRow(m, opt.group)) / double(m);
    return double(opt.k) + perGroup * double(opt.k + (opt.mean ? 1 : 0));
}

// k int8 sign planes with a float scale per group; with mean, a float offset per group (counted on every plane,
// though only plane 0 holds it: a slight upper bound).
double residentPerWeight(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    const Options opt = read(options);
    const double scales = opt.mean ? 2.0 : 1.0;
    return double(opt.k) * (1.0 + 4.0 * scales * double(groupsPerRow(m, opt.group)) / double(m));
}

// The levels of one row group.
struct Levels {
    float mu = 0;
    float alpha[kMaxPlanes] = {};
};

// Greedy sign choice (the pure greedy of the spec): plane p takes the sign of what the earlier planes left.
inline void greedySigns(float w, const Levels& L, int k, std::int8_t* s)
{
    k = std::min(k, kMaxPlanes);
    float r = w - L.mu;
    for (int p = 0; p < k; ++p) {
        s[p] = r >= 0.0f ? 1 : -1;
        r -= L.alpha[p] * float(s[p]);
    }
}

// Nearest of the 2^k levels μ + Σ ±α_p (ties: the first combination, all +1 first).
inline void nearestSigns(float w, const Levels& L, int k, std::int8_t* s)
{
    k = std::min(k, kMaxPlanes);
    float best = INFINITY;
    int bestMask = 0;
    for (int mask = 0; mask < (1 << k); ++mask) {
        float v = L.mu;
        for (int p = 0; p < k; ++p) v += (mask >> p & 1) ? -L.alpha[p] : L.alpha[p];
        const float d = std::fabs(w - v);
        if (d < best) best = d, bestMask = mask;
    }
    for (int p = 0; p < k; ++p) s[p] = (bestMask >> p & 1) ? -1 : 1;
}

inline float levelOf(const Levels& L, int k, const std::int8_t* s)
{
    float v = L.mu;
    for (int p = 0; p < k; ++p) v += L.alpha[p] * float(s[p]);
    return v;
}

// Fits the levels of one row group x (greedy, then `refine` least-squares/nearest alternations).
Levels fitLevels(const Eigen::VectorXf& x, const Options& opt)
{
    const Eigen::Index w = x.size();
    Levels L;
    if (opt.mean) L.mu = roundToHalf(float(x.cast<double>().mean()));
    Eigen::VectorXf r = x.array() - L.mu;
    for (int p = 0; p < opt.k; ++p) {
        L.alpha[p] = roundToHalf(float(r.cast<double>().cwiseAbs().mean()));
        for (Eigen::Index j = 0; j < w; ++j) r[j] -= L.alpha[p] * (r[j] >= 0.0f ? 1.0f : -1.0f);
    }
    if (opt.refine == 0) return L;

    const int dim = opt.k + (opt.mean ? 1 : 0);
    Eigen::MatrixXd B(w, dim);
    std::int8_t s[kMaxPlanes];
    for (int t = 0; t < opt.refine; ++t) {
        for (Eigen::Index j = 0; j < w; ++j) {
            if (t == 0) greedySigns(x[j], L, opt.k, s);
            else nearestSigns(x[j], L, opt.k, s);
            for (int p = 0; p < opt.k; ++p) B(j, p) = s[p];
            if (opt.mean) B(j, opt.k) = 1;
        }
        Eigen::MatrixXd A = B.transpose() * B;
        A.diagonal().array() += 1e-6 * double(w); // planes can coincide on short groups
        const Eigen::VectorXd sol = A.ldlt().solve(B.transpose() * x.cast<double>());
        // A negative scale is the same level set with the plane's signs flipped.
        for (int p = 0; p < opt.k; ++p) L.alpha[p] = roundToHalf(float(std::fabs(sol[p])));
        if (opt.mean) L.mu = roundToHalf(float(sol[opt.k]));
    }
    return L;
}

// The lab's steps: Ŵ with the first p planes of the result, p = 1 .. k (after the mean, when there is one). For
// the pure greedy fit these are exactly its intermediate states; after a refinement or the compensation they
// show what each final plane adds.
void recordSteps(StepRecorder& steps, const MatrixXfR& W, const QuantizedLinear& out, const Options& opt)
{
    const Eigen::Index m = W.cols();
    const std::string groups = opt.group <= 0 ? "row" : "row and group of " + std::to_string(opt.group) + " columns";
    std::string after;
    if (opt.refine > 0)
        after = std::to_string(opt.refine) + " least-squares refinement(s)";
    if (opt.compensate)
        after += (after.empty() ? "" : " and ") + std::string("the error compensation");
    QuantizedLinear partial = out;
    double before = squaredDistance(W, MatrixXfR::Zero(W.rows(), m));
    auto add = [&](std::string title, std::string sentence) {
        const MatrixXfR What = partial.dequantize();
        const double error = squaredDistance(W, What);
        MethodStep step{.title = std::move(title),
                        .sentence = std::move(sentence) + "; the error " + changeText(before, error) + ".",
                        .objective = error,
                        .objectiveName = kWeightErrorName,
                        .columnEnd = m};
        if (steps.wantsSnapshot())
            step.snapshot = What;
        steps.add(std::move(step));
        before = error;
    };
    if (opt.mean) {
        partial.planes.resize(1);
        partial.planes[0].rowScale.setZero();
        add("Mean", "Fitted one fp16 offset μ = mean(w) per " + groups + "; the planes binarize w − μ");
    }
    for (int p = 1; p <= opt.k; ++p) {
        partial.planes.assign(out.planes.begin(), out.planes.begin() + p);
        const std::string title = "Plane " + std::to_string(p) + " of " + std::to_string(opt.k);
        if (!after.empty())
            add(title, "Added plane " + std::to_string(p) + " of the final result (its signs and scales as " + after +
                           " left them)");
        else if (p == 1)
            add(title, "Took the sign of every weight" + std::string(opt.mean ? " minus μ" : "") +
                           " and scaled it by fp16(mean |value|) per " + groups);
        else
            add(title, "Binarized what the first " + std::to_string(p - 1) +
                           " plane(s) left: its signs, scaled by its fp16(mean |value|) per " + groups);
    }
}

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics& diag)
{
    const MatrixXfR& W0 = requireWeight(request, kId);
    const Options opt = read(request.options);
    const Eigen::Index n = W0.rows(), m = W0.cols(), G = groupsPerRow(m, opt.group);
    const bool greedy = opt.refine == 0 && !opt.compensate;

    MatrixXfR W = W0;
    PreparedHessian ph;
    if (opt.compensate) {
        ph = prepareHessian(requireGram(request, kId), opt.percdamp, &W, request.tensor);
        if (ph.retries > 0) diag.notes.push_back("Cholesky retried " + std::to_string(ph.retries) + "×");
    }

    QuantizedLinear out = emptyResult(request, kId);
    out.planes.resize(std::size_t(opt.k));
    for (SignPlane& p : out.planes) {
        p.group = opt.group;
        p.signs.resize(n, m);
        p.rowScale.resize(n, G);
    }
    if (opt.mean) out.planes[0].mean.resize(n, G);
    std::vector<Levels> levels(static_cast<std::size_t>(n));

    ColumnwiseQuantizer cq;
    cq.group = opt.group;
    cq.onGroupEntry = [&](Eigen::Index begin, Eigen::Index, const ColumnBlock& cur) {
        const Eigen::Index g = opt.group <= 0 ? 0 : begin / opt.group;
        for (Eigen::Index i = 0; i < n; ++i) {
            const Levels L = fitLevels(cur.row(i).transpose(), opt);
            levels[std::size_t(i)] = L;
            for (int p = 0; p < opt.k; ++p) out.planes[std::size_t(p)].rowScale(i, g) = L.alpha[p];
            if (opt.mean) out.planes[0].mean(i, g) = L.mu;
        }
    };
    cq.quantizeColumn = [&](Eigen::Index j, const Eigen::Ref<const Eigen::VectorXf>& w, Eigen::Ref<Eigen::VectorXf> q) {
        std::int8_t s[kMaxPlanes];
        for (Eigen::Index i = 0; i < n; ++i) {
            const Levels& L = levels[std::size_t(i)];
            if (greedy) greedySigns(w[i], L, opt.k, s);
            else nearestSigns(w[i], L, opt.k, s);
            for (int p = 0; p < opt.k; ++p) out.planes[std::size_t(p)].signs(i, j) = s[p];
            q[i] = levelOf(L, opt.k, s);
        }
    };
    if (opt.compensate) diag.objectiveTrace.push_back(compensateColumnwise(W, ph.U, 128, cq, request.cancel));
    else quantizeColumnwise(W, 128, cq, request.cancel);

    out.storageBitsPerWeight = bits(n, m, request.options);
    if (StepRecorder steps(request, diag); steps.active())
        recordSteps(steps, W0, out, opt);
    return out;
}

} // namespace

MethodInfo residualMethod()
{
    MethodInfo info;
    info.id = kId;
    info.title = "residual binarization (k sign planes)";
    info.description = "k sign planes, each binarizing what the previous ones left (HORQ, arXiv:1708.08687), "
                       "per-row-and-group fp16 scales; optional least-squares refinement, mean offset and GPTQ-style "
                       "compensation (needs calibration). Stores k + 16k/g bits (k = 2, g = 128: 2.25), +16/g "
                       "with mean.";
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
