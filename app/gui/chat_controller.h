// One chat (one bq::ChatSession) on its own worker thread through a JobController. The session, its model and
// its KV cache live on that thread and are touched only by its jobs; the GUI thread passes values in and gets
// signals out.
//
//   setModel(factory)   the model to chat with, built on the worker by the next job (loading a file or packing
//                       layers can take seconds); replaces the session
//   setConfig(config)   sampler, template and system prompt: applied at once when the conversation has no turn
//                       yet, else at the next reset() (a session's sampler is fixed; configPending() tells)
//   send(text)          one turn: replyText() streams the reply in batches (a 45 ms GUI timer drains what the
//                       worker appended, never one signal per token), statsUpdated() carries live tok/s and the
//                       context, replyFinished() ends it (also when stopped or failed)
//   stop()              cancels the reply (the token is checked per generated token and prefill chunk); the
//                       partial reply stays in the history, marked cancelled
//   reset()             a new conversation (keeps the system prompt); after the running job, if any
//   requestPreview(t)   previewReady(): ChatSession::previewPrompt(t), the prompt the next turn would feed
//
// One job at a time: a send() while a preview or reset runs waits for it; while a reply runs, send() is refused
// and resets and previews wait for it.
#pragma once
#include "bq/chat/chat_session.h"
#include "bq/runtime/inference.h"
#include "gui/job_controller.h"
#include "widgets/chat_pane.h"
#include <QObject>
#include <QString>
#include <QTimer>
#include <functional>
#include <memory>
#include <optional>

namespace studio {

struct ChatConfig {
    bq::ChatOptions options;
    bq::ChatTemplateKind templateKind = bq::ChatTemplateKind::Completion;
    std::string defaultSystem; // the model template's default system prompt (chatml, when the model's own is chosen)
    std::string systemPrompt;
};

// The pane's settings as session options (sampler, max tokens) with the template named in them.
ChatConfig chatConfigFrom(const ChatSettings& settings);
ChatTurnView chatTurnView(const bq::ChatStats& stats, const QString& stopReason = {});

class ChatController : public QObject {
    Q_OBJECT
public:
    using ModelFactory = std::function<std::shared_ptr<const bq::InferenceModel>()>;

    explicit ChatController(const QString& name, QObject* parent = nullptr);
    ~ChatController() override;

    void setModel(ModelFactory factory, const QString& description);
    void clearModel();
    bool hasModel() const { return bool(m_factory); }
    QString description() const { return m_description; }

    void setConfig(const ChatConfig& config);
    bool configPending() const { return m_configVersion != m_appliedConfig && !m_conversationEmpty; }

    bool send(const QString& text); // false: no model, or a reply is already running
    void stop();
    bool reset();
    void requestPreview(const QString& text);
    bool isBusy() const { return m_replying; } // a reply is running or waiting to start

signals:
    void busyChanged(bool busy);
    void replyText(const QString& chunk);
    void statsUpdated(const studio::ChatTurnView& stats);
    void replyFinished(const studio::ChatTurnView& stats);
    void resetDone();
    void previewReady(const QString& prompt);
    void failed(const QString& message);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);

private:
    struct Session;
    struct Stream;
    struct Outcome;
    enum class Kind { Send, Reset, Preview };

    bool startJob(Kind kind, const QString& text);
    void onFinished(const bq::JobResult& result);
    void runPending();
    void flushStream();
    void finishReply(const ChatTurnView& stats);

    JobController m_jobs;
    std::shared_ptr<Session> m_session; // worker-side state, used only inside jobs
    std::shared_ptr<Stream> m_stream;   // written by the worker, drained by m_flush
    std::shared_ptr<Outcome> m_outcome; // the running job's result, read in onFinished
    QTimer m_flush;
    ModelFactory m_factory;
    QString m_description;
    quint64 m_modelVersion = 0;
    ChatConfig m_config;
    quint64 m_configVersion = 0, m_appliedConfig = 0;
    bool m_conversationEmpty = true;
    Kind m_kind = Kind::Preview;
    bool m_jobActive = false; // from startJob() until onFinished(): the worker may be free before finished() arrives
    bool m_replying = false;
    std::optional<QString> m_pendingSend, m_pendingPreview;
    bool m_pendingReset = false;
};

} // namespace studio
