// Recording a method's steps for the Layer lab (MethodDiagnostics::steps, QuantizeRequest::recordSteps): the
// snapshot budget and the words and measures the methods' step sentences share. A recorder only reads what the
// method computed; methods call it only when the request asks for steps, so results never depend on it.
#pragma once
#include "bq/quant/methods/method.h"
#include "bq/quant/obc/hessian.h"
#include <cstddef>
#include <string>

namespace bq::quant::methods {

// Objective names shared by several methods.
inline constexpr const char* kWeightErrorName = "‖W − Ŵ‖²_F";
inline constexpr const char* kHessianErrorName = "tr(ΔW H ΔWᵀ)";

class StepRecorder {
public:
    // Inactive unless request.recordSteps; snapshots are request.weight's shape.
    StepRecorder(const QuantizeRequest& request, MethodDiagnostics& diagnostics);

    bool active() const { return m_active; }
    // Whether one more snapshot fits kStepSnapshotBudget (build a snapshot only then).
    bool wantsSnapshot() const;
    // Appends the step (when active); a snapshot that does not fit the budget is dropped.
    void add(MethodStep step);

private:
    MethodDiagnostics& m_diagnostics;
    bool m_active;
    std::size_t m_snapshotBytes; // one n × m float snapshot
    std::size_t m_used = 0;
};

// The step of the methods that compensate errors through H (gptq, q1_0, the binary family): damping, dead columns
// and the factor U; W is the weight as prepareHessian left it (dead columns zeroed), `what` ends the sentence
// with what U is used for. No objective yet.
void recordHessianStep(StepRecorder& steps, const PreparedHessian& hessian, double percdamp, const MatrixXfR& W,
                       const std::string& what);

// For sentences: "fell 4.1 %", "rose 0.3 %", "did not change", "rose from 0 to 1.2e-3".
std::string changeText(double from, double to);
// A number as the sentences print it (4 significant digits).
std::string formatNumber(double value);
// ‖A − B‖²_F, summed in double.
double squaredDistance(const MatrixXfR& a, const MatrixXfR& b);
// tr((A − B) H (A − B)ᵀ), in double.
double hessianDistance(const MatrixXfR& a, const MatrixXfR& b, const Eigen::MatrixXd& H);

} // namespace bq::quant::methods
