// Registry entry of one method of the salient / alternating-refinement family (methods.md §3.4–3.7); the work
// is in binary_family.cpp.
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant::methods {

MethodInfo billmMethod()
{
    using binary::Family;
    MethodInfo info;
    info.id = binary::familyId(Family::Billm);
    info.title = "BiLLM: salient columns (2 planes) + bell-shaped split, block OBC";
    info.description = "BiLLM (arXiv:2402.04291): per 128-column block, Hessian-salient columns binarized with two residual sign planes, the rest split at a searched break point into two groups with their own scale and mean; block-joint OBC compensation. Headline 1.07-1.13 bits, full count about 2.9 bits per weight (bitmaps, 7 fp16 values per row per block).";
    info.defaults = binary::familyDefaults(Family::Billm);
    info.needsGram = true;
    info.needsTwoStreams = false;
    info.unsupportedReason = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyUnsupportedReason(Family::Billm, n, m, options);
    };
    info.estimateBits = [](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        return binary::familyStorageBits(Family::Billm, n, m, binary::kExpectedSalientFraction * double(m),
                                         binary::familyUsesCgb(Family::Billm, options));
    };
    info.quantize = [](const QuantizeRequest& request, MethodDiagnostics& diagnostics) {
        return binary::quantizeBinaryFamily(Family::Billm, request, diagnostics);
    };
    return info;
}

} // namespace bq::quant::methods
