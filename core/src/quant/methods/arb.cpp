// methods.md §3.5 `arb` (ARB-LLM, arXiv:2410.03129): every zone fitted by the alternating refinement of mean,
// scales and signs (fitArb), with the column-group bitmap by default. The partition, compensation and storage are
// the family's (binary_family.cpp).
#include "bq/quant/methods/binary_family.h"
#include "method_factories.h"

namespace bq::quant {

namespace binary {

namespace {

class ArbRun final : public MemberRun {
public:
    explicit ArbRun(int iterations) : m_iterations(iterations) {}
    ZoneParams fitZone(const BlockStep& block, int z, int order, std::vector<double>* trace,
                       std::vector<MatrixXdR>* values) const override
    {
        return fitArb(block.X, block.partition.zone, z, order, m_iterations, trace, values);
    }

private:
    int m_iterations;
};

std::vector<OptionSpec> schema()
{
    std::vector<OptionSpec> options = familyOptions(true);
    options.push_back(intOption("iterations", 15, 0, 1000, "Alternating refinements of mean, scales and signs"));
    return options;
}

} // namespace

const FamilyMember& arbMember()
{
    static const FamilyMember member{
        .id = "arb",
        .options = schema(),
        .rowMeans = true,
        .start = [](const nlohmann::json& options) -> std::unique_ptr<MemberRun> {
            return std::make_unique<ArbRun>(options.at("iterations").get<int>());
        },
        .words = {.name = "ARB",
                  .fit = "BRAQ (per row, the mean and the mean |·| of what is left, one sign plane per order)",
                  .iteration = "Re-fitted every zone's row means and scales to its signs, then re-picked the signs",
                  .objectiveName = "‖W_b − Ŵ_b‖²_F"}};
    return member;
}

} // namespace binary

MethodInfo methods::arbMethod()
{
    MethodInfo info = binary::familyMethod(binary::arbMember());
    info.title = "ARB: alternating refined binarization (mean, scale, signs)";
    info.description = "ARB-LLM (arXiv:2410.03129) first/second-order alternating refinement of mean, scale and signs (15 iterations) on the BiLLM partition, with the column-group bitmap (CGB) by default; block-joint OBC. Full count about 3.25 bits per weight with CGB, 2.88 without.";
    return info;
}

} // namespace bq::quant
