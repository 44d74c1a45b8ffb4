// Plans and writes exports on its own worker thread through a JobController: plan() runs
// bq::exporter::planExport (every layer packed to check it, the file size), exportTo() runs bq::exporter::
// exportGguf (the same decisions, then the file, written atomically). Both return at once and are cancellable
// (checked per tensor); one job at a time. Results arrive on the GUI thread as planned() / exported() /
// failed().
#pragma once
#include "bq/export/export_gguf.h"
#include "bq/export/export_plan.h"
#include "bq/quant/quantized_model.h"
#include "gui/job_controller.h"
#include <QObject>
#include <QString>
#include <memory>

namespace studio {

class ExportController : public QObject {
    Q_OBJECT
public:
    explicit ExportController(QObject* parent = nullptr);

    // false when a job runs or there is no model.
    bool plan(std::shared_ptr<const bq::quant::QuantizedModel> model, const bq::exporter::ExportOptions& options);
    bool exportTo(std::shared_ptr<const bq::quant::QuantizedModel> model, const QString& path,
                  const bq::exporter::ExportOptions& options);
    void cancel();
    // As the GUI thread sees it: from a successful plan() / exportTo() until its result signal was emitted.
    bool isRunning() const { return m_busy; }
    bool isExporting() const { return m_busy && m_kind == Kind::Export; }

signals:
    void busyChanged(bool busy);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);
    void planned(const bq::exporter::ExportPlan& plan);
    void exported(const bq::exporter::ExportReport& report, const QString& path, const QString& message);
    // kind: what failed ("plan" or "export"); cancelled: stopped by cancel().
    void failed(const QString& kind, const QString& message, bool cancelled);

private:
    enum class Kind { Plan, Export };
    bool startJob(Kind kind, JobController::JobFunction job);
    void onFinished(const bq::JobResult& result);

    JobController m_jobs;
    Kind m_kind = Kind::Plan;
    bool m_busy = false;
    QString m_path;
    std::shared_ptr<bq::exporter::ExportPlan> m_plan;     // written by a plan job, read in onFinished
    std::shared_ptr<bq::exporter::ExportReport> m_report; // written by an export job, read in onFinished
};

} // namespace studio
