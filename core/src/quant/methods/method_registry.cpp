// The method registry: every method of methods.md in the order of its §0 table (the menu order).
#include "bq/quant/methods/method.h"
#include "method_factories.h"
#include <stdexcept>

namespace bq::quant {

const std::vector<MethodInfo>& methodRegistry()
{
    static const std::vector<MethodInfo> registry = [] {
        using namespace methods;
        return std::vector<MethodInfo>{signMethod(),  rtn1Method(),  residualMethod(),     billmMethod(),
                                       arbMethod(),   arbXMethod(),  arbRcMethod(),        svidMethod(),
                                       outputAlignMethod(), gptqMethod(), ternaryMethod(), q1_0Method()};
    }();
    return registry;
}

const MethodInfo& findMethod(std::string_view id)
{
    std::string known;
    for (const MethodInfo& m : methodRegistry()) {
        if (m.id == id) return m;
        known += (known.empty() ? "" : ", ") + m.id;
    }
    throw std::invalid_argument("unknown quantization method '" + std::string(id) + "' (known: " + known + ")");
}

nlohmann::json mergeOptions(const MethodInfo& method, const nlohmann::json& overrides)
{
    nlohmann::json merged = method.defaults.is_object() ? method.defaults : nlohmann::json::object();
    if (overrides.is_null()) return merged;
    if (!overrides.is_object())
        throw std::invalid_argument(method.id + ": options must be a JSON object, got " + overrides.dump());
    for (const auto& [key, value] : overrides.items()) {
        if (!merged.contains(key)) {
            std::string known;
            for (const auto& [k, unused] : merged.items()) known += (known.empty() ? "" : ", ") + k;
            throw std::invalid_argument(method.id + ": unknown option '" + key + "' (known: " +
                                        (known.empty() ? "none" : known) + ")");
        }
        merged[key] = value;
    }
    return merged;
}

} // namespace bq::quant
