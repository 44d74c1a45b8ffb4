// The 1-bit (and baseline) quantization methods of docs/methods.md, behind one registry so the recipe, the
// pipeline, the estimator, the CLI and the studio list and call them uniformly.
#pragma once
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <functional>
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

// Method side results the analysis stores (masks, iteration losses); free-form, may be empty.
struct MethodDiagnostics {
    std::vector<std::uint8_t> salientColumns;      // m entries, 1 = salient (billm, arb*)
    std::vector<double> objectiveTrace;            // loss after each iteration, when the method iterates
    std::vector<std::string> notes;                // e.g. "Cholesky retried with 10× damping"
};

struct QuantizeRequest {
    const MatrixXfR* weight = nullptr; // n × m
    LayerStatistics stats;
    nlohmann::json options;            // already merged with the method's defaults
    std::string tensor;                // for messages and QuantizedLinear::tensor
    const CancelToken* cancel = nullptr;
};

struct MethodInfo {
    std::string id;          // "sign", "rtn1", "ternary", "residual", "billm", "arb", "arb-x", "arb-rc", "svid",
                             // "output-align", "gptq", "q1_0"
    std::string title;       // one line for menus
    std::string description; // tooltip: what it does, its paper, its storage
    nlohmann::json defaults; // every option with its paper default
    bool needsGram = false;  // needs LayerStatistics::gram
    bool needsTwoStreams = false; // needs gramFp and crossGram (output-align)
    // "" when the method applies to an n × m weight with these options, else the reason (e.g. q1_0: m % 128).
    std::function<std::string(Eigen::Index n, Eigen::Index m, const nlohmann::json& options)> unsupportedReason;
    // Full bits per weight the result will store (every bitmap, scale, mean), before running.
    std::function<double(Eigen::Index n, Eigen::Index m, const nlohmann::json& options)> estimateBits;
    // Runs the method. Throws bq::Cancelled when request.cancel is set, std::invalid_argument for bad options.
    std::function<QuantizedLinear(const QuantizeRequest&, MethodDiagnostics&)> quantize;
};

const std::vector<MethodInfo>& methodRegistry();
// Throws std::invalid_argument listing the known ids.
const MethodInfo& findMethod(std::string_view id);
// defaults merged with overrides; unknown option names throw std::invalid_argument naming method and option.
nlohmann::json mergeOptions(const MethodInfo& method, const nlohmann::json& overrides);

} // namespace bq::quant
