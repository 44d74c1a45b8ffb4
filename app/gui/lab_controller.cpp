#include "gui/lab_controller.h"
#include "bq/model/model.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/quantized_model.h"
#include "bq/util/errors.h"
#include "gui/calibration_controller.h"
#include <chrono>
#include <mutex>

namespace studio {

namespace q = bq::quant;

// What the jobs keep between runs: the last calibration built from settings and the last statistics, each with
// what it was made from. One job at a time; guarded anyway.
struct LabController::Cache {
    // The request's calibration: given, or built from its settings (the last build of the same settings for the
    // same model is reused).
    std::shared_ptr<const q::CalibrationSet> calibration(const LabRequest& request, const bq::CancelToken& cancel)
    {
        if (request.calibration)
            return std::make_shared<const q::CalibrationSet>(*request.calibration);
        {
            const std::lock_guard<std::mutex> lock(mutex);
            if (m_calibration && m_calibrationModel.lock() == request.model && m_settings == request.settings)
                return m_calibration;
        }
        if (!request.model->tokenizer)
            throw std::invalid_argument(request.model->sourcePath +
                                        ": the model has no tokenizer to encode the calibration text");
        auto set = std::make_shared<const q::CalibrationSet>(
            q::buildCalibration(*request.model->tokenizer, calibrationSources(request.settings),
                                calibrationOptions(request.settings), &cancel));
        const std::lock_guard<std::mutex> lock(mutex);
        m_calibrationModel = request.model;
        m_settings = request.settings;
        m_calibration = set;
        return set;
    }

    // The statistics a run with the same model, calibration, tensor and input stream collected, or null.
    std::shared_ptr<const q::LayerGrams> statistics(const LabRequest& request, const std::string& calibration)
    {
        const std::lock_guard<std::mutex> lock(mutex);
        const bool same = m_statistics && m_statisticsModel.lock() == request.model &&
                          m_calibrationFingerprint == calibration && m_tensor == request.tensor &&
                          m_withPrefix == (request.prefix != nullptr) && m_prefix.lock() == request.prefix;
        return same ? m_statistics : nullptr;
    }

    void keep(const LabRequest& request, const std::string& calibration, std::shared_ptr<const q::LayerGrams> grams)
    {
        const std::lock_guard<std::mutex> lock(mutex);
        m_statisticsModel = request.model;
        m_prefix = request.prefix;
        m_withPrefix = request.prefix != nullptr;
        m_calibrationFingerprint = calibration;
        m_tensor = request.tensor;
        m_statistics = std::move(grams);
    }

private:
    std::mutex mutex;
    std::weak_ptr<const bq::Model> m_calibrationModel; // guarded by mutex, as every member below
    std::optional<CalibrationSettings> m_settings;
    std::shared_ptr<const q::CalibrationSet> m_calibration;
    std::weak_ptr<const bq::Model> m_statisticsModel;
    std::weak_ptr<const q::QuantizedModel> m_prefix;
    bool m_withPrefix = false;
    std::string m_calibrationFingerprint, m_tensor;
    std::shared_ptr<const q::LayerGrams> m_statistics;
};

namespace {

using Clock = std::chrono::steady_clock;

LabMethodResult runMethod(const LabMethodSpec& spec, const bq::MatrixXfR& weight, const q::LayerGrams& statistics,
                          const std::string& tensor, const bq::CancelToken& cancel)
{
    LabMethodResult result;
    result.method = QString::fromStdString(spec.id);
    try {
        const q::MethodInfo& info = q::findMethod(spec.id);
        result.options = q::mergeOptions(info, spec.options);
        if (const std::string why = info.unsupportedReason(weight.rows(), weight.cols(), result.options); !why.empty())
            throw std::invalid_argument(why);
        q::QuantizeRequest request;
        request.weight = &weight;
        request.stats = statistics.statistics();
        request.options = result.options;
        request.tensor = tensor;
        request.cancel = &cancel;
        request.recordSteps = true;
        q::MethodDiagnostics diagnostics;
        const auto t0 = Clock::now();
        auto params = std::make_shared<bq::QuantizedLinear>(info.quantize(request, diagnostics));
        result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        params->tensor = tensor;
        params->validate();
        auto quantized = std::make_shared<const bq::MatrixXfR>(params->dequantize());
        q::AnalysisOptions analysis;
        analysis.spectra = false;
        analysis.gramSpectrum = false;
        analysis.histograms = false;
        bq::LayerResult packed;
        q::packLayerResult(q::analyzeLayer(weight, *quantized, request.stats, &diagnostics, analysis, &cancel), packed);
        result.metrics = packed.metrics;
        result.steps = std::make_shared<const std::vector<q::MethodStep>>(std::move(diagnostics.steps));
        result.params = std::move(params);
        result.quantized = std::move(quantized);
    } catch (const bq::Cancelled&) {
        throw;
    } catch (const std::exception& e) {
        result.error = QString::fromStdString(e.what());
    }
    return result;
}

} // namespace

LabController::LabController(QObject* parent)
    : QObject(parent), m_job(QStringLiteral("lab")), m_cache(std::make_shared<Cache>())
{
    connect(&m_job, &JobController::progress, this, &LabController::progress);
    connect(&m_job, &JobController::logLine, this, &LabController::logLine);
    connect(&m_job, &JobController::finished, this, &LabController::onFinished);
}

bool LabController::start(LabRequest request)
{
    if (!request.model || request.methods.empty() || m_job.isRunning())
        return false;
    auto outcome = std::make_shared<LabOutcome>();
    auto cache = m_cache;
    const bool ok = m_job.start([request = std::move(request), outcome, cache](
                                    bq::EventSink& sink, const bq::CancelToken& cancel) -> bq::JobResult {
        const auto start = Clock::now();
        auto report = [&](bq::Stage stage, int step, int count) {
            bq::ProgressEvent e;
            e.stage = stage;
            e.step = step;
            e.stepCount = count;
            e.elapsedSec = std::chrono::duration<double>(Clock::now() - start).count();
            sink.progress(e);
        };
        try {
            const bq::Model& model = *request.model;
            outcome->tensor = request.tensor;
            outcome->quantizedInputs = request.prefix != nullptr;
            const bq::Tensor& t = request.tensor == "output.weight" ? model.outputHead() : model.tensor(request.tensor);
            const std::vector<float> values = t.toFloat();
            outcome->weight = std::make_shared<const bq::MatrixXfR>(
                Eigen::Map<const bq::MatrixXfR>(values.data(), Eigen::Index(t.rows()), Eigen::Index(t.cols())));

            report(bq::Stage::Calibrate, 0, 1);
            const auto calibration = cache->calibration(request, cancel);
            outcome->calibration = calibration->description;
            const std::string fingerprint = calibration->fingerprint();
            outcome->statistics = cache->statistics(request, fingerprint);
            outcome->statisticsReused = outcome->statistics != nullptr;
            if (!outcome->statistics) {
                sink.log(bq::LogLevel::Info, "lab: collecting the input statistics of " + request.tensor + " (" +
                                                 calibration->description + ")");
                auto statistics = std::make_shared<const q::LayerGrams>(q::collectLayerStatistics(
                    model, *calibration, request.tensor, request.prefix.get(), cancel,
                    [&](int done, int total) { report(bq::Stage::Calibrate, done, total); }));
                cache->keep(request, fingerprint, statistics);
                outcome->statistics = std::move(statistics);
            }

            const int count = int(request.methods.size());
            for (int k = 0; k < count; ++k) {
                report(bq::Stage::Quantize, k, count);
                const LabMethodSpec& spec = request.methods[std::size_t(k)];
                outcome->results.push_back(
                    runMethod(spec, *outcome->weight, *outcome->statistics, request.tensor, cancel));
                const LabMethodResult& r = outcome->results.back();
                if (!r.error.isEmpty())
                    sink.log(bq::LogLevel::Warning, "lab: " + spec.id + " on " + request.tensor + ": " +
                                                        r.error.toStdString());
            }
            report(bq::Stage::Quantize, count, count);
            return {bq::JobStatus::Completed, request.tensor, {}};
        } catch (const bq::Cancelled&) {
            return {bq::JobStatus::Cancelled, "cancelled", {}};
        } catch (const std::exception& e) {
            return {bq::JobStatus::Failed, request.tensor + ": " + e.what(), {}};
        }
    });
    if (!ok)
        return false;
    m_running = std::move(outcome);
    emit started();
    return true;
}

void LabController::cancel()
{
    m_job.cancel();
}

void LabController::onFinished(const bq::JobResult& result)
{
    if (result.status == bq::JobStatus::Completed && m_running)
        m_last = std::move(m_running);
    m_running.reset();
    emit finished(result);
}

} // namespace studio
