#include "gui/export_controller.h"
#include "bq/jobs/run_job.h"

namespace studio {

ExportController::ExportController(QObject* parent) : QObject(parent), m_jobs(QStringLiteral("export"))
{
    connect(&m_jobs, &JobController::progress, this, &ExportController::progress);
    connect(&m_jobs, &JobController::logLine, this, &ExportController::logLine);
    connect(&m_jobs, &JobController::finished, this, &ExportController::onFinished);
}

bool ExportController::startJob(Kind kind, JobController::JobFunction job)
{
    if (m_busy || !m_jobs.start(std::move(job)))
        return false;
    m_kind = kind;
    m_busy = true;
    emit busyChanged(true);
    return true;
}

bool ExportController::plan(std::shared_ptr<const bq::quant::QuantizedModel> model,
                            const bq::exporter::ExportOptions& options)
{
    if (!model || m_busy)
        return false;
    auto plan = std::make_shared<bq::exporter::ExportPlan>();
    const bool ok = startJob(Kind::Plan, [model, options, plan](bq::EventSink&, const bq::CancelToken& cancel) {
        return bq::runJob("plan: ", [&] {
            *plan = bq::exporter::planExport(*model, options, cancel);
            return bq::JobResult{};
        });
    });
    if (ok) {
        m_plan = std::move(plan);
        m_report.reset();
    }
    return ok;
}

bool ExportController::exportTo(std::shared_ptr<const bq::quant::QuantizedModel> model, const QString& path,
                                const bq::exporter::ExportOptions& options)
{
    if (!model || m_busy || path.isEmpty())
        return false;
    auto report = std::make_shared<bq::exporter::ExportReport>();
    const std::string file = path.toStdString();
    const bool ok =
        startJob(Kind::Export, [model, options, report, file](bq::EventSink& sink, const bq::CancelToken& cancel) {
            return bq::exporter::exportGguf(*model, file, options, *report, sink, cancel);
        });
    if (ok) {
        m_path = path;
        m_report = std::move(report);
        m_plan.reset();
    }
    return ok;
}

void ExportController::cancel()
{
    m_jobs.cancel();
}

void ExportController::onFinished(const bq::JobResult& result)
{
    const auto plan = std::move(m_plan);
    const auto report = std::move(m_report);
    m_busy = false;
    emit busyChanged(false);
    const QString message = QString::fromStdString(result.message);
    if (result.status != bq::JobStatus::Completed) {
        emit failed(m_kind == Kind::Plan ? QStringLiteral("plan") : QStringLiteral("export"), message,
                    result.status == bq::JobStatus::Cancelled);
        return;
    }
    if (m_kind == Kind::Plan && plan)
        emit planned(*plan);
    else if (m_kind == Kind::Export && report)
        emit exported(*report, m_path, message);
}

} // namespace studio
