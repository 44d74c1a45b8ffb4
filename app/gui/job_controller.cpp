#include "gui/job_controller.h"
#include <QMetaObject>
#include <mutex>
#include <utility>

namespace studio {

// The EventSink a job sees: every callback is posted to the controller's (GUI) thread and emitted there, so
// every receiver runs on the GUI thread whatever its connection type, in the order the job reported.
class JobController::Bridge final : public bq::EventSink {
public:
    explicit Bridge(JobController& owner) : m_owner(owner) {}
    void progress(const bq::ProgressEvent& e) override
    {
        post([owner = &m_owner, e] { emit owner->progress(e); });
    }
    void layerDone(const bq::LayerResult& r) override
    {
        post([owner = &m_owner, r] { emit owner->layerDone(r); });
    }
    void blockDone(const bq::BlockResult& r) override
    {
        post([owner = &m_owner, r] { emit owner->blockDone(r); });
    }
    void log(bq::LogLevel level, std::string_view text) override
    {
        post([owner = &m_owner, level, line = QString::fromUtf8(text.data(), qsizetype(text.size()))] {
            emit owner->logLine(level, line);
        });
    }

private:
    template <class F>
    void post(F&& f)
    {
        QMetaObject::invokeMethod(&m_owner, std::forward<F>(f), Qt::QueuedConnection);
    }
    JobController& m_owner;
};

void registerJobMetaTypes()
{
    static std::once_flag once;
    std::call_once(once, [] {
        qRegisterMetaType<bq::ProgressEvent>();
        qRegisterMetaType<bq::LayerResult>();
        qRegisterMetaType<bq::BlockResult>();
        qRegisterMetaType<bq::JobResult>();
        qRegisterMetaType<bq::LogLevel>();
    });
}

JobController::JobController(const QString& name, QObject* parent) : QObject(parent), m_name(name)
{
    registerJobMetaTypes();
    m_thread.setObjectName(name);
    m_worker = new QObject;
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
}

JobController::~JobController()
{
    cancel();
    m_thread.quit();
    m_thread.wait();
}

bool JobController::start(JobFunction job)
{
    bool expected = false;
    if (!m_running.compare_exchange_strong(expected, true))
        return false;
    {
        const std::lock_guard<std::mutex> lock(m_cancelMutex);
        m_cancel = std::make_shared<bq::CancelToken>();
    }
    emit started();
    QMetaObject::invokeMethod(m_worker, [this, job = std::move(job)] { run(job); }, Qt::QueuedConnection);
    return true;
}

void JobController::cancel()
{
    const std::lock_guard<std::mutex> lock(m_cancelMutex);
    if (m_cancel)
        m_cancel->request();
}

void JobController::run(const JobFunction& job)
{
    std::shared_ptr<bq::CancelToken> token;
    {
        const std::lock_guard<std::mutex> lock(m_cancelMutex);
        token = m_cancel;
    }
    Bridge bridge(*this);
    bq::JobResult result;
    try {
        result = job(bridge, *token);
    } catch (const std::exception& e) {
        result = {bq::JobStatus::Failed, e.what(), {}};
    } catch (...) {
        result = {bq::JobStatus::Failed, "unknown error", {}};
    }
    // Busy until finished() is delivered: a slot may start the next job from it.
    QMetaObject::invokeMethod(
        this,
        [this, result] {
            m_running.store(false);
            emit finished(result);
        },
        Qt::QueuedConnection);
}

} // namespace studio
