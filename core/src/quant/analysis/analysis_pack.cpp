// One layer's analysis: computing the weight- and Gram-side metrics, packing everything into a LayerResult
// under documented key names, and the one-sentence descriptions the studio shows as tooltips.
#include "bq/quant/analysis/analysis.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <utility>

namespace bq::quant {

namespace {

struct KeyDescription {
    const char* key;
    const char* description;
};

// Scalars, in display order.
constexpr std::array kMetricDescriptions{
    KeyDescription{metric::WeightRelError,
                   "Relative weight error ‖W − Ŵ‖_F / ‖W‖_F over the whole matrix."},
    KeyDescription{metric::OutputLocal,
                   "Local relative output error tr(ΔW H_fp ΔWᵀ) / tr(W H_fp Wᵀ) with ΔW = W − Ŵ and the "
                   "full-precision input Gram H_fp, i.e. ‖XΔWᵀ‖² / ‖XWᵀ‖² for the same inputs on both sides."},
    KeyDescription{metric::OutputCumulative,
                   "Cumulative relative output error ‖XWᵀ − X̂Ŵᵀ‖² / ‖XWᵀ‖², FP inputs X on the FP side and the "
                   "quantized model's inputs X̂ on the quantized side, computed from the Grams as "
                   "(tr(W H_fp Wᵀ) − 2 tr(Ŵ C Wᵀ) + tr(Ŵ Ĥ Ŵᵀ)) / tr(W H_fp Wᵀ): exactly the layer output's "
                   "relative MSE summed over every calibration token, without storing a token."},
    KeyDescription{metric::ResidualRelMse,
                   "Relative MSE Σ‖h_q − h_fp‖² / Σ‖h_fp‖² of the residual stream after this block, quantized "
                   "model versus full precision, over all calibration tokens."},
    KeyDescription{metric::ResidualCosine,
                   "Mean over calibration tokens of the cosine between the quantized and FP residual-stream "
                   "vectors after this block."},
    KeyDescription{metric::TokenSimNormalized,
                   "Mean over calibration sequences of ‖Z̄Z̄ᵀ − Z̄_fp Z̄_fpᵀ‖_F, the token-similarity "
                   "(attention-matrix) error of arXiv:2512.21651 with layer-output rows scaled to unit length."},
    KeyDescription{metric::TokenSimUnnormalized,
                   "Mean over calibration sequences of ‖ZZᵀ − Z_fp Z_fpᵀ‖_F on the raw (unnormalized) layer "
                   "outputs, the products of arXiv:2512.21651 Sec. 3.3."},
    KeyDescription{metric::GramLambdaMax,
                   "Largest eigenvalue of the layer's input Gram H = Σ x xᵀ (the Gram the method quantized "
                   "against)."},
    KeyDescription{metric::GramLambdaMean, "Mean eigenvalue of the input Gram, tr(H) / m."},
    KeyDescription{metric::GramAnisotropy,
                   "Anisotropy λ_max / mean λ of the input Gram's eigenvalues (1 for isotropic inputs)."},
    KeyDescription{metric::GramConditionDamped,
                   "Condition number (λ_max + δ) / (λ_min + δ) of the input Gram after the GPTQ damping "
                   "δ = percdamp · mean(Diag(H))."},
    KeyDescription{metric::GramEffectiveRank,
                   "Effective rank exp(−Σ p_i log p_i) of the input Gram with p = λ / Σλ (m for isotropic "
                   "inputs, 1 for rank one)."},
    KeyDescription{metric::GramDeadColumns,
                   "Number of input columns whose Gram diagonal H_jj is zero (never active on the calibration "
                   "set)."},
    KeyDescription{metric::SvExact,
                   "1 when the singular-value arrays hold every value (exact: square roots of the smaller Gram's "
                   "eigenvalues, or BDCSVD), 0 when they hold the top k from a fixed-seed randomized SVD."},
    KeyDescription{metric::SalientCount,
                   "Number of input columns the method treated as salient (BiLLM / ARB-LLM), from its mask."},
    KeyDescription{metric::QuantizeSeconds, "Wall-clock seconds the method spent quantizing this layer."},
    KeyDescription{metric::AnalysisSeconds, "Wall-clock seconds spent computing this layer's analysis metrics."},
    KeyDescription{metric::RssBytes, "Resident set size of the process in bytes when the layer finished."},
    KeyDescription{metric::PeakRssBytes, "Peak resident set size of the process in bytes so far in the run."},
};

// Arrays, in display order.
constexpr std::array kArrayDescriptions{
    KeyDescription{array::SvWeight,
                   "Singular values of W, descending (all of them, or the top k when sv.exact is 0)."},
    KeyDescription{array::SvQuantized, "Singular values of the quantized weight Ŵ, descending (as sv.weight)."},
    KeyDescription{array::SvError, "Singular values of the weight error W − Ŵ, descending (as sv.weight)."},
    KeyDescription{array::GramEigenvalues,
                   "Eigenvalues of the layer's input Gram H, descending, rounding negatives clamped to 0."},
    KeyDescription{array::HistEdges,
                   "Bin edges of both weight histograms: equal-width bins over ±(largest absolute entry of W or Ŵ)."},
    KeyDescription{array::HistWeight,
                   "Counts of W's entries per histogram bin (values at the range ends fall in the end bins)."},
    KeyDescription{array::HistQuantized, "Counts of Ŵ's entries per histogram bin, on the same edges as W's."},
    KeyDescription{array::SalientColumns, "Per input column, 1 when the method treated it as salient, else 0."},
    KeyDescription{array::ObjectiveTrace, "The method's objective after each of its iterations."},
    KeyDescription{array::TokenSimNormalized,
                   "Per calibration sequence, ‖Z̄Z̄ᵀ − Z̄_fp Z̄_fpᵀ‖_F with unit-length output rows."},
    KeyDescription{array::TokenSimUnnormalized,
                   "Per calibration sequence, ‖ZZᵀ − Z_fp Z_fpᵀ‖_F on the raw layer outputs."},
};

template <std::size_t N>
std::vector<std::string> keysOf(const std::array<KeyDescription, N>& table)
{
    std::vector<std::string> keys;
    for (const KeyDescription& entry : table)
        keys.emplace_back(entry.key);
    return keys;
}

void checkCancel(const CancelToken* cancel)
{
    if (cancel)
        cancel->throwIfRequested();
}

template <class T>
std::vector<double> toDoubles(const std::vector<T>& v)
{
    return std::vector<double>(v.begin(), v.end());
}

} // namespace

LayerAnalysis analyzeLayer(const MatrixXfR& weight, const MatrixXfR& quantized, const LayerStatistics& stats,
                           const MethodDiagnostics* diagnostics, const AnalysisOptions& options,
                           const CancelToken* cancel)
{
    LayerAnalysis out;
    out.relativeWeightError = relativeWeightError(weight, quantized); // also checks the shapes
    const Eigen::MatrixXd* anyGram = stats.gramFp ? stats.gramFp : stats.gram;

    if (options.outputErrors && anyGram) {
        checkCancel(cancel);
        out.outputErrors = outputErrors(weight, quantized, stats);
    }
    if (options.gramSpectrum && anyGram && anyGram->rows() <= options.gramSpectrumMaxDim) {
        checkCancel(cancel);
        // The Gram the method quantized against (quantized-prefix inputs) when present.
        out.gram = gramSpectrum(stats.gram ? *stats.gram : *stats.gramFp, options.percdamp, cancel);
    }
    if (options.spectra) {
        checkCancel(cancel);
        out.svWeight = singularValues(weight, options.spectrum, cancel);
        out.svQuantized = singularValues(quantized, options.spectrum, cancel);
        out.svError = singularValues(MatrixXfR(weight - quantized), options.spectrum, cancel);
    }
    if (options.histograms) {
        const double range = symmetricRange(weight, quantized);
        out.histWeight = histogram(weight, options.histogramBins, range);
        out.histQuantized = histogram(quantized, options.histogramBins, range);
    }
    if (diagnostics) {
        out.salientColumns = diagnostics->salientColumns;
        out.objectiveTrace = diagnostics->objectiveTrace;
    }
    return out;
}

void packLayerResult(const LayerAnalysis& a, LayerResult& result)
{
    auto& m = result.metrics;
    auto arrays = result.arrays ? std::make_shared<LayerArrays>(*result.arrays) : std::make_shared<LayerArrays>();
    auto& v = arrays->values;

    m[metric::WeightRelError] = a.relativeWeightError;
    if (a.outputErrors) {
        m[metric::OutputLocal] = a.outputErrors->local;
        if (!std::isnan(a.outputErrors->cumulative))
            m[metric::OutputCumulative] = a.outputErrors->cumulative;
    }
    if (a.residualStream && a.residualStream->tokens() > 0) {
        m[metric::ResidualRelMse] = a.residualStream->relativeMse();
        m[metric::ResidualCosine] = a.residualStream->meanCosine();
    }
    if (a.tokenSimilarity && a.tokenSimilarity->sequences() > 0) {
        m[metric::TokenSimNormalized] = a.tokenSimilarity->meanNormalized();
        m[metric::TokenSimUnnormalized] = a.tokenSimilarity->meanUnnormalized();
        v[array::TokenSimNormalized] = a.tokenSimilarity->normalized();
        v[array::TokenSimUnnormalized] = a.tokenSimilarity->unnormalized();
    }
    if (a.gram) {
        m[metric::GramLambdaMax] = a.gram->lambdaMax;
        m[metric::GramLambdaMean] = a.gram->lambdaMean;
        m[metric::GramAnisotropy] = a.gram->anisotropy;
        m[metric::GramConditionDamped] = a.gram->conditionDamped;
        m[metric::GramEffectiveRank] = a.gram->effectiveRank;
        m[metric::GramDeadColumns] = a.gram->deadColumns;
        v[array::GramEigenvalues] = a.gram->eigenvalues;
    }
    if (a.svWeight) {
        m[metric::SvExact] = a.svWeight->exact ? 1.0 : 0.0;
        v[array::SvWeight] = a.svWeight->values;
    }
    if (a.svQuantized)
        v[array::SvQuantized] = a.svQuantized->values;
    if (a.svError)
        v[array::SvError] = a.svError->values;
    if (a.histWeight) {
        v[array::HistEdges] = a.histWeight->edges;
        v[array::HistWeight] = toDoubles(a.histWeight->counts);
    }
    if (a.histQuantized)
        v[array::HistQuantized] = toDoubles(a.histQuantized->counts);
    if (!a.salientColumns.empty()) {
        m[metric::SalientCount] = double(std::count_if(a.salientColumns.begin(), a.salientColumns.end(),
                                                       [](std::uint8_t s) { return s != 0; }));
        v[array::SalientColumns] = toDoubles(a.salientColumns);
    }
    if (!a.objectiveTrace.empty())
        v[array::ObjectiveTrace] = a.objectiveTrace;
    if (a.quantizeSeconds >= 0) {
        m[metric::QuantizeSeconds] = a.quantizeSeconds;
        result.seconds = a.quantizeSeconds;
    }
    if (a.analysisSeconds >= 0)
        m[metric::AnalysisSeconds] = a.analysisSeconds;
    if (a.rssBytes > 0)
        m[metric::RssBytes] = double(a.rssBytes);
    if (a.peakRssBytes > 0)
        m[metric::PeakRssBytes] = double(a.peakRssBytes);
    result.arrays = std::move(arrays);
}

const std::vector<std::string>& metricKeys()
{
    static const std::vector<std::string> keys = keysOf(kMetricDescriptions);
    return keys;
}

const std::vector<std::string>& arrayKeys()
{
    static const std::vector<std::string> keys = keysOf(kArrayDescriptions);
    return keys;
}

std::string_view metricDescription(std::string_view key)
{
    for (const KeyDescription& entry : kMetricDescriptions)
        if (key == entry.key)
            return entry.description;
    for (const KeyDescription& entry : kArrayDescriptions)
        if (key == entry.key)
            return entry.description;
    return {};
}

} // namespace bq::quant
