// methods.md §3.9 `ternary`: BitNet b1.58 absmean ternarization as a PTQ baseline (arXiv:2402.17764):
// γ = mean |W| (per tensor, row or group), t = RoundClip(W / (γ + ε), −1, 1), Ŵ = α·t with α = γ, or with
// refit = true the least-squares scale of the chosen pattern α = Σ_{t≠0}|w| / #{t≠0} (Derived). compensate =
// true runs the column-wise OBC loop (§1.4) with this grid, fitting γ/α when the loop enters each group.
// Stored as a 2-bit code plane (code = t + 1, zero = 1); counted as TQ1_0 / TQ2_0 store it.
#include "bq/quant/obc/hessian.h"
#include "bq/quant/obc/obc.h"
#include "bq/util/fp16.h"
#include "method_factories.h"
#include "method_memory.h"
#include "option_reader.h"
#include <cmath>
#include <vector>

namespace bq::quant::methods {

namespace {

const char* kId = "ternary";
constexpr float kEps = 1e-6f;

const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        groupOption("tensor", "Weights per γ: \"tensor\" (BitNet's one scale), \"row\" or a column count", true),
        boolOption("refit", false, "Least-squares scale for the chosen ternary pattern instead of γ"),
        boolOption("compensate", false, "GPTQ-style column-wise error compensation (needs the calibration Gram)"),
        floatOption("percdamp", 0.01, 0, 10, "Hessian damping, as a fraction of the mean diagonal (compensate)"),
        choiceOption("storage", "tq1_0", {"tq1_0", "tq2_0"}, "The llama.cpp type the bits are counted for")};
    return options;
}

struct Options {
    int group; // −1 tensor, 0 row, else columns
    bool refit, compensate;
    double percdamp;
    bool tq2;
};

Options read(const nlohmann::json& o)
{
    const OptionReader r(kId, schema(), o);
    return {r.group("group"), r.flag("refit"), r.flag("compensate"), r.number("percdamp"),
            r.choice("storage") == "tq2_0"};
}

// TQ1_0 / TQ2_0 hold one fp16 scale per 256 weights of a row: exact for a per-tensor or per-row scale, and for
// groups that are multiples of 256. Other group widths are counted as packed 2-bit codes + an fp16 scale each.
double bits(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    const Options opt = read(options);
    if (opt.group <= 0 || opt.group % 256 == 0) return opt.tq2 ? 2.0625 : 1.6875;
    return 2.0 + 16.0 * double(groupsPerRow(m, opt.group)) / double(m);
}

// One uint8 code per weight and a float scale and zero per group (one group per row for "tensor").
double residentPerWeight(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    return 1.0 + 8.0 * double(groupsPerRow(m, read(options).group)) / double(m);
}

inline float ternaryOf(float w, float gamma) { return std::clamp(std::nearbyint(w / (gamma + kEps)), -1.0f, 1.0f); }

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics& diag)
{
    const MatrixXfR& W0 = requireWeight(request, kId);
    const Options opt = read(request.options);
    const Eigen::Index n = W0.rows(), m = W0.cols();
    const int storedGroup = std::max(opt.group, 0);
    const Eigen::Index G = groupsPerRow(m, storedGroup);

    MatrixXfR W = W0;
    PreparedHessian ph;
    if (opt.compensate) {
        ph = prepareHessian(requireGram(request, kId), opt.percdamp, &W, request.tensor);
        if (ph.retries > 0) diag.notes.push_back("Cholesky retried " + std::to_string(ph.retries) + "×");
    }

    CodePlane c;
    c.bits = 2;
    c.group = storedGroup;
    c.codes.resize(n, m);
    c.scale.resize(n, G);
    c.zero = Eigen::MatrixXf::Ones(n, G);
    std::vector<float> gamma(static_cast<std::size_t>(n)), alpha(static_cast<std::size_t>(n));

    ColumnwiseQuantizer cq;
    cq.group = storedGroup;
    cq.onGroupEntry = [&](Eigen::Index begin, Eigen::Index, const ColumnBlock& cur) {
        const Eigen::Index g = storedGroup == 0 ? 0 : begin / storedGroup;
        if (opt.group < 0) { // one γ for the whole tensor (entered once, at column 0, with all columns)
            const float t = roundToHalf(float(cur.cast<double>().cwiseAbs().mean()));
            std::fill(gamma.begin(), gamma.end(), t);
        } else {
            for (Eigen::Index i = 0; i < n; ++i)
                gamma[std::size_t(i)] = roundToHalf(float(cur.row(i).cast<double>().cwiseAbs().mean()));
        }
        alpha = gamma;
        if (opt.refit) {
            // Least-squares scale for the pattern each γ selects; per tensor it pools all rows.
            double poolSum = 0, poolCount = 0;
            std::vector<double> sums(std::size_t(n), 0), counts(std::size_t(n), 0);
            for (Eigen::Index j = 0; j < cur.cols(); ++j)
                for (Eigen::Index i = 0; i < n; ++i)
                    if (ternaryOf(cur(i, j), gamma[std::size_t(i)]) != 0)
                        sums[std::size_t(i)] += std::fabs(cur(i, j)), counts[std::size_t(i)] += 1;
            for (Eigen::Index i = 0; i < n; ++i) poolSum += sums[std::size_t(i)], poolCount += counts[std::size_t(i)];
            for (Eigen::Index i = 0; i < n; ++i) {
                const double s = opt.group < 0 ? poolSum : sums[std::size_t(i)];
                const double k = opt.group < 0 ? poolCount : counts[std::size_t(i)];
                if (k > 0) alpha[std::size_t(i)] = roundToHalf(float(s / k));
            }
        }
        for (Eigen::Index i = 0; i < n; ++i) c.scale(i, g) = alpha[std::size_t(i)];
    };
    cq.quantizeColumn = [&](Eigen::Index j, const Eigen::Ref<const Eigen::VectorXf>& w, Eigen::Ref<Eigen::VectorXf> q) {
        for (Eigen::Index i = 0; i < n; ++i) {
            const float t = ternaryOf(w[i], gamma[std::size_t(i)]);
            c.codes(i, j) = std::uint8_t(t + 1.0f);
            q[i] = alpha[std::size_t(i)] * t;
        }
    };
    if (opt.compensate) diag.objectiveTrace.push_back(compensateColumnwise(W, ph.U, 128, cq, request.cancel));
    else quantizeColumnwise(W, 128, cq, request.cancel);

    QuantizedLinear out = emptyResult(request, kId);
    out.codes = std::move(c);
    out.storageBitsPerWeight = bits(n, m, request.options);
    return out;
}

} // namespace

MethodInfo ternaryMethod()
{
    MethodInfo info;
    info.id = kId;
    info.title = "ternary absmean (BitNet b1.58) baseline";
    info.description = "BitNet b1.58 absmean ternarization applied post-training (arXiv:2402.17764): γ = mean |W| "
                       "per tensor (or row/group), weights → γ·{−1, 0, +1}. refit: least-squares scale for the "
                       "pattern; compensate: GPTQ-style error compensation (needs calibration). Counted as stored "
                       "in TQ1_0 (1.6875 bits) or TQ2_0 (2.0625 bits).";
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
