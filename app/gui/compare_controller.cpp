#include "gui/compare_controller.h"
#include "bq/demo/demo_model.h"
#include <QFile>
#include <QFileInfo>

namespace studio {

CompareController::CompareController(QObject* parent)
    : QObject(parent), m_jobs(QStringLiteral("compare"))
{
    connect(&m_jobs, &JobController::progress, this, &CompareController::progress);
    connect(&m_jobs, &JobController::logLine, this, &CompareController::logLine);
    connect(&m_jobs, &JobController::finished, this, &CompareController::onFinished);
}

bool CompareController::start(std::shared_ptr<const bq::quant::QuantizedModel> model, const CompareJob& job)
{
    if (!model || m_busy)
        return false;
    auto result = std::make_shared<bq::workflow::CompareRunResult>();
    const bool started = m_jobs.start([model, job, result](bq::EventSink& sink, const bq::CancelToken& cancel) {
        bq::workflow::CompareRunRequest request = job.request;
        if (job.textPath.isEmpty()) {
            request.eval.text = bq::demoText();
            if (request.textName.empty())
                request.textName = "demo text";
        } else {
            QFile file(job.textPath);
            if (!file.open(QIODevice::ReadOnly))
                return bq::JobResult{bq::JobStatus::Failed,
                                     "compare: cannot read " + job.textPath.toStdString() + ": " +
                                         file.errorString().toStdString(),
                                     {}};
            const QByteArray bytes = file.readAll();
            request.eval.text.assign(bytes.constData(), std::size_t(bytes.size()));
            if (request.textName.empty())
                request.textName = QFileInfo(job.textPath).fileName().toStdString();
        }
        return bq::workflow::compareRun(*model, request, *result, sink, cancel);
    });
    if (!started)
        return false;
    m_result = std::move(result);
    m_busy = true;
    emit busyChanged(true);
    return true;
}

void CompareController::cancel()
{
    m_jobs.cancel();
}

void CompareController::onFinished(const bq::JobResult& result)
{
    const std::shared_ptr<bq::workflow::CompareRunResult> r = std::move(m_result);
    m_busy = false;
    emit busyChanged(false);
    const QString message = QString::fromStdString(result.message);
    if (result.status == bq::JobStatus::Completed && r)
        emit compared(*r, message);
    else
        emit failed(message, result.status == bq::JobStatus::Cancelled);
}

} // namespace studio
