// methods.md §3.1 `sign`: Ŵ_ij = α_{i,g(j)} · sgn(W_ij), α = fp16(mean |w|) over the row or group (XNOR/BWN).
// For a fixed sign pattern, mean |w| is the least-squares scale; the sign of zero is +1.
#include "method_factories.h"
#include "method_memory.h"
#include "option_reader.h"
#include "step_recorder.h"
#include "bq/util/fp16.h"
#include <cmath>

namespace bq::quant::methods {

namespace {

const char* kId = "sign";

const std::vector<OptionSpec>& schema()
{
    static const std::vector<OptionSpec> options{
        groupOption("row", "Columns per scale: \"row\" (one scale per row, NanoQuant's XNOR baseline) or a count")};
    return options;
}

int readGroup(const nlohmann::json& options) { return OptionReader(kId, schema(), options).group("group"); }

double bits(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    return 1.0 + 16.0 * double(groupsPerRow(m, readGroup(options))) / double(m);
}

// One int8 sign per weight and a float scale per group.
double residentPerWeight(Eigen::Index, Eigen::Index m, const nlohmann::json& options)
{
    return 1.0 + 4.0 * double(groupsPerRow(m, readGroup(options))) / double(m);
}

// The lab's two steps: the sign pattern at scale 1, then the scales that make it a least-squares fit.
void recordSteps(StepRecorder& steps, const MatrixXfR& W, const QuantizedLinear& q, int group)
{
    const MatrixXfR B = q.planes[0].signs.cast<float>();
    const MatrixXfR What = q.dequantize();
    const double signError = squaredDistance(W, B), error = squaredDistance(W, What);
    const std::string where = group <= 0 ? "each row" : "each group of " + std::to_string(group) + " columns of a row";
    MethodStep signs{.title = "Signs",
                     .sentence = "Took the sign of every weight (+1 for zero), so Ŵ = sgn(W) at scale 1 for now.",
                     .objective = signError,
                     .objectiveName = kWeightErrorName,
                     .columnEnd = W.cols()};
    if (steps.wantsSnapshot())
        signs.snapshot = B;
    steps.add(std::move(signs));
    MethodStep scales{.title = "Scales",
                      .sentence = "Scaled the signs of " + where +
                                  " by fp16(mean |w|), the least-squares scale for those signs; the error " +
                                  changeText(signError, error) + ".",
                      .objective = error,
                      .objectiveName = kWeightErrorName,
                      .columnEnd = W.cols()};
    if (steps.wantsSnapshot())
        scales.snapshot = What;
    steps.add(std::move(scales));
}

QuantizedLinear run(const QuantizeRequest& request, MethodDiagnostics& diag)
{
    const MatrixXfR& W = requireWeight(request, kId);
    const int group = readGroup(request.options);
    const Eigen::Index n = W.rows(), m = W.cols(), G = groupsPerRow(m, group);
    const Eigen::Index width = group <= 0 ? m : group;

    QuantizedLinear q = emptyResult(request, kId);
    SignPlane p;
    p.group = group;
    p.signs.resize(n, m);
    p.rowScale.resize(n, G);
    for (Eigen::Index i = 0; i < n; ++i) {
        checkCancel(request);
        for (Eigen::Index g = 0; g < G; ++g) {
            const Eigen::Index b = g * width, e = std::min(m, b + width);
            double sum = 0;
            for (Eigen::Index j = b; j < e; ++j) {
                sum += std::fabs(W(i, j));
                p.signs(i, j) = W(i, j) >= 0.0f ? 1 : -1;
            }
            p.rowScale(i, g) = roundToHalf(float(sum / double(e - b)));
        }
    }
    q.planes.push_back(std::move(p));
    q.storageBitsPerWeight = bits(n, m, request.options);
    if (StepRecorder steps(request, diag); steps.active())
        recordSteps(steps, W, q, group);
    return q;
}

} // namespace

MethodInfo signMethod()
{
    MethodInfo info;
    info.id = kId;
    info.title = "sign × mean-abs scale (XNOR/BWN)";
    info.description = "Ŵ = α·sgn(W) with α = mean |w| per row or per group of g columns (XNOR-Net/BWN, "
                       "arXiv:1603.05279). No calibration. Stores 1 bit per weight + one fp16 scale per group: "
                       "1 + 16/g bits (per row ≈ 1.0, g = 128: 1.125).";
    info.options = schema();
    info.unsupportedReason = [](Eigen::Index, Eigen::Index, const nlohmann::json& o) {
        return optionProblem([&] { readGroup(o); });
    };
    info.estimateBits = bits;
    info.residentBytesPerWeight = residentPerWeight;
    info.workingBytes = [](Eigen::Index n, Eigen::Index m, const nlohmann::json&) { return weightCopyBytes(n, m); };
    info.quantize = run;
    return info;
}

} // namespace bq::quant::methods
