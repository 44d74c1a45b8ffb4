// The salient / alternating-refinement family of methods.md §3.4, §3.5, §3.7 (billm, arb, arb-x, arb-rc,
// output-align): one partition of each 128-column block into zones, one binarizer per zone, block-joint
// compensation (§1.4). The shared driver (binary_family.cpp) runs the partition, the compensation and the
// storage; each method's file (billm.cpp, arb.cpp, …) defines its FamilyMember: its options, what its result
// stores and its own steps (the zone fit, output-align's target and alignment). The lower-level pieces are public
// so tests can check them against brute force.
#pragma once
#include "bq/quant/methods/method.h"
#include "bq/quant/obc/block_compensation.h"
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace bq::quant::binary {

using MatrixXdR = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Zones of one block. Without CGB the salient columns form one zone (SalientSparse); with CGB (ARB-LLM's
// column-group bitmap) they are split like the rest. Salient zones are binarized with two sign planes.
enum Zone : std::uint8_t { SalientSparse = 0, SalientDense = 1, Sparse = 2, Dense = 3 };
constexpr int kZones = 4;
inline bool isSalientZone(int z) { return z < 2; }

struct BlockPartition {
    std::vector<std::uint8_t> salient; // w entries, 1 = salient column
    MatrixXu8R zone;                   // n × w zone labels
    int salientCount = 0;
};

struct PartitionOptions {
    bool hessianSalience = true;   // S = W² / U_jj² (paper); false: S = |W| ("magnitude", ARB-LLM code default)
    bool searchOnSalience = true;  // search_domain = salience (code) | weight
    int salientLimit = 50;         // up_lim: candidates r = 1 .. limit − 1
    bool cgb = false;              // split the salient columns too
    const Eigen::MatrixXd* splitMetric = nullptr; // arb-x: S-weighted error Σ (RᵀR ⊙ S) for the non-salient split
};
// methods.md §3.4 steps 1–4 on one block (Wb n × w, compensated). Deterministic (ties broken by column index).
BlockPartition searchPartition(const MatrixXfR& Wb, const Eigen::VectorXd& diagU, const PartitionOptions& options);

// Parameters of one zone: value = Σ_o alpha[o]_i · col[o]_j · sign[o]_ij + mean_i on the zone's entries.
struct ZoneParams {
    int order = 1;
    std::array<Eigen::VectorXd, 2> alpha;  // n each (row scales; arb-rc: a)
    Eigen::VectorXd mean;                  // n, or empty (no mean)
    std::array<Eigen::VectorXd, 2> col;    // w each (arb-rc column scales), or empty (= 1)
    std::array<MatrixXi8R, 2> sign;        // n × w; +1 outside the zone
};

// The zone's value (0 outside the zone), n × w.
MatrixXdR zoneValue(const ZoneParams& p, const MatrixXu8R& zone, int z);

// BiLLM's BRAQ (high_order_residual): order 1 or 2, mean per order (the means are summed into `mean`).
ZoneParams fitBraq(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order);
// The fits below that iterate take two optional records, null when not wanted: `trace` receives the losses
// after init and after each iteration (T + 1 entries), `values` the zone's values at the same moments (T + 1
// n × w matrices, 0 outside the zone; the Layer lab's step snapshots). Neither changes the fit.
// ARB (§3.5): BRAQ init, then T iterations μ → α (→ α₂) → B. trace: the zone's Σ squared error (over rows).
ZoneParams fitArb(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order, int iterations,
                  std::vector<double>* trace, std::vector<MatrixXdR>* values = nullptr);
// ARB-X (§3.5): T iterations of the S-weighted μ, α (α₁, α₂) updates with B frozen; per row the objective is
// r_J S_JJ r_Jᵀ over the row's zone entries J. trace: Σ over rows.
void refineArbX(const MatrixXdR& X, const MatrixXu8R& zone, int z, const Eigen::MatrixXd& S, int iterations,
                ZoneParams& p, std::vector<double>* trace, std::vector<MatrixXdR>* values = nullptr);
// ARB-RC (§3.5): diag(a) B diag(c), no mean; order 2 alternates the two stages and re-picks (B₁, B₂).
// trace: Σ squared error on the zone. Scales end ≥ 0 (signs moved into B).
ZoneParams fitArbRc(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order, int iterations,
                    std::vector<double>* trace, std::vector<MatrixXdR>* values = nullptr);

// Output alignment (§3.7.2/3.7.3) on one block: minimizes tr((Ŵ_b − T) M (Ŵ_b − T)ᵀ) jointly over the
// zones' (a, B, b) starting from `zones` (arb-rc fits), T iterations: a-update when t % modK == 0, one cyclic
// B sweep, b-update; each coordinate gated by the AMP gradient Γ (n × w, ∂L_AMP/∂Ŵ_b at the iteration's start,
// computed by `ampGradient`; may be empty when gate = Off). trace gets T + 1 entries of the block objective,
// values (if given) the block's Ŵ_b (n × w) at the same moments.
enum class AmpGate { Literal, Directional, Off };
AmpGate parseAmpGate(const std::string& value, const std::string& method);
struct OutputAlignBlock {
    const MatrixXdR* target = nullptr;      // T (n × w)
    const Eigen::MatrixXd* metric = nullptr; // M (w × w), PSD
    const MatrixXu8R* zone = nullptr;
    int iterations = 15, modK = 5;
    double ridge = 0;                       // ρ added to the b-system's diagonal
    AmpGate gate = AmpGate::Literal;
    // Γ for the current Ŵ_b (n × w); called once per iteration when gate != Off.
    std::function<MatrixXdR(const MatrixXdR& What)> ampGradient;
};
void alignBlockOutput(const OutputAlignBlock& block, std::array<ZoneParams, kZones>& zones,
                      std::vector<double>* trace, std::vector<MatrixXdR>* values = nullptr);

// ---- The methods of the family ----

// One block as a member's steps see it.
struct BlockStep {
    const BlockView& view;           // columns [begin, end), compensated weights, diag U, metric (when asked for)
    const MatrixXdR& X;              // view.weight in float64
    const BlockPartition& partition; // zones and salient columns
};

// A member's own steps for one layer (FamilyMember::start makes one from the validated options). The driver calls
// prepare once, then per block fitZone for every zone, refineBlock, and blockDone with the stored Ŵ_b.
class MemberRun {
public:
    virtual ~MemberRun() = default;
    // The block metric the member needs in BlockView::metric, if any.
    virtual std::optional<BlockMetric> blockMetric() const { return std::nullopt; }
    // arb-x: the non-salient split minimizes the metric-weighted error (PartitionOptions::splitMetric).
    virtual bool splitsOnMetric() const { return false; }
    // Before the Hessian is prepared: may replace W (the request's weight) by the target the blocks are fitted
    // to (output-align: the corrected target W̃).
    virtual void prepare(const QuantizeRequest& request, const Eigen::MatrixXd& gram, MatrixXfR& W);
    // Fits zone z of the block with `order` sign planes; a member that iterates assigns the zone's T + 1
    // losses to `trace` and values to `values` (as fitArb does; either may be null) and leaves them alone
    // otherwise.
    virtual ZoneParams fitZone(const BlockStep& block, int z, int order, std::vector<double>* trace,
                               std::vector<MatrixXdR>* values) const = 0;
    // After every zone is fitted: a joint refinement of the zones (output-align); may assign its losses to
    // `trace`, which holds the zone fits' losses summed over zones, and the block's values to `values` (may be
    // null), which holds the zone fits' values summed over zones.
    virtual void refineBlock(const BlockStep& block, std::array<ZoneParams, kZones>& zones,
                             std::vector<double>& trace, std::vector<MatrixXdR>* values);
    // The block's stored reconstruction Ŵ_b (n × w) is final.
    virtual void blockDone(const BlockStep& block, const MatrixXfR& Q);
    // The block objective the member's fits and refinement minimize (what `trace` holds), for any Ŵ_b (n × w):
    // by default the squared weight error ‖X − Ŵ_b‖²_F.
    virtual double blockObjective(const BlockStep& block, const MatrixXdR& What) const;
};

// How the Layer lab's step sentences describe a member (recording only).
struct MemberWords {
    std::string name{};          // "ARB-RC"
    std::string prepare{};       // what prepare did to W, "" when nothing
    std::string fit{};           // how a zone is fitted, e.g. "BRAQ (per row, the mean and the mean |·| …)"
    std::string iteration{};     // what one iteration does; "" when the member does not iterate
    std::string objectiveName{}; // what blockObjective (and the trace) measures
};

struct FamilyMember {
    std::string id;
    std::vector<OptionSpec> options; // familyOptions(…) followed by the member's own
    bool rowMeans = false;           // each zone's first plane holds a mean per row and block (billm, arb, arb-x)
    bool columnScales = false;       // every plane holds a scale per column, diag(a) B diag(c) (arb-rc, output-align)
    // The member's steps for one layer from its merged, validated options; throws std::invalid_argument for a
    // value the schema allows but the member cannot run (output-align: scope = "matrix").
    std::function<std::unique_ptr<MemberRun>(const nlohmann::json& options)> start;
    MemberWords words{};
};

// The options every member has: percdamp, salient_metric, search_domain, salient_limit, and (withCgb) cgb.
std::vector<OptionSpec> familyOptions(bool withCgb);

// The members, each defined in its own file.
const FamilyMember& billmMember();
const FamilyMember& arbMember();
const FamilyMember& arbXMember();
const FamilyMember& arbRcMember();
const FamilyMember& outputAlignMember();

// The registry entry of a member: id, options, needsGram and every hook; its file adds the title, the
// description and anything else of its own (output-align: two streams, more working memory).
MethodInfo familyMethod(const FamilyMember& member);

// Method-level entry: the options are merged with the member's defaults and validated here. `internal`, when
// given, receives the Ŵ the compensation loop used (must equal result.dequantize() exactly).
QuantizedLinear quantizeBinaryFamily(const FamilyMember& member, const QuantizeRequest& request,
                                     MethodDiagnostics& diagnostics, MatrixXfR* internal = nullptr);
// Full storage bits per weight (every sign plane, bitmap, scale, mean) for `salientColumns` salient columns in
// total (summed over blocks). estimateBits uses kExpectedSalientFraction · m.
double familyStorageBits(const FamilyMember& member, Eigen::Index n, Eigen::Index m, double salientColumns,
                         bool cgb);
constexpr double kExpectedSalientFraction = 0.08; // ARB-LLM's headline 1.08 bits on LLaMA-2 = 8 % salient
bool familyUsesCgb(const FamilyMember& member, const nlohmann::json& options);

} // namespace bq::quant::binary
