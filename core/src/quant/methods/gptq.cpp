// methods.md §3.8 `gptq`: GPTQ n-bit (arXiv:2210.17323, IST-DASLab/gptq). The column-wise OBC loop of §1.4 with
// the min–max grid; each group's scale and zero come from the compensated weights when the loop enters the
// group and are rounded to fp16 before the group is quantized, so the compensation sees the exported values.
#include "bq/quant/obc/hessian.h"
#include "bq/quant/obc/obc.h"
#include "method_factories.h"
#include "method_memory.h"
#include "minmax_grid.h"
#include "option_reader.h"
#include "step_recorder.h"
#include <vector>

namespace bq::quant::methods {

namespace {

const char* kId = "gptq";

// 2-bit g128 asymmetric: the GPTQ baseline of the 1-bit papers' tables (same budget as residual k = 2).
const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        intOption("bits", 2, 2, 8, "Bits per weight of the codes"),
        groupOption(128, "Columns per scale and zero: \"row\" (one pair per row) or a count"),
        boolOption("sym", false, "Symmetric grid (zero at the middle code) instead of min-max asymmetric"),
        boolOption("act_order", false, "Not supported: act-order would make groups non-contiguous (must be false)"),
        floatOption("percdamp", 0.01, 0, 10, "Hessian damping, as a fraction of the mean diagonal")};
    return options;
}

struct Options {
    int bits, group;
    bool sym;
    double percdamp;
};

Options read(const nlohmann::json& o)
{
    const OptionReader r(kId, schema(), o);
    Options opt{r.integer("bits"), r.group("group"), r.flag("sym"), r.number("percdamp")};
    if (r.flag("act_order"))
        r.fail("act_order", "false (act-order permutes columns, so groups would not be contiguous runs of "
                            "columns as every export format needs)");
    return opt;
}

double bits(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    const Options opt = read(options);
    return double(opt.bits) + 32.0 * double(groupsPerRow(m, opt.group)) / double(m);
}

// One uint8 code per weight and a float scale and zero per group.
double residentPerWeight(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    return 1.0 + 8.0 * double(groupsPerRow(m, read(options).group)) / double(m);
}

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics& diag)
{
    const MatrixXfR& W0 = requireWeight(request, kId);
    const Eigen::MatrixXd& gram = requireGram(request, kId);
    const Options opt = read(request.options);
    const Eigen::Index n = W0.rows(), m = W0.cols(), G = groupsPerRow(m, opt.group);

    MatrixXfR W = W0;
    const PreparedHessian ph = prepareHessian(gram, opt.percdamp, &W, request.tensor);
    if (ph.retries > 0)
        diag.notes.push_back("Cholesky retried " + std::to_string(ph.retries) + "× with 10× damping (λ = " +
                             std::to_string(ph.damping) + ")");
    StepRecorder steps(request, diag);
    if (steps.active())
        recordHessianStep(steps, ph, opt.percdamp, W, "so each column's rounding error can be spread over the columns "
                                                    "to its right");

    CodePlane c;
    c.bits = opt.bits;
    c.group = opt.group;
    c.codes.resize(n, m);
    c.scale.resize(n, G);
    c.zero.resize(n, G);
    std::vector<MinMaxGrid> grids(static_cast<std::size_t>(n));

    ColumnwiseQuantizer cq;
    cq.group = opt.group;
    cq.onGroupEntry = [&](Eigen::Index begin, Eigen::Index, const ColumnBlock& cur) {
        const Eigen::Index g = opt.group <= 0 ? 0 : begin / opt.group;
        for (Eigen::Index i = 0; i < n; ++i) {
            grids[std::size_t(i)] = MinMaxGrid::fromRange(cur.row(i).minCoeff(), cur.row(i).maxCoeff(), opt.bits, opt.sym);
            c.scale(i, g) = grids[std::size_t(i)].scale;
            c.zero(i, g) = grids[std::size_t(i)].zero;
        }
    };
    cq.quantizeColumn = [&](Eigen::Index j, const Eigen::Ref<const Eigen::VectorXf>& w, Eigen::Ref<Eigen::VectorXf> q) {
        for (Eigen::Index i = 0; i < n; ++i) {
            const MinMaxGrid& grid = grids[std::size_t(i)];
            const int code = grid.code(w[i]);
            c.codes(i, j) = std::uint8_t(code);
            q[i] = grid.value(code);
        }
    };
    if (steps.active())
        cq.onBlockDone = [&, before = 0.0](Eigen::Index begin, Eigen::Index end, const MatrixXfR& current,
                                           double loss) mutable {
            MethodStep step{.title = "Columns " + std::to_string(begin) + "–" + std::to_string(end - 1),
                            .sentence = "Rounded these columns one at a time to each row's " +
                                        std::to_string(opt.bits) +
                                        "-bit grid and spread each column's rounding error over the columns to its "
                                        "right (through U); the loss so far " + changeText(before, loss) + ".",
                            .objective = loss,
                            .objectiveName = "tr(ΔW H ΔWᵀ) so far (Σ‖E‖²)",
                            .columnBegin = begin,
                            .columnEnd = end};
            if (steps.wantsSnapshot())
                step.snapshot = current;
            steps.add(std::move(step));
            before = loss;
        };
    const double loss = compensateColumnwise(W, ph.U, 128, cq, request.cancel);
    diag.objectiveTrace.push_back(loss);

    QuantizedLinear out = emptyResult(request, kId);
    out.codes = std::move(c);
    out.storageBitsPerWeight = bits(n, m, request.options);
    return out;
}

} // namespace

MethodInfo gptqMethod()
{
    MethodInfo info;
    info.id = kId;
    info.title = "GPTQ n-bit (2/3/4-bit, grouped)";
    info.description = "GPTQ (arXiv:2210.17323): Hessian-compensated column-by-column rounding on the min–max "
                       "grid, lazy batch updates in blocks of 128, 1 % damping, natural column order. Group "
                       "scale/zero are fp16 before use. Needs calibration. Stores b-bit codes + fp16 scale and "
                       "zero per group: b + 32/g bits (g = 128: 2.25 / 3.25 / 4.25).";
    info.options = schema();
    info.needsGram = true;
    info.unsupportedReason = [](Eigen::Index, Eigen::Index, const nlohmann::json& o) {
        return optionProblem([&] { read(o); });
    };
    info.estimateBits = bits;
    info.residentBytesPerWeight = residentPerWeight;
    info.workingBytes = [](Eigen::Index n, Eigen::Index m, const nlohmann::json&) {
        return weightCopyBytes(n, m) + hessianBytes(m);
    };
    info.quantize = run;
    return info;
}

} // namespace bq::quant::methods
