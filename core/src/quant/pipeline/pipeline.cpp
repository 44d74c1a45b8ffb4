#include "bq/quant/pipeline/pipeline.h"
#include "bq/jobs/run_job.h"
#include "bq/model/model.h"
#include "bq/quant/run/fingerprint.h"
#include "bq/util/thread_pool.h"
#include "calibration_streams.h"
#include "gram_collector.h"
#include "layer_jobs.h"
#include "layer_scheduler.h"
#include "run_events.h"
#include "run_setup.h"
#include <chrono>

namespace bq::quant {

namespace {

AnalysisOptions analysisOptions(const Recipe& recipe)
{
    AnalysisOptions o;
    if (recipe.analysis == "light") {
        o.spectra = false;
        o.gramSpectrum = false;
        o.histograms = false;
    }
    o.percdamp = recipe.damping;
    return o;
}

JobResult quantize(const QuantizeJobRequest& request, RunEvents& events, const CancelToken& cancel,
                   QuantizeJobResult& result)
{
    if (!request.model)
        throw std::invalid_argument("quantize: no model");
    const Model& model = *request.model;
    const Recipe& recipe = request.recipe;
    ThreadPool pool(request.threads);

    events.progress(Stage::Load, 0, 1, 0, 0, true);
    result.resolution = resolveRecipe(recipe, model);
    for (const std::string& w : result.resolution.warnings)
        events.log(LogLevel::Warning, w);
    result.estimate = estimateRun(recipe, result.resolution, model, pool.size(), !request.runPath.empty());
    // The FP stream: for the methods that need it, and for the cumulative / residual-stream metrics.
    const bool twoStreams = recipe.analysis == "full" || result.resolution.anyTwoStreams();
    const AnalysisOptions analysis = analysisOptions(recipe);
    events.progress(Stage::Load, 1, 1, 0, 0, true);

    events.progress(Stage::Calibrate, 0, 1, 0, 0, true);
    const CalibrationSet calibration = requestCalibration(request, cancel);
    if (calibration.seqLen > model.config.maxSeqLen)
        events.log(LogLevel::Warning, "calibration windows of " + std::to_string(calibration.seqLen) +
                                          " tokens exceed the model context " + std::to_string(model.config.maxSeqLen) +
                                          "; RoPE positions beyond it are extrapolated");
    result.calibrationDescription = calibration.description;
    events.log(LogLevel::Info, "calibration: " + calibration.description);
    std::string modelFp; // only with a run file (it reads every byte of the model)
    ResumedRun resumed;
    if (!request.runPath.empty()) {
        modelFp = modelFingerprint(model, &cancel);
        resumed = openRunFile(request, calibration, modelFp, events);
        events.setResumedBlocks(resumed.finishedBlocks);
    }
    events.progress(Stage::Calibrate, 1, 1, 0, 0, true);

    CalibrationStreams streams(model.config, calibration, twoStreams, pool, cancel);
    GramCollector grams(streams);
    const LayerQuantizer quantizer(analysis, streams.tokens(), cancel);
    LayerScheduler scheduler(request, result.resolution, resumed, streams, grams, quantizer, events, result);
    const int steps = scheduler.progressSteps();
    {
        const auto embedding = scheduler.quantizeEmbedding();
        const std::vector<float> fpEmbedding = model.tensor("token_embd.weight").toFloat();
        streams.embed(embedding ? embedding->data() : fpEmbedding.data(), fpEmbedding.data());
    }
    for (int l = 0; l < model.config.nLayers; ++l) {
        if (l < resumed.finishedBlocks)
            scheduler.replayBlock(l);
        else
            scheduler.quantizeBlock(l);
        events.progress(Stage::Quantize, l + 1, steps, 0, 7, true);
    }
    scheduler.quantizeHead();
    events.progress(Stage::Quantize, steps, steps, 0, 0, true);
    result.gramSeconds = grams.gramSeconds();
    result.gramFlops = grams.gramFlops();

    auto qm = std::make_shared<QuantizedModel>();
    qm->base = request.model;
    qm->layers = scheduler.takeLayers();
    qm->recipe = recipe.toJson();
    qm->modelFingerprint = modelFp;
    qm->calibrationFingerprint = calibration.fingerprint();
    qm->runPath = request.runPath.string();
    result.model = qm;
    result.resumedBlocks = resumed.finishedBlocks;
    events.runCompleted();

    JobResult job;
    job.message = "quantized " + std::to_string(qm->layers.size()) + " weight matrices";
    if (!request.runPath.empty())
        job.outputs.push_back(request.runPath);
    return job;
}

} // namespace

QuantizeJobResult runQuantization(const QuantizeJobRequest& request, EventSink& sink, const CancelToken& cancel)
{
    QuantizeJobResult result;
    const auto t0 = std::chrono::steady_clock::now();
    RunEvents events(sink);
    result.job = runJob(
        "",
        [&]() -> JobResult {
            try {
                return quantize(request, events, cancel, result);
            } catch (const ResumeMismatch& e) {
                result.resumeMismatch = e.fields();
                throw;
            }
        },
        [&](const JobResult& stopped) {
            if (stopped.status == JobStatus::Cancelled) {
                events.runStopped(RunStatus::Cancelled, stopped.message);
                sink.log(LogLevel::Warning,
                         "quantization cancelled; the run file keeps the finished blocks (use --resume)");
            } else {
                events.runStopped(RunStatus::Failed, stopped.message);
                sink.log(LogLevel::Error, stopped.message);
            }
        });
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.peakRssBytes = peakRssBytes();
    return result;
}

std::optional<ResumeMismatch> checkResume(const QuantizeJobRequest& request, const CancelToken& cancel,
                                          const std::string& modelFp)
{
    if (!request.model)
        throw std::invalid_argument("checkResume: no model");
    if (request.runPath.empty() || !std::filesystem::exists(request.runPath))
        return std::nullopt;
    QuantizeJobRequest resume = request;
    resume.resume = true; // without calibration text, the windows stored in the run file
    const CalibrationSet calibration = requestCalibration(resume, cancel);
    const RunFileReader reader(request.runPath);
    return resumeMismatch(request.runPath, reader.header(),
                          runFingerprints(request, calibration,
                                          modelFp.empty() ? modelFingerprint(*request.model, &cancel) : modelFp));
}

} // namespace bq::quant
