// Typed, validated access to a method's options (shared by the methods of methods.md §3.1–3.3, 3.6, 3.8–3.10):
// unknown names and out-of-range values throw std::invalid_argument naming the method and the option.
#pragma once
#include "bq/quant/methods/method.h"
#include <initializer_list>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string>

namespace bq::quant::methods {

class OptionReader {
public:
    // options may be null or partial; missing names take the defaults.
    OptionReader(std::string method, const nlohmann::json& defaults, const nlohmann::json& options);

    int integer(const char* name, int lo, int hi) const;
    double number(const char* name, double lo, double hi) const;
    bool flag(const char* name) const;
    std::string choice(const char* name, std::initializer_list<const char*> allowed) const;
    // Scale-group width: "row" → 0 (one group per row), a positive column count, or (allowTensor) "tensor" → -1.
    int group(const char* name, bool allowTensor = false) const;

    [[noreturn]] void fail(const char* name, const std::string& expected) const;

private:
    const nlohmann::json& value(const char* name) const;
    std::string m_method;
    nlohmann::json m_merged;
};

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
