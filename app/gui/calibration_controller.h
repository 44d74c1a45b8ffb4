// Builds the calibration set of the Run page's settings on its own worker thread (bq::quant::buildCalibration
// with the open model's tokenizer) to report what a run would use — documents, tokens, windows — and, since
// the calibration fingerprint is then known, checks whether the run file can be resumed (resume_check.h).
// build() supersedes a build in flight (it is cancelled, the newest request runs when it stops); cancel()
// stops it and drops a queued one. One result signal per build that ran to its end: built(), failed() or
// cancelled(). The model fingerprint (it reads every byte of the model, ~1 s per GB) is computed once per model.
//
// The settings → core mapping lives here too (the quantize setup uses it): ":demo text" is bq::demoText(),
// and the panel's samples, length, seed and sampling override the recipe's.
#pragma once
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/recipe/recipe.h"
#include "gui/job_controller.h"
#include "gui/resume_check.h"
#include "widgets/calibration_panel.h"
#include <QObject>
#include <memory>
#include <optional>
#include <vector>

namespace bq {
struct Model;
}

namespace studio {

std::vector<bq::quant::CalibrationSource> calibrationSources(const CalibrationSettings& settings);
// Throws std::invalid_argument for an unknown sampling mode.
bq::quant::CalibrationOptions calibrationOptions(const CalibrationSettings& settings);
// The recipe with the settings' samples, window length, seed and sampling.
bq::quant::Recipe withCalibrationSettings(bq::quant::Recipe recipe, const CalibrationSettings& settings);

struct CalibrationRequest {
    CalibrationSettings settings;
    std::shared_ptr<const bq::Model> model; // its tokenizer encodes; its fingerprint goes into the resume check
    bq::quant::Recipe recipe;               // the run's effective recipe (withCalibrationSettings)
    QString runPath;                        // checked for resume when it exists; "" = no check
};

class CalibrationController : public QObject {
    Q_OBJECT
public:
    explicit CalibrationController(QObject* parent = nullptr);

    void build(CalibrationRequest request);
    void cancel();
    bool isRunning() const { return m_job.isRunning(); }

signals:
    void started();
    void built(const studio::CalibrationSummary& summary, const studio::ResumeCheck& resume);
    void failed(const QString& message);
    void cancelled();

private:
    struct Outcome;
    struct FingerprintCache;
    void launch(CalibrationRequest request);
    void onFinished(const bq::JobResult& result);

    JobController m_job;
    std::optional<CalibrationRequest> m_queued;
    bool m_superseded = false; // the running build was cancelled for a newer one: no result signal
    std::shared_ptr<Outcome> m_outcome;
    std::shared_ptr<FingerprintCache> m_fingerprints;
};

} // namespace studio

Q_DECLARE_METATYPE(studio::CalibrationSummary)
