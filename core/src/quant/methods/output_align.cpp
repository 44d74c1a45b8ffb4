// methods.md §3.7 `output-align` (arXiv:2512.21651) on the arb-rc format: the blocks are fitted to the corrected
// target W̃ = W Cᵀ (Ĥ + ρI)⁻¹ under Ĥ, each zone started from an arb-rc fit, then the zones of a block aligned
// jointly (alignBlockOutput, output_align_fit.cpp) with the AMP gradient kept current across blocks. Partition,
// compensation and storage are the family's (binary_family.cpp).
#include "bq/quant/methods/binary_family.h"
#include "bq/quant/dense/dense_kernels.h"
#include "method_factories.h"
#include "method_memory.h"
#include <algorithm>
#include <stdexcept>

namespace bq::quant {

namespace binary {

namespace {

const char* kId = "output-align";

class OutputAlignRun final : public MemberRun {
public:
    explicit OutputAlignRun(const nlohmann::json& options)
        : m_iterations(options.at("iterations").get<int>()),
          m_initIterations(options.at("init_iterations").get<int>()),
          m_modK(options.at("mod_k").get<int>()),
          m_gate(parseAmpGate(options.at("amp_gate").get<std::string>(), kId)),
          m_ridge(options.at("ridge").get<double>()),
          m_metric(parseBlockMetric(options.at("block_metric").get<std::string>(), kId))
    {
        if (options.at("scope") == "matrix")
            throw std::invalid_argument(std::string(kId) + ": option 'scope' = \"matrix\" is not implemented (it needs "
                                                           "an m × m b-system per iteration); use \"block\"");
    }

    std::optional<BlockMetric> blockMetric() const override { return m_metric; }

    // The corrected target W̃ = W Cᵀ (Ĥ + ρI)⁻¹ (§3.7.2), and the AMP product Ŵ_cur Gᵀ with G = W Cᵀ: blocks
    // done hold Q there, later blocks the uncompensated W̃.
    void prepare(const QuantizeRequest& request, const Eigen::MatrixXd& gram, MatrixXfR& W) override
    {
        const Eigen::Index n = W.rows(), m = W.cols();
        if (!request.stats.crossGram || request.stats.crossGram->rows() != m || request.stats.crossGram->cols() != m)
            throw std::invalid_argument(request.tensor + ": output-align needs the cross-Gram C (m × m) of the two "
                                                         "activation streams");
        m_G = dense::multiplyABt(W.cast<double>(), *request.stats.crossGram);
        Eigen::MatrixXd reg = gram;
        reg.diagonal().array() += m_ridge * std::max(1e-300, gram.diagonal().mean());
        if (!dense::choleskyLower(m, reg.data(), m))
            throw std::runtime_error(request.tensor + ": output-align: Ĥ + ρI is not positive definite");
        Eigen::MatrixXd Gt = m_G.transpose();
        dense::choleskySolve(m, reg.data(), m, n, Gt.data(), m); // (Ĥ + ρI)⁻¹ Gᵀ
        W = Gt.transpose().cast<float>();
        m_Wtilde = W;
        if (m_gate != AmpGate::Off) m_Zamp = dense::multiplyABt(m_Wtilde.cast<double>(), m_G);
    }

    ZoneParams fitZone(const BlockStep& block, int z, int order, std::vector<double>*,
                       std::vector<MatrixXdR>*) const override
    {
        return fitArbRc(block.X, block.partition.zone, z, order, m_initIterations, nullptr);
    }

    // tr((Ŵ_b − T) M (Ŵ_b − T)ᵀ), T the block of the corrected target (alignBlockOutput's objective).
    double blockObjective(const BlockStep& block, const MatrixXdR& What) const override
    {
        const MatrixXdR D = What - block.X;
        return (D * block.view.metric).cwiseProduct(D).sum();
    }

    void refineBlock(const BlockStep& block, std::array<ZoneParams, kZones>& zones, std::vector<double>& trace,
                     std::vector<MatrixXdR>* values) override
    {
        const Eigen::Index s = block.view.begin, w = block.view.end - block.view.begin;
        OutputAlignBlock blk;
        blk.target = &block.X;
        blk.metric = &block.view.metric;
        blk.zone = &block.partition.zone;
        blk.iterations = m_iterations;
        blk.modK = m_modK;
        blk.ridge = 1e-9;
        blk.gate = m_gate;
        Eigen::MatrixXd ZG, GtG;
        MatrixXdR W0b;
        if (m_gate != AmpGate::Off) {
            const auto Gb = m_G.middleCols(s, w);
            ZG = dense::multiply(m_Zamp, Gb);
            GtG = dense::multiplyAtB(Gb, Gb);
            W0b = m_Wtilde.middleCols(s, w).cast<double>();
            blk.ampGradient = [&](const MatrixXdR& What) -> MatrixXdR { return 2.0 * (ZG + (What - W0b) * GtG); };
        }
        alignBlockOutput(blk, zones, &trace, values);
    }

    void blockDone(const BlockStep& block, const MatrixXfR& Q) override
    {
        if (!m_Zamp.size()) return;
        const Eigen::Index n = Q.rows(), s = block.view.begin, w = Q.cols();
        const Eigen::MatrixXd dQ = Q.cast<double>() - m_Wtilde.middleCols(s, w).cast<double>();
        dense::gemm(false, true, n, n, w, 1.0, dQ.data(), n, m_G.data() + s * n, n, 1.0, m_Zamp.data(), n);
    }

private:
    int m_iterations, m_initIterations, m_modK;
    AmpGate m_gate;
    double m_ridge;
    BlockMetric m_metric;
    Eigen::MatrixXd m_G;    // W Cᵀ (n × m), for the AMP gradient
    Eigen::MatrixXd m_Zamp; // Ŵ_cur Gᵀ (n × n); empty when the gate is off
    MatrixXfR m_Wtilde;
};

std::vector<OptionSpec> schema()
{
    std::vector<OptionSpec> options = familyOptions(true);
    options.push_back(intOption("iterations", 15, 0, 1000, "Output-alignment iterations per block"));
    options.push_back(intOption("init_iterations", 15, 0, 1000, "arb-rc iterations of the initial zone fits"));
    options.push_back(intOption("mod_k", 5, 1, 1000, "Row-scale update every mod_k iterations"));
    options.push_back(choiceOption("amp_gate", "literal", {"literal", "directional", "off"},
                                   "Gate on the attention-matrix-preservation gradient: literal (the paper), "
                                   "directional, off"));
    options.push_back(choiceOption("scope", "block", {"block", "matrix"},
                                   "Scope of the column-scale system: block (matrix is not implemented)"));
    options.push_back(choiceOption("block_metric", "raw", {"raw", "schur"},
                                   "Block metric: Ĥ of the block (raw) or its Schur complement"));
    options.push_back(
        floatOption("ridge", 0.01, 0, 10, "ρ of the corrected target, as a fraction of Ĥ's mean diagonal"));
    return options;
}

} // namespace

const FamilyMember& outputAlignMember()
{
    static const FamilyMember member{
        .id = kId,
        .options = schema(),
        .columnScales = true,
        .start = [](const nlohmann::json& options) -> std::unique_ptr<MemberRun> {
            return std::make_unique<OutputAlignRun>(options);
        },
        .words = {.name = "output-align",
                  .prepare = "replaced W by the corrected target W̃ = W Cᵀ(Ĥ + ρI)⁻¹ (fitting W̃ under Ĥ fits the "
                             "full-precision output from the quantized-stream inputs)",
                  .fit = "ARB-RC on the corrected target",
                  .iteration = "Updated the row scales (every mod_k-th iteration), swept the signs and re-solved the "
                               "column scales of every zone toward the output target, each move gated by the "
                               "attention-matrix-preservation gradient",
                  .objectiveName = "tr((Ŵ_b − W̃_b) M (Ŵ_b − W̃_b)ᵀ)"}};
    return member;
}

} // namespace binary

MethodInfo methods::outputAlignMethod()
{
    MethodInfo info = binary::familyMethod(binary::outputAlignMember());
    info.title = "Output alignment (arXiv:2512.21651) on the ARB-RC format";
    info.description = "arXiv:2512.21651: fits the ARB-RC format to the full-precision output X W from the quantized-stream input (corrected target W Cᵀ (Ĥ+ρI)⁻¹), alternating row scale / signs / column scale updates gated by the attention-matrix-preservation gradient; meant for the MLP down-projection (arb-rc elsewhere). Needs both activation streams. Storage as arb-rc.";
    info.needsTwoStreams = true;
    // + G = W Cᵀ and the target W̃ (float64 / float32, n × m) and the AMP product W̃ Gᵀ (float64, n × n)
    info.workingBytes = [family = info.workingBytes](Eigen::Index n, Eigen::Index m, const nlohmann::json& options) {
        const double nd = double(n), md = double(m);
        return family(n, m, options) + (8.0 * nd * md + 8.0 * nd * nd + 4.0 * nd * md);
    };
    return info;
}

} // namespace bq::quant
