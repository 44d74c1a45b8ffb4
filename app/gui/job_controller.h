// One kind of background job on its own worker thread (architecture.md §4, GPT4All's chatllm pattern).
//
// start() posts a job function to the controller's thread and returns at once; the job's events are posted to
// the GUI thread and emitted there (so even a lambda connected without a context object runs on the GUI thread),
// in order; cancel() sets the job's CancelToken directly, never waiting behind queued work; finished() comes
// last, once per start(), and isRunning() stays true until it is delivered.
// Destruction cancels, quits the thread and waits for it. One job at a time: start() while a job runs is
// refused (returns false). Job functions never throw (they follow the job contract, bq/jobs/job.h); one that
// does anyway is reported as Failed.
//
// Results other than the JobResult travel in the job function's captures (e.g. a shared_ptr the controller
// reads in its finished() slot: the queued signal orders the read after the job's write).
#pragma once
#include "gui/meta_types.h"
#include "bq/jobs/job.h"
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

namespace studio {

class JobController : public QObject {
    Q_OBJECT
public:
    using JobFunction = std::function<bq::JobResult(bq::EventSink& sink, const bq::CancelToken& cancel)>;

    // name: the worker thread's name (shown by debuggers and in log lines).
    explicit JobController(const QString& name, QObject* parent = nullptr);
    ~JobController() override;

    bool start(JobFunction job);
    void cancel();             // any thread; a no-op when idle
    bool isRunning() const { return m_running.load(); }
    QString name() const { return m_name; }

signals:
    void started();
    void progress(const bq::ProgressEvent& event);
    void layerDone(const bq::LayerResult& result);
    void blockDone(const bq::BlockResult& result);
    void logLine(bq::LogLevel level, const QString& text);
    void finished(const bq::JobResult& result);

private:
    class Bridge;
    void run(const JobFunction& job); // on m_thread

    QString m_name;
    QThread m_thread;
    QObject* m_worker = nullptr; // lives on m_thread; deleted when it finishes
    std::atomic<bool> m_running{false};
    std::mutex m_cancelMutex;
    std::shared_ptr<bq::CancelToken> m_cancel; // the latest job's token; guarded by m_cancelMutex
};

// Registers the event value types for queued connections (once, before the first controller is made).
void registerJobMetaTypes();

} // namespace studio
