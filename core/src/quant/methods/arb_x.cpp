// Registry entry of one method of the salient / alternating-refinement family (methods.md §3.4–3.7); the work
// is in binary_family.cpp.
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant::methods {

MethodInfo arbXMethod()
{
    using binary::Family;
    MethodInfo info;
    info.id = binary::familyId(Family::ArbX);
    info.title = "ARB-X: calibration-aware alternating refinement";
    info.description = "ARB-LLM_X (arXiv:2410.03129): ARB, then 15 iterations of mean/scale updates weighted by the block's input Gram (signs frozen); S-weighted break-point search; CGB by default. Full count about 3.25 bits per weight with CGB, 2.88 without.";
    info.defaults = binary::familyDefaults(Family::ArbX);
    info.needsGram = true;
    info.needsTwoStreams = false;
    info.unsupportedReason = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyUnsupportedReason(Family::ArbX, n, m, options);
    };
    info.estimateBits = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyStorageBits(Family::ArbX, n, m, binary::kExpectedSalientFraction * double(m),
                                         binary::familyUsesCgb(Family::ArbX, options));
    };
    info.quantize = [](const QuantizeRequest& request, MethodDiagnostics& diagnostics) {
        return binary::quantizeBinaryFamily(Family::ArbX, request, diagnostics);
    };
    return info;
}

} // namespace bq::quant::methods
