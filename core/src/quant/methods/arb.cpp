// Registry entry of one method of the salient / alternating-refinement family (methods.md §3.4–3.7); the work
// is in binary_family.cpp.
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant::methods {

MethodInfo arbMethod()
{
    using binary::Family;
    MethodInfo info;
    info.id = binary::familyId(Family::Arb);
    info.title = "ARB: alternating refined binarization (mean, scale, signs)";
    info.description = "ARB-LLM (arXiv:2410.03129) first/second-order alternating refinement of mean, scale and signs (15 iterations) on the BiLLM partition, with the column-group bitmap (CGB) by default; block-joint OBC. Full count about 3.25 bits per weight with CGB, 2.88 without.";
    info.defaults = binary::familyDefaults(Family::Arb);
    info.needsGram = true;
    info.needsTwoStreams = false;
    info.unsupportedReason = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyUnsupportedReason(Family::Arb, n, m, options);
    };
    info.estimateBits = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyStorageBits(Family::Arb, n, m, binary::kExpectedSalientFraction * double(m),
                                         binary::familyUsesCgb(Family::Arb, options));
    };
    info.quantize = [](const QuantizeRequest& request, MethodDiagnostics& diagnostics) {
        return binary::quantizeBinaryFamily(Family::Arb, request, diagnostics);
    };
    return info;
}

} // namespace bq::quant::methods
