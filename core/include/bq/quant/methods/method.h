// The 1-bit (and baseline) quantization methods of docs/methods.md, behind one registry so the recipe, the
// pipeline, the estimator, the CLI and the studio list and call them uniformly.
#pragma once
#include "bq/model/quantized_linear.h"
#include "bq/quant/methods/method_options.h"
#include <Eigen/Core>
#include <cstddef>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bq {
class CancelToken;
}

namespace bq::quant {

// Second-order statistics the pipeline collects for one linear layer (all m × m, float64, unscaled sums over
// calibration tokens; damping and scaling are the method's business). Null when not collected.
struct LayerStatistics {
    const Eigen::MatrixXd* gram = nullptr;      // H  = Σ x̂ x̂ᵀ, inputs from the quantized prefix
    const Eigen::MatrixXd* gramFp = nullptr;    // H_fp = Σ x xᵀ, inputs from the full-precision model
    const Eigen::MatrixXd* crossGram = nullptr; // C  = Σ x̂ xᵀ over the same token positions
    std::int64_t tokens = 0;
};

// One step of a method as the studio's Layer lab shows it (recorded only with QuantizeRequest::recordSteps).
// Recording observes: a result is bit-identical with and without it.
struct MethodStep {
    std::string title{};       // e.g. "Block 1 · ARB-RC iteration 3"
    std::string sentence{};    // one plain sentence of what the step did, e.g. "re-fitted …; the objective fell 4.1 %"
    double objective = std::numeric_limits<double>::quiet_NaN(); // what the method minimizes, after the step;
                                                                  // NaN when the step has none
    std::string objectiveName{}; // what `objective` is, e.g. "‖W − Ŵ‖²_F", "tr(ΔW H ΔWᵀ)"; "" with a NaN objective
    Eigen::Index columnBegin = 0, columnEnd = 0; // the columns the step worked on ([0, m) for the whole matrix)
    int iteration = -1;        // within its columns: 0 = the initial fit, t = after t iterations (q1_0: scale
                               // refits); −1 for other steps. Where the method promises it (arb, arb-x, arb-rc,
                               // output-align), objectives never increase with t.
    // The n × m matrix after the step: Ŵ where the columns are quantized; columns not quantized yet hold the
    // weights as the method is about to quantize them (compensated, or the corrected target). Empty once the
    // snapshots of the earlier steps fill kStepSnapshotBudget.
    MatrixXfR snapshot{};
};

// The snapshots of one recording never hold more than this many bytes in all (a 4096 × 4096 layer: one).
inline constexpr std::size_t kStepSnapshotBudget = std::size_t(64) << 20;

// Method side results the analysis stores (masks, iteration losses); free-form, may be empty.
struct MethodDiagnostics {
    std::vector<std::uint8_t> salientColumns;      // m entries, 1 = salient (billm, arb*)
    std::vector<double> objectiveTrace;            // loss after each iteration, when the method iterates
    std::vector<std::string> notes;                // e.g. "Cholesky retried with 10× damping"
    // With QuantizeRequest::recordSteps: the method's steps in order (sign, residual, gptq, q1_0 and the binary
    // family: billm, arb, arb-x, arb-rc, output-align; the other methods record none).
    std::vector<MethodStep> steps;
};

struct QuantizeRequest {
    const MatrixXfR* weight = nullptr; // n × m
    LayerStatistics stats;
    nlohmann::json options;            // already merged with the method's defaults
    std::string tensor;                // for messages and QuantizedLinear::tensor
    const CancelToken* cancel = nullptr;
    bool recordSteps = false;          // fill MethodDiagnostics::steps (the Layer lab); changes no result
};

// A hook over the shape of the weight (n × m) and the method's merged options.
template <class T>
using ShapeHook = std::function<T(Eigen::Index n, Eigen::Index m, const nlohmann::json& options)>;

// Everything the recipe, the pipeline, the estimator, the CLI and the studio know about a method; each method's
// file fills its own (method_factories.h), so adding a method is one file and one registry line.
struct MethodInfo {
    std::string id;          // "sign", "rtn1", "ternary", "residual", "billm", "arb", "arb-x", "arb-rc", "svid",
                             // "output-align", "gptq", "q1_0"
    std::string title;       // one line for menus
    std::string description; // tooltip: what it does, its paper, its storage
    std::vector<OptionSpec> options; // the option schema, in the order an editor shows them
    nlohmann::json defaults;         // optionDefaults(options), filled by the registry
    bool needsGram = false;  // needs LayerStatistics::gram
    bool needsTwoStreams = false; // needs gramFp and crossGram (output-align)
    // "" when the method applies to an n × m weight with these options, else the reason (e.g. q1_0: m % 128).
    ShapeHook<std::string> unsupportedReason;
    // Full bits per weight the result will store (every bitmap, scale, mean), before running.
    ShapeHook<double> estimateBits;
    // In-memory bytes per weight of the QuantizedLinear the method returns (QuantizedLinear::residentBytes() /
    // (n · m)): every int8 sign matrix, uint8 mask and float scale it holds. Per weight, so the estimator's
    // products keep their rounding (its figures are printed to the last digit).
    ShapeHook<double> residentBytesPerWeight;
    // Peak working memory of the method itself while it quantizes one n × m weight, bytes: its copy of W, the
    // Hessian factors, its own buffers. The pipeline's buffers around the job (W, Ŵ, the result, the analysis)
    // are the estimator's (recipe.h layerWorkingBytes).
    ShapeHook<double> workingBytes;
    // Runs the method. Throws bq::Cancelled when request.cancel is set, std::invalid_argument for bad options.
    std::function<QuantizedLinear(const QuantizeRequest&, MethodDiagnostics&)> quantize;
};

const std::vector<MethodInfo>& methodRegistry();
// Throws std::invalid_argument listing the known ids.
const MethodInfo& findMethod(std::string_view id);
// The method's defaults with overrides merged over them, checked against its schema (method_options.h); unknown
// names, wrong types and out-of-range values throw std::invalid_argument naming method, option and range.
nlohmann::json mergeOptions(const MethodInfo& method, const nlohmann::json& overrides);

} // namespace bq::quant
