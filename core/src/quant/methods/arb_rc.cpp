// methods.md §3.5 `arb-rc` (ARB-LLM_RC, arXiv:2410.03129): every zone is diag(a) B diag(c) without a mean, fitted
// by alternating row and column scale updates (fitArbRc). Partition, compensation and storage are the family's.
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant {

namespace binary {

namespace {

class ArbRcRun final : public MemberRun {
public:
    explicit ArbRcRun(int iterations) : m_iterations(iterations) {}
    ZoneParams fitZone(const BlockStep& block, int z, int order, std::vector<double>* trace,
                       std::vector<MatrixXdR>* values) const override
    {
        return fitArbRc(block.X, block.partition.zone, z, order, m_iterations, trace, values);
    }

private:
    int m_iterations;
};

std::vector<OptionSpec> schema()
{
    std::vector<OptionSpec> options = familyOptions(true);
    options.push_back(intOption("iterations", 15, 0, 1000, "Alternating row / column scale (and sign) updates"));
    return options;
}

} // namespace

const FamilyMember& arbRcMember()
{
    static const FamilyMember member{
        .id = "arb-rc",
        .options = schema(),
        .columnScales = true,
        .start = [](const nlohmann::json& options) -> std::unique_ptr<MemberRun> {
            return std::make_unique<ArbRcRun>(options.at("iterations").get<int>());
        },
        .words = {.name = "ARB-RC",
                  .fit = "row scale × signs × column scale (B = sgn(W), a = mean |w| per row, c from |w| / a per "
                         "column)",
                  .iteration = "Re-fitted every zone's row scales and column scales to its signs (and re-picked the "
                               "two sign planes of the salient zones)",
                  .objectiveName = "‖W_b − Ŵ_b‖²_F"}};
    return member;
}

} // namespace binary

MethodInfo methods::arbRcMethod()
{
    MethodInfo info = binary::familyMethod(binary::arbRcMember());
    info.title = "ARB-RC: row x column scales + column-group bitmap";
    info.description = "ARB-LLM_RC (arXiv:2410.03129): each zone is diag(a) B diag(c) without a mean, alternating row/column scale updates (15 iterations), salient zones with two planes; CGB on by default; block-joint OBC. Full count about 2.76 bits per weight with CGB, 2.51 without.";
    return info;
}

} // namespace bq::quant
