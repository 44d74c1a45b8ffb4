// The method registry: every method of methods.md in the order of its §0 table (the menu order).
#include "bq/quant/methods/method.h"
#include "method_factories.h"
#include <stdexcept>

namespace bq::quant {

const std::vector<MethodInfo>& methodRegistry()
{
    static const std::vector<MethodInfo> registry = [] {
        using namespace methods;
        std::vector<MethodInfo> methods{signMethod(),  rtn1Method(),  residualMethod(),     billmMethod(),
                                        arbMethod(),   arbXMethod(),  arbRcMethod(),        svidMethod(),
                                        outputAlignMethod(), gptqMethod(), ternaryMethod(), q1_0Method()};
        for (MethodInfo& m : methods)
            m.defaults = optionDefaults(m.options);
        return methods;
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
    return mergeOptions(method.id, method.options, overrides);
}

} // namespace bq::quant
