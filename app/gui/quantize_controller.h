// Runs bq::quant::runQuantization on its own worker thread (studio::JobController "quantize"): the request is
// bq::workflow::quantizeRequest(setup, model, resume). Events arrive on the GUI thread as queued signals;
// cancel() reaches the job at once (the core acknowledges within a second and leaves a resumable run file).
// After a completed run, quantizedModel() holds the result until the next start(). GUI thread.
#pragma once
#include "bq/quant/pipeline/pipeline.h"
#include "bq/workflow/quantize_setup.h"
#include "gui/job_controller.h"
#include <QObject>
#include <memory>

namespace studio {

class QuantizeController : public QObject {
    Q_OBJECT
public:
    explicit QuantizeController(QObject* parent = nullptr);

    // False when a run is in progress or there is no model.
    bool start(const bq::workflow::QuantizeSetup& setup, std::shared_ptr<const bq::Model> model, bool resume);
    void cancel();
    bool isRunning() const { return m_job.isRunning(); }

    // The last run's outcome (valid after finished()): statistics, and the model when it completed.
    const bq::quant::QuantizeJobResult& lastResult() const { return m_last; }
    std::shared_ptr<bq::quant::QuantizedModel> quantizedModel() const { return m_last.model; }
    const bq::ProgressEvent& lastProgress() const { return m_progress; }

signals:
    void started();
    void progress(const bq::ProgressEvent& event);
    void layerDone(const bq::LayerResult& result);
    void blockDone(const bq::BlockResult& result); // residual-stream metrics of a finished block
    void logLine(bq::LogLevel level, const QString& text);
    void finished(const bq::JobResult& result);

private:
    void onFinished(const bq::JobResult& result);

    JobController m_job;
    std::shared_ptr<bq::quant::QuantizeJobResult> m_running; // written by the job, read in onFinished
    bq::quant::QuantizeJobResult m_last;
    bq::ProgressEvent m_progress;
};

} // namespace studio
