// Registry entry of one method of the salient / alternating-refinement family (methods.md §3.4–3.7); the work
// is in binary_family.cpp.
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant::methods {

MethodInfo arbRcMethod()
{
    using binary::Family;
    MethodInfo info;
    info.id = binary::familyId(Family::ArbRc);
    info.title = "ARB-RC: row x column scales + column-group bitmap";
    info.description = "ARB-LLM_RC (arXiv:2410.03129): each zone is diag(a) B diag(c) without a mean, alternating row/column scale updates (15 iterations), salient zones with two planes; CGB on by default; block-joint OBC. Full count about 2.76 bits per weight with CGB, 2.51 without.";
    info.defaults = binary::familyDefaults(Family::ArbRc);
    info.needsGram = true;
    info.needsTwoStreams = false;
    info.unsupportedReason = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyUnsupportedReason(Family::ArbRc, n, m, options);
    };
    info.estimateBits = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyStorageBits(Family::ArbRc, n, m, binary::kExpectedSalientFraction * double(m),
                                         binary::familyUsesCgb(Family::ArbRc, options));
    };
    info.quantize = [](const QuantizeRequest& request, MethodDiagnostics& diagnostics) {
        return binary::quantizeBinaryFamily(Family::ArbRc, request, diagnostics);
    };
    return info;
}

} // namespace bq::quant::methods
