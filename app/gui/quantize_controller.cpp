#include "gui/quantize_controller.h"
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace {

// The quantization is CPU-bound on every core; at a lower priority than the GUI thread it cannot starve the
// event loop when the machine is busy (Linux: the nice value is per thread and the pipeline's worker threads,
// created from this one, inherit it). Qt's thread priorities do nothing for SCHED_OTHER threads. Results do
// not depend on scheduling.
void lowerThisThreadsPriority()
{
#ifdef __linux__
    setpriority(PRIO_PROCESS, id_t(syscall(SYS_gettid)), 10);
#endif
}

} // namespace

namespace studio {

QuantizeController::QuantizeController(QObject* parent) : QObject(parent), m_job(QStringLiteral("quantize"))
{
    connect(&m_job, &JobController::progress, this, [this](const bq::ProgressEvent& e) {
        m_progress = e;
        emit progress(e);
    });
    connect(&m_job, &JobController::layerDone, this, &QuantizeController::layerDone);
    connect(&m_job, &JobController::blockDone, this, &QuantizeController::blockDone);
    connect(&m_job, &JobController::logLine, this, &QuantizeController::logLine);
    connect(&m_job, &JobController::finished, this, &QuantizeController::onFinished);
}

bool QuantizeController::start(const bq::workflow::QuantizeSetup& setup, std::shared_ptr<const bq::Model> model,
                               bool resume)
{
    if (!model || m_job.isRunning())
        return false;
    auto result = std::make_shared<bq::quant::QuantizeJobResult>();
    const bool ok = m_job.start(
        [request = bq::workflow::quantizeRequest(setup, std::move(model), resume),
         result](bq::EventSink& sink, const bq::CancelToken& cancel) {
            lowerThisThreadsPriority();
            *result = bq::quant::runQuantization(request, sink, cancel);
            return result->job;
        });
    if (!ok)
        return false;
    m_running = std::move(result);
    m_last = {};
    m_progress = {};
    emit started();
    return true;
}

void QuantizeController::cancel()
{
    m_job.cancel();
}

void QuantizeController::onFinished(const bq::JobResult& result)
{
    if (m_running)
        m_last = std::move(*m_running);
    m_running.reset();
    m_last.job = result; // a job that threw reports only through the JobResult
    emit finished(result);
}

} // namespace studio
