// Typed access to a method's options (shared by every method file): the constructor merges them over the schema's
// defaults and validates them (mergeOptions: unknown names, wrong types and out-of-range values throw
// std::invalid_argument naming the method, the option and what is allowed), so the getters only convert.
#pragma once
#include "bq/quant/methods/method.h"
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string>

namespace bq::quant::methods {

class OptionReader {
public:
    // options may be null or partial; missing names take the schema's defaults.
    OptionReader(std::string method, const std::vector<OptionSpec>& schema, const nlohmann::json& options);

    int integer(const char* name) const;
    double number(const char* name) const;
    bool flag(const char* name) const;
    std::string choice(const char* name) const;
    // Scale-group width of an Int option with words: "row" → 0 (one group per row), "tensor" → -1, else the
    // positive column count.
    int group(const char* name) const;
    // Every option, merged and validated.
    const nlohmann::json& options() const { return m_merged; }

    // Throws std::invalid_argument for a value the schema allows but the method does not (e.g. gptq act_order).
    [[noreturn]] void fail(const char* name, const std::string& expected) const;

private:
    const nlohmann::json& value(const char* name) const;
    std::string m_method;
    nlohmann::json m_merged;
};

// A scale-group option: "row" (one group per row), with allowTensor also "tensor" (one scale for the whole
// tensor), or a column count up to 2^24.
OptionSpec groupOption(nlohmann::json defaultValue, std::string help, bool allowTensor = false);

// The weight of a request, checked non-empty (throws std::invalid_argument naming the tensor).
const MatrixXfR& requireWeight(const QuantizeRequest& request, const char* method);
// The Gram of a request, checked m × m (throws std::invalid_argument naming the tensor and method).
const Eigen::MatrixXd& requireGram(const QuantizeRequest& request, const char* method);
void checkCancel(const QuantizeRequest& request);
QuantizedLinear emptyResult(const QuantizeRequest& request, const char* method);
// Scale groups per row for a group option (0 or ≥ m: one).
inline Eigen::Index groupsPerRow(Eigen::Index m, int group) { return group <= 0 ? 1 : (m + group - 1) / group; }

} // namespace bq::quant::methods

namespace bq::quant::methods {
// "" when check() runs through, else the message of the std::invalid_argument it throws (for unsupportedReason).
template <class Check>
std::string optionProblem(Check&& check)
{
    try {
        check();
        return {};
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
}
} // namespace bq::quant::methods
