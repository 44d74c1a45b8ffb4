// Runs comparisons (bq::workflow::compareRun: FP base vs its 1-bit model, KL / top-1 / both perplexities, stored in
// the run) on its own worker thread through a JobController. start() returns at once; progress and log lines
// arrive as queued signals, then compared() or failed() on the GUI thread. The evaluation text is read on the
// worker. cancel() reaches the job at once (checked per window / document).
#pragma once
#include "bq/quant/quantized_model.h"
#include "bq/workflow/compare_run.h"
#include "gui/job_controller.h"
#include <QObject>
#include <QString>
#include <memory>

namespace studio {

struct CompareJob {
    QString textPath;                 // empty: the built-in demo text
    bq::workflow::CompareRunRequest request; // eval.text is filled on the worker from textPath
};

class CompareController : public QObject {
    Q_OBJECT
public:
    explicit CompareController(QObject* parent = nullptr);

    // false when a comparison is already running or there is no model.
    bool start(std::shared_ptr<const bq::quant::QuantizedModel> model, const CompareJob& job);
    void cancel();
    // As the GUI thread sees it: from a successful start() until compared() / failed() was emitted.
    bool isRunning() const { return m_busy; }

signals:
    void busyChanged(bool busy);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);
    void compared(const bq::workflow::CompareRunResult& result, const QString& message);
    // Failed or cancelled (a comparison computed but not stored also ends here: the message has its figures).
    void failed(const QString& message, bool cancelled);

private:
    void onFinished(const bq::JobResult& result);

    JobController m_jobs;
    bool m_busy = false;
    std::shared_ptr<bq::workflow::CompareRunResult> m_result; // written by the running job, read in onFinished
};

} // namespace studio
