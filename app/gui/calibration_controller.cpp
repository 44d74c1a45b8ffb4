#include "gui/calibration_controller.h"
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/run/fingerprint.h"
#include "bq/tokenizer/documents.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace studio {

namespace q = bq::quant;

std::vector<q::CalibrationSource> calibrationSources(const CalibrationSettings& settings)
{
    std::vector<q::CalibrationSource> sources;
    for (const QString& name : settings.sources) {
        q::CalibrationSource src;
        src.path = name.toStdString();
        if (name == QLatin1String(CalibrationSettings::kDemoText))
            src.text = bq::demoText();
        src.docBegin = settings.docBegin;
        src.docEnd = settings.docEnd;
        sources.push_back(std::move(src));
    }
    return sources;
}

q::CalibrationOptions calibrationOptions(const CalibrationSettings& settings)
{
    q::CalibrationOptions o;
    o.samples = settings.samples;
    o.seqLen = settings.seqLen;
    o.seed = settings.seed;
    o.sampling = q::parseCalibrationSampling(settings.sampling.toStdString());
    return o;
}

q::Recipe withCalibrationSettings(q::Recipe recipe, const CalibrationSettings& settings)
{
    recipe.samples = settings.samples;
    recipe.seqLen = settings.seqLen;
    recipe.seed = settings.seed;
    recipe.sampling = settings.sampling.toStdString();
    return recipe;
}

// Written by the job, read by onFinished (the queued finished() signal orders the read after the write).
struct CalibrationController::Outcome {
    CalibrationSummary summary;
    ResumeCheck resume;
};

// The model fingerprint of the last model checked, shared with the jobs (one at a time, guarded anyway).
struct CalibrationController::FingerprintCache {
    std::mutex mutex;
    std::weak_ptr<const bq::Model> model;
    std::string fingerprint;

    std::string get(const std::shared_ptr<const bq::Model>& m, const bq::CancelToken& cancel)
    {
        {
            const std::lock_guard<std::mutex> lock(mutex);
            if (model.lock() == m && !fingerprint.empty())
                return fingerprint;
        }
        std::string fp = q::modelFingerprint(*m, &cancel);
        const std::lock_guard<std::mutex> lock(mutex);
        model = m;
        fingerprint = fp;
        return fp;
    }
};

namespace {

// Loads the text of file sources once, so the document count and buildCalibration read the same bytes.
void loadTexts(std::vector<q::CalibrationSource>& sources)
{
    for (q::CalibrationSource& src : sources) {
        if (!src.text.empty())
            continue;
        std::ifstream f(src.path, std::ios::binary);
        if (!f)
            throw std::runtime_error(src.path.string() + ": cannot open the calibration text");
        std::stringstream ss;
        ss << f.rdbuf();
        src.text = ss.str();
    }
}

int selectedDocuments(const std::vector<q::CalibrationSource>& sources)
{
    int count = 0;
    for (const q::CalibrationSource& src : sources) {
        const int n = int(bq::splitDocuments(src.text).size());
        const int begin = std::max(0, src.docBegin);
        const int end = src.docEnd < 0 ? n : std::min(src.docEnd, n);
        count += std::max(0, end - begin);
    }
    return count;
}

} // namespace

CalibrationController::CalibrationController(QObject* parent)
    : QObject(parent), m_job(QStringLiteral("calibration")), m_fingerprints(std::make_shared<FingerprintCache>())
{
    qRegisterMetaType<studio::CalibrationSummary>();
    qRegisterMetaType<studio::ResumeCheck>();
    connect(&m_job, &JobController::finished, this, &CalibrationController::onFinished);
}

void CalibrationController::build(CalibrationRequest request)
{
    if (m_job.isRunning()) {
        m_queued = std::move(request);
        m_superseded = true;
        m_job.cancel();
        return;
    }
    launch(std::move(request));
}

void CalibrationController::cancel()
{
    m_queued.reset();
    m_superseded = false;
    m_job.cancel();
}

void CalibrationController::launch(CalibrationRequest request)
{
    m_outcome = std::make_shared<Outcome>();
    m_superseded = false;
    auto outcome = m_outcome;
    auto fingerprints = m_fingerprints;
    m_job.start([request = std::move(request), outcome, fingerprints](bq::EventSink&,
                                                                       const bq::CancelToken& cancel) -> bq::JobResult {
        try {
            if (!request.model)
                throw std::invalid_argument("no model is open");
            if (!request.model->tokenizer)
                throw std::invalid_argument(request.model->sourcePath +
                                            ": the model has no tokenizer to encode the calibration text");
            std::vector<q::CalibrationSource> sources = calibrationSources(request.settings);
            loadTexts(sources);
            const q::CalibrationSet set =
                q::buildCalibration(*request.model->tokenizer, sources, calibrationOptions(request.settings), &cancel);
            outcome->summary.documents = selectedDocuments(sources);
            outcome->summary.windows = set.samples;
            outcome->summary.windowLength = set.seqLen;
            outcome->summary.tokens = qint64(set.tokens.size());
            outcome->summary.description = QString::fromStdString(set.description);
            if (!request.runPath.isEmpty()) {
                const std::filesystem::path runPath = request.runPath.toStdString();
                std::error_code ec;
                const std::string modelFp =
                    std::filesystem::exists(runPath, ec) ? fingerprints->get(request.model, cancel) : std::string();
                outcome->resume = toResumeCheck(
                    bq::workflow::checkResume(runPath, request.model, set, request.recipe, cancel, modelFp));
            }
            return {bq::JobStatus::Completed, set.description, {}};
        } catch (const bq::Cancelled&) {
            return {bq::JobStatus::Cancelled, "cancelled", {}};
        } catch (const std::exception& e) {
            return {bq::JobStatus::Failed, e.what(), {}};
        }
    });
    emit started();
}

void CalibrationController::onFinished(const bq::JobResult& result)
{
    const bool superseded = m_superseded;
    const std::shared_ptr<Outcome> outcome = std::move(m_outcome);
    if (m_queued) {
        CalibrationRequest next = std::move(*m_queued);
        m_queued.reset();
        launch(std::move(next));
    }
    if (superseded)
        return; // a newer request is running: this result is stale
    switch (result.status) {
    case bq::JobStatus::Completed: emit built(outcome->summary, outcome->resume); break;
    case bq::JobStatus::Cancelled: emit cancelled(); break;
    case bq::JobStatus::Failed: emit failed(QString::fromStdString(result.message)); break;
    }
}

} // namespace studio
