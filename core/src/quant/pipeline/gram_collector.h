// Input statistics of the linear layers (methods.md §1.2): per site, Ĥ = Σ x̂ x̂ᵀ over the quantized stream and,
// with two streams, H_fp = Σ x xᵀ and the cross-Gram C = Σ x̂ xᵀ. Each sequence's float32 Gram is one GEMM of
// the same shape on its own thread (never all activations at once); the float64 sums add them in sequence
// order, so the Grams do not depend on the thread count.
#pragma once
#include "calibration_streams.h"
#include <Eigen/Core>
#include <array>

namespace bq::quant {

struct SiteGrams {
    Eigen::MatrixXd h, hfp, c; // Ĥ, H_fp, C (empty when not collected)
};
using BlockGrams = std::array<SiteGrams, kBlockSiteCount>;

// What one collection pass gathers.
struct CollectSpec {
    std::array<bool, kBlockSiteCount> sites{};
    bool fpGram = false; // H_fp
    bool cross = false;  // C (needs the FP stream's inputs)
};

class GramCollector {
public:
    explicit GramCollector(CalibrationStreams& streams);

    // The site inputs of a block whose quantized-stream weights are wq (the FP stream runs wf); each pass stops
    // after the last site of `spec`.
    void collectBlock(const BlockWeights& wq, const BlockWeights& wf, const CollectSpec& spec, BlockGrams& grams);
    // The output head's input (the final RMSNorm of the streams with `outNorm`), as site 0 of `grams`.
    void collectHead(const float* outNorm, const CollectSpec& spec, BlockGrams& grams);

    // Statistics for bench-quant: wall seconds of the Gram GEMMs and their float64 accumulation (a wave's wall
    // time split by its threads' Gram vs forward shares), and the flops counted (T·m² per Ĥ or H_fp, 2·T·m² per C).
    double gramSeconds() const { return m_gramSeconds; }
    double gramFlops() const { return m_gramFlops; }

private:
    // Per-sequence buffers of one wave slot.
    struct Slot {
        std::array<std::vector<float>, kBlockSiteCount> inQ, inF;
        std::array<int, kBlockSiteCount> width{};
        std::array<Eigen::MatrixXf, kBlockSiteCount> gQ, gF, gC;
        double forwardSeconds = 0, gramSeconds = 0; // this wave's thread time
    };
    // produce(s, slot, worker) fills the slot's site inputs of sequence s; the Grams follow.
    void collect(const CollectSpec& spec, const std::function<void(int s, Slot& slot, int worker)>& produce,
                 BlockGrams& grams);

    CalibrationStreams& m_streams;
    std::vector<Slot> m_slots;
    double m_gramSeconds = 0, m_gramFlops = 0;
};

} // namespace bq::quant
