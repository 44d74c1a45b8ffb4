// The salient / alternating-refinement family of methods.md §3.4, §3.5, §3.7 (billm, arb, arb-x, arb-rc,
// output-align): one partition of each 128-column block into zones, one binarizer per zone, block-joint
// compensation (§1.4). The methods' registry entries (core/src/quant/methods/*.cpp) are thin wrappers over
// quantizeBinaryFamily; the lower-level pieces are public so tests can check them against brute force.
#pragma once
#include "bq/quant/methods/method.h"
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <array>
#include <functional>
#include <string>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace bq::quant::binary {

using MatrixXdR = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class Family { Billm, Arb, ArbX, ArbRc, OutputAlign };
const char* familyId(Family family);

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
// ARB (§3.5): BRAQ init, then T iterations μ → α (→ α₂) → B. trace (if given) gets T + 1 entries: the zone's
// Σ squared error after init and after each iteration (summed over rows).
ZoneParams fitArb(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order, int iterations,
                  std::vector<double>* trace);
// ARB-X (§3.5): T iterations of the S-weighted μ, α (α₁, α₂) updates with B frozen; per row the objective is
// r_J S_JJ r_Jᵀ over the row's zone entries J. trace gets T + 1 entries (Σ over rows).
void refineArbX(const MatrixXdR& X, const MatrixXu8R& zone, int z, const Eigen::MatrixXd& S, int iterations,
                ZoneParams& p, std::vector<double>* trace);
// ARB-RC (§3.5): diag(a) B diag(c), no mean; order 2 alternates the two stages and re-picks (B₁, B₂).
// trace gets T + 1 entries (Σ squared error on the zone). Scales end ≥ 0 (signs moved into B).
ZoneParams fitArbRc(const MatrixXdR& X, const MatrixXu8R& zone, int z, int order, int iterations,
                    std::vector<double>* trace);

// Output alignment (§3.7.2/3.7.3) on one block: minimizes tr((Ŵ_b − T) M (Ŵ_b − T)ᵀ) jointly over the
// zones' (a, B, b) starting from `zones` (arb-rc fits), T iterations: a-update when t % modK == 0, one cyclic
// B sweep, b-update; each coordinate gated by the AMP gradient Γ (n × w, ∂L_AMP/∂Ŵ_b at the iteration's start,
// computed by `ampGradient`; may be empty when gate = Off). trace gets T + 1 entries of the block objective.
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
                      std::vector<double>* trace);

// Method-level entry: the options (merged with familyDefaults) are validated here. `internal`, when given,
// receives the Ŵ the compensation loop used (must equal result.dequantize() exactly).
nlohmann::json familyDefaults(Family family);
QuantizedLinear quantizeBinaryFamily(Family family, const QuantizeRequest& request, MethodDiagnostics& diagnostics,
                                     MatrixXfR* internal = nullptr);
// Full storage bits per weight (every sign plane, bitmap, scale, mean) for `salientColumns` salient columns in
// total (summed over blocks). estimateBits uses kExpectedSalientFraction · m.
double familyStorageBits(Family family, Eigen::Index n, Eigen::Index m, double salientColumns, bool cgb);
constexpr double kExpectedSalientFraction = 0.08; // ARB-LLM's headline 1.08 bits on LLaMA-2 = 8 % salient
bool familyUsesCgb(Family family, const nlohmann::json& options);
std::string familyUnsupportedReason(Family family, Eigen::Index n, Eigen::Index m, const nlohmann::json& options);

} // namespace bq::quant::binary
