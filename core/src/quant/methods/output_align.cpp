// Registry entry of one method of the salient / alternating-refinement family (methods.md §3.4–3.7); the work
// is in binary_family.cpp.
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant::methods {

MethodInfo outputAlignMethod()
{
    using binary::Family;
    MethodInfo info;
    info.id = binary::familyId(Family::OutputAlign);
    info.title = "Output alignment (arXiv:2512.21651) on the ARB-RC format";
    info.description = "arXiv:2512.21651: fits the ARB-RC format to the full-precision output X W from the quantized-stream input (corrected target W Cᵀ (Ĥ+ρI)⁻¹), alternating row scale / signs / column scale updates gated by the attention-matrix-preservation gradient; meant for the MLP down-projection (arb-rc elsewhere). Needs both activation streams. Storage as arb-rc.";
    info.defaults = binary::familyDefaults(Family::OutputAlign);
    info.needsGram = true;
    info.needsTwoStreams = true;
    info.unsupportedReason = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyUnsupportedReason(Family::OutputAlign, n, m, options);
    };
    info.estimateBits = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyStorageBits(Family::OutputAlign, n, m, binary::kExpectedSalientFraction * double(m),
                                         binary::familyUsesCgb(Family::OutputAlign, options));
    };
    info.quantize = [](const QuantizeRequest& request, MethodDiagnostics& diagnostics) {
        return binary::quantizeBinaryFamily(Family::OutputAlign, request, diagnostics);
    };
    return info;
}

} // namespace bq::quant::methods
