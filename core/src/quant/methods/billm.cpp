// methods.md §3.4 `billm` (BiLLM, arXiv:2402.04291): every zone binarized by BRAQ (residual binarization with a
// mean per order), no iterations and no column-group bitmap. The partition, compensation and storage are the
// family's (binary_family.cpp).
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant {

namespace binary {

namespace {

class BillmRun final : public MemberRun {
public:
    ZoneParams fitZone(const BlockStep& block, int z, int order, std::vector<double>*,
                       std::vector<MatrixXdR>*) const override
    {
        return fitBraq(block.X, block.partition.zone, z, order);
    }
};

} // namespace

const FamilyMember& billmMember()
{
    static const FamilyMember member{
        .id = "billm",
        .options = familyOptions(false),
        .rowMeans = true,
        .start = [](const nlohmann::json&) -> std::unique_ptr<MemberRun> { return std::make_unique<BillmRun>(); },
        .words = {.name = "BiLLM",
                  .fit = "BRAQ (per row, the mean and the mean |·| of what is left, one sign plane per order)",
                  .objectiveName = "‖W_b − Ŵ_b‖²_F"}};
    return member;
}

} // namespace binary

MethodInfo methods::billmMethod()
{
    MethodInfo info = binary::familyMethod(binary::billmMember());
    info.title = "BiLLM: salient columns (2 planes) + bell-shaped split, block OBC";
    info.description = "BiLLM (arXiv:2402.04291): per 128-column block, Hessian-salient columns binarized with two residual sign planes, the rest split at a searched break point into two groups with their own scale and mean; block-joint OBC compensation. Headline 1.07-1.13 bits, full count about 2.9 bits per weight (bitmaps, 7 fp16 values per row per block).";
    return info;
}

} // namespace bq::quant
