// Analysis metrics computed during a quantization run and stored per layer for the studio's live plots
// (methods.md §2.6 and §3.7.4). Everything here is a pure, deterministic function of its arguments: no I/O, no
// threads of its own, no global state. Shapes follow methods.md §0: W and Ŵ are n × m (n = d_out, m = d_in),
// Grams are m × m float64 unscaled sums over calibration tokens (LayerStatistics), activations are one token
// per row. All reductions are done in float64.
//
// Split by concern: analysis_errors.cpp (weight/output errors), analysis_streams.cpp (token-level
// accumulators), analysis_spectra.cpp (singular values), analysis_gram.cpp (input-Gram eigen-spectrum),
// analysis_histogram.cpp, analysis_pack.cpp (LayerResult packing, metric names and descriptions).
#pragma once
#include "bq/jobs/job.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/quant/methods/method.h"
#include "bq/model/quantized_linear.h"
#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bq::quant {

// ---------------------------------------------------------------------------------------------------------
// Weight and layer-output errors (analysis_errors.cpp)
// ---------------------------------------------------------------------------------------------------------

// ‖W − Ŵ‖_F / ‖W‖_F (0 when both are zero, +inf when only W is zero). Throws std::invalid_argument on a shape
// mismatch.
double relativeWeightError(const MatrixXfR& weight, const MatrixXfR& quantized);

// tr(A H Bᵀ) for n × m A, B and a symmetric m × m H, in float64 (the building block of the output errors).
double traceAHBt(const MatrixXfR& a, const Eigen::MatrixXd& h, const MatrixXfR& b);

struct OutputErrors {
    double reference = 0;  // tr(W H_fp Wᵀ) = ‖X Wᵀ‖²_F
    double local = 0;      // tr(ΔW H_fp ΔWᵀ) / tr(W H_fp Wᵀ), ΔW = W − Ŵ, FP inputs on both sides
    // (tr(W H_fp Wᵀ) − 2 tr(Ŵ C Wᵀ) + tr(Ŵ Ĥ Ŵᵀ)) / tr(W H_fp Wᵀ) = ‖X Wᵀ − X̂ Ŵᵀ‖² / ‖X Wᵀ‖²; NaN when
    // Ĥ or C was not given.
    double cumulative = 0;
};

// Relative layer-output errors from the Grams of LayerStatistics (no token storage): gramFp = H_fp = Σ x xᵀ,
// gram = Ĥ = Σ x̂ x̂ᵀ, crossGram = C = Σ x̂ xᵀ. Only gramFp is required (falls back to `gram` when gramFp is
// null, which is the single-stream pipeline where X̂ = X). Throws std::invalid_argument on shape mismatch or
// when no Gram is present. Cost: 2 (local) + 2 (cumulative) n·m² multiply-adds.
OutputErrors outputErrors(const MatrixXfR& weight, const MatrixXfR& quantized, const LayerStatistics& stats);

// ---------------------------------------------------------------------------------------------------------
// Token-level stream comparison (analysis_streams.cpp), fed chunk by chunk
// ---------------------------------------------------------------------------------------------------------

// Residual stream after a block (or a layer output X̂Ŵᵀ) versus the FP one: relative MSE
// Σ‖h_q − h_fp‖² / Σ‖h_fp‖² and mean per-token cosine. Feed any number of token chunks (rows = tokens).
// A token whose two vectors are both zero counts as cosine 1; only one zero counts as cosine 0.
class StreamComparison {
public:
    // quantized and fp must have equal shapes (tokens × dim); throws std::invalid_argument otherwise, and when
    // dim differs from earlier chunks.
    void add(const Eigen::Ref<const MatrixXfR>& quantized, const Eigen::Ref<const MatrixXfR>& fp);
    void add(const float* quantized, const float* fp, Eigen::Index tokens, Eigen::Index dim); // row-major
    void merge(const StreamComparison& other);
    void reset() { *this = StreamComparison(); }

    std::int64_t tokens() const { return m_tokens; }
    double relativeMse() const;  // NaN with no tokens; +inf when Σ‖h_fp‖² = 0 but the streams differ
    double meanCosine() const;   // NaN with no tokens
    double sumSquaredError() const { return m_sumErr; }
    double sumSquaredReference() const { return m_sumRef; }

private:
    std::int64_t m_tokens = 0;
    Eigen::Index m_dim = -1;
    double m_sumErr = 0, m_sumRef = 0, m_sumCos = 0;
};

// Token-similarity (attention-matrix) preservation error of arXiv:2512.21651 for ONE calibration sequence.
// Z and Z_fp are the sequence's layer outputs (T × d, rows = tokens).
struct TokenSimilarityError {
    double normalized = 0;   // ‖Z̄ Z̄ᵀ − Z̄_fp Z̄_fpᵀ‖_F, rows scaled to unit length (paper Fig. 2); zero rows stay 0
    double unnormalized = 0; // ‖Z Zᵀ − Z_fp Z_fpᵀ‖_F (the paper's Sec. 3.3 products)
};
TokenSimilarityError tokenSimilarityError(const Eigen::Ref<const MatrixXfR>& quantized,
                                          const Eigen::Ref<const MatrixXfR>& fp);

// Collects tokenSimilarityError per sequence. Cost per sequence ~ T²·d multiply-adds (float64).
class TokenSimilarityAccumulator {
public:
    void addSequence(const Eigen::Ref<const MatrixXfR>& quantized, const Eigen::Ref<const MatrixXfR>& fp);
    const std::vector<double>& normalized() const { return m_normalized; }
    const std::vector<double>& unnormalized() const { return m_unnormalized; }
    std::size_t sequences() const { return m_normalized.size(); }
    double meanNormalized() const;   // NaN with no sequences
    double meanUnnormalized() const; // NaN with no sequences

private:
    std::vector<double> m_normalized, m_unnormalized;
};

// ---------------------------------------------------------------------------------------------------------
// Singular-value spectra (analysis_spectra.cpp)
// ---------------------------------------------------------------------------------------------------------

enum class ExactSvd : std::uint8_t {
    Gram,   // √ of the eigenvalues of the smaller Gram A Aᵀ or AᵀA (fast; values below ~1e-7·σ_max lose digits)
    Bdcsvd, // bidiagonal divide and conquer on A itself (accurate at every scale, ~10× slower)
};

struct SpectrumOptions {
    // Exact (all min(n, m) values) when min(n, m) ≤ exactMaxDim, else the top k by randomized SVD. The exact
    // cost grows with min(n, m)³ + n·m·min(n, m), the randomized one with n·m·(k + p)·(2q + 2).
    Eigen::Index exactMaxDim = 1024;
    ExactSvd exactMethod = ExactSvd::Gram;
    int topK = 64;
    int oversample = 16;        // Halko et al. p: sketch width k + p
    int powerIterations = 6;    // Halko et al. q (subspace iterations, re-orthonormalized each time)
    std::uint64_t seed = 0x5EEDB175ULL;
};

struct Spectrum {
    std::vector<double> values; // descending
    bool exact = true;          // false: the k largest from the randomized SVD
};

// Every function below that takes a CancelToken polls it during its long steps (the Gram method's eigen-solve
// every 16 columns, each power iteration) and throws bq::Cancelled when it is set.

// All min(n, m) singular values, descending, in float64.
std::vector<double> exactSingularValues(const MatrixXfR& a, ExactSvd method = ExactSvd::Gram,
                                        const CancelToken* cancel = nullptr);
// The k largest singular values (k ≤ min(n, m)), descending, by randomized SVD with a fixed-seed Gaussian
// sketch (portable generator: identical results on every platform for the same seed).
std::vector<double> randomizedSingularValues(const MatrixXfR& a, int k, int oversample, int powerIterations,
                                             std::uint64_t seed, const CancelToken* cancel = nullptr);
// Exact or randomized according to options.
Spectrum singularValues(const MatrixXfR& a, const SpectrumOptions& options = {}, const CancelToken* cancel = nullptr);

// ---------------------------------------------------------------------------------------------------------
// Input-Gram eigen-spectrum (analysis_gram.cpp)
// ---------------------------------------------------------------------------------------------------------

struct GramSpectrum {
    std::vector<double> eigenvalues; // descending, negatives from rounding clamped to 0
    double lambdaMax = 0, lambdaMean = 0;
    double anisotropy = 0;        // λ_max / mean λ (NaN for a zero Gram)
    double damping = 0;           // δ = percdamp · mean(Diag(H)), as methods.md §1.3
    double conditionDamped = 0;   // (λ_max + δ) / (λ_min + δ)
    double effectiveRank = 0;     // exp(−Σ p log p), p = λ / Σλ (0 log 0 = 0)
    int deadColumns = 0;          // columns with H_jj = 0
};
// Throws std::invalid_argument when gram is not square. Cost: a dense symmetric eigen-solve, O(m³), polling
// cancel every 16 columns (bq::Cancelled).
GramSpectrum gramSpectrum(const Eigen::MatrixXd& gram, double percdamp = 0.01, const CancelToken* cancel = nullptr);

// The dense kernels' Interrupt for a CancelToken (none for null), and the eigen-solve status as exceptions:
// Interrupted → bq::Cancelled, NotConverged → std::runtime_error naming `what`.
dense::Interrupt cancelInterrupt(const CancelToken* cancel);
void checkEigenStatus(dense::EigenStatus status, const char* what);

// ---------------------------------------------------------------------------------------------------------
// Weight histograms (analysis_histogram.cpp)
// ---------------------------------------------------------------------------------------------------------

struct Histogram {
    std::vector<double> edges;          // bins + 1 ascending edges over [−range, +range]
    std::vector<std::uint64_t> counts;  // bins entries; values beyond ±range go to the end bins
    std::uint64_t nonFinite = 0;        // NaN/inf values, not in counts
};
// bins ≥ 1, range > 0 (else std::invalid_argument). Bin b covers [edges[b], edges[b+1]), the last bin is closed.
Histogram histogram(const MatrixXfR& values, int bins, double range);
// max |value| over the finite entries of a and b (1 when all are zero), the shared symmetric range.
double symmetricRange(const MatrixXfR& a, const MatrixXfR& b);

// ---------------------------------------------------------------------------------------------------------
// Everything for one layer, and packing it into a LayerResult (analysis_pack.cpp)
// ---------------------------------------------------------------------------------------------------------

struct AnalysisOptions {
    bool outputErrors = true;   // needs a Gram in LayerStatistics
    bool spectra = true;        // singular values of W, Ŵ, W − Ŵ
    SpectrumOptions spectrum;
    bool gramSpectrum = true;   // needs a Gram
    // The dense eigen-solve is O(m³): 8 s of one core at m = 3072, 20 s at 4096 (AVX-512 dense kernels);
    // skipped above this m (Llama-size ffn_down inputs of 8192+ would take minutes per layer).
    Eigen::Index gramSpectrumMaxDim = 4096;
    double percdamp = 0.01;
    bool histograms = true;
    int histogramBins = 64;
};

// What analyzeLayer computes plus what the pipeline fills in from elsewhere (stream accumulators, timings,
// memory). Unset optionals are left out of the LayerResult.
struct LayerAnalysis {
    double relativeWeightError = 0;
    std::optional<OutputErrors> outputErrors;
    std::optional<Spectrum> svWeight, svQuantized, svError;
    std::optional<GramSpectrum> gram;
    std::optional<Histogram> histWeight, histQuantized;   // same edges
    std::vector<std::uint8_t> salientColumns;              // passthrough from MethodDiagnostics
    std::vector<double> objectiveTrace;                    // passthrough from MethodDiagnostics

    // Filled by the pipeline (not by analyzeLayer):
    std::optional<StreamComparison> residualStream;        // block output vs FP (set on a block's last layer)
    std::optional<TokenSimilarityAccumulator> tokenSimilarity;
    double quantizeSeconds = -1, analysisSeconds = -1;     // < 0: unknown
    std::uint64_t rssBytes = 0, peakRssBytes = 0;          // 0: unknown
};

// Computes the weight-side and Gram-side metrics enabled in options (those whose inputs are present).
// Checks cancel (if given) between metrics and throws bq::Cancelled. Throws std::invalid_argument on shape
// mismatches.
LayerAnalysis analyzeLayer(const MatrixXfR& weight, const MatrixXfR& quantized, const LayerStatistics& stats,
                           const MethodDiagnostics* diagnostics, const AnalysisOptions& options = {},
                           const CancelToken* cancel = nullptr);

// Writes the analysis into result.metrics (keys from metricKeys()) and result.arrays (keys from arrayKeys());
// existing entries with other keys are kept. Sets result.seconds from quantizeSeconds when known.
void packLayerResult(const LayerAnalysis& analysis, LayerResult& result);

// Metric (scalar) and array key names, in display order. Every key has a metricDescription.
const std::vector<std::string>& metricKeys();
const std::vector<std::string>& arrayKeys();
// One sentence saying how the metric or array is computed (studio tooltips); "" for an unknown key.
std::string_view metricDescription(std::string_view key);

// Key names (the strings are the contract with the run file and the studio).
namespace metric {
inline constexpr const char* WeightRelError = "weight.rel_error";
inline constexpr const char* OutputLocal = "output.local_rel_error";
inline constexpr const char* OutputCumulative = "output.cumulative_rel_error";
inline constexpr const char* ResidualRelMse = "residual.rel_mse";
inline constexpr const char* ResidualCosine = "residual.mean_cosine";
inline constexpr const char* TokenSimNormalized = "token_sim.normalized_mean";
inline constexpr const char* TokenSimUnnormalized = "token_sim.unnormalized_mean";
inline constexpr const char* GramLambdaMax = "gram.lambda_max";
inline constexpr const char* GramLambdaMean = "gram.lambda_mean";
inline constexpr const char* GramAnisotropy = "gram.anisotropy";
inline constexpr const char* GramConditionDamped = "gram.condition_damped";
inline constexpr const char* GramEffectiveRank = "gram.effective_rank";
inline constexpr const char* GramDeadColumns = "gram.dead_columns";
inline constexpr const char* SvExact = "sv.exact";
inline constexpr const char* SalientCount = "salient.count";
inline constexpr const char* QuantizeSeconds = "time.quantize_s";
inline constexpr const char* AnalysisSeconds = "time.analysis_s";
inline constexpr const char* RssBytes = "memory.rss_bytes";
inline constexpr const char* PeakRssBytes = "memory.peak_rss_bytes";
} // namespace metric

namespace array {
inline constexpr const char* SvWeight = "sv.weight";
inline constexpr const char* SvQuantized = "sv.quantized";
inline constexpr const char* SvError = "sv.error";
inline constexpr const char* GramEigenvalues = "gram.eigenvalues";
inline constexpr const char* HistEdges = "hist.edges";
inline constexpr const char* HistWeight = "hist.weight";
inline constexpr const char* HistQuantized = "hist.quantized";
inline constexpr const char* SalientColumns = "salient.columns";
inline constexpr const char* ObjectiveTrace = "objective.trace";
inline constexpr const char* TokenSimNormalized = "token_sim.normalized";
inline constexpr const char* TokenSimUnnormalized = "token_sim.unnormalized";
} // namespace array

} // namespace bq::quant
