#include "step_recorder.h"
#include <cmath>
#include <cstdio>
#include <string_view>

namespace bq::quant::methods {

StepRecorder::StepRecorder(const QuantizeRequest& request, MethodDiagnostics& diagnostics)
    : m_diagnostics(diagnostics), m_active(request.recordSteps),
      m_snapshotBytes(request.weight ? std::size_t(request.weight->size()) * sizeof(float) : 0)
{
    for (const MethodStep& step : diagnostics.steps)
        m_used += std::size_t(step.snapshot.size()) * sizeof(float);
}

bool StepRecorder::wantsSnapshot() const
{
    return m_active && m_snapshotBytes > 0 && m_used + m_snapshotBytes <= kStepSnapshotBudget;
}

void StepRecorder::add(MethodStep step)
{
    if (!m_active)
        return;
    const std::size_t bytes = std::size_t(step.snapshot.size()) * sizeof(float);
    if (m_used + bytes > kStepSnapshotBudget)
        step.snapshot.resize(0, 0);
    m_used += std::size_t(step.snapshot.size()) * sizeof(float);
    m_diagnostics.steps.push_back(std::move(step));
}

void recordHessianStep(StepRecorder& steps, const PreparedHessian& hessian, double percdamp, const MatrixXfR& W,
                       const std::string& what)
{
    std::size_t dead = 0;
    for (std::uint8_t d : hessian.dead)
        dead += d;
    std::string sentence = "Added λ = " + formatNumber(hessian.damping) + " (" + formatNumber(100.0 * percdamp) +
                           " % of the mean diagonal";
    if (hessian.retries > 0)
        sentence += ", raised 10× " + std::to_string(hessian.retries) + " time(s) for the Cholesky";
    sentence += ") to the diagonal of the calibration Gram H";
    if (dead > 0)
        sentence += ", zeroed the weights of " + std::to_string(dead) + " input column(s) no token ever used";
    sentence += " and factored H⁻¹ = UᵀU, " + what + ".";
    MethodStep step{.title = "Hessian", .sentence = std::move(sentence), .columnEnd = W.cols()};
    if (steps.wantsSnapshot())
        step.snapshot = W;
    steps.add(std::move(step));
}

std::string formatNumber(double value)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", value);
    return text;
}

std::string changeText(double from, double to)
{
    if (!std::isfinite(from) || !std::isfinite(to))
        return "is " + formatNumber(to);
    if (from == to)
        return "did not change";
    if (from == 0)
        return "rose from 0 to " + formatNumber(to);
    const double percent = std::fabs(100.0 * (to - from) / from);
    char digits[32];
    for (int precision = 3; precision <= 6; ++precision) { // "99.96", not a rounded "100", for a near-total fall
        std::snprintf(digits, sizeof digits, "%.*g", precision, percent);
        if (percent == 100.0 || std::string_view(digits) != "100")
            break;
    }
    return std::string(to < from ? "fell " : "rose ") + digits + " %";
}

double squaredDistance(const MatrixXfR& a, const MatrixXfR& b)
{
    return (a.cast<double>() - b.cast<double>()).squaredNorm();
}

double hessianDistance(const MatrixXfR& a, const MatrixXfR& b, const Eigen::MatrixXd& H)
{
    const Eigen::MatrixXd D = a.cast<double>() - b.cast<double>();
    return (D * H).cwiseProduct(D).sum();
}

} // namespace bq::quant::methods
