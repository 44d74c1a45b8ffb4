#include "gui/chat_controller.h"
#include "bq/chat/chat_template.h"
#include "bq/jobs/run_job.h"
#include <mutex>

namespace studio {

ChatConfig chatConfigFrom(const ChatSettings& s)
{
    ChatConfig c;
    c.options.sampler.temperature = float(s.temperature);
    c.options.sampler.topK = s.topK;
    c.options.sampler.topP = float(s.topP);
    c.options.sampler.minP = float(s.minP);
    c.options.sampler.repetitionPenalty = float(s.repetitionPenalty);
    c.options.sampler.seed = s.seed;
    c.options.maxTokens = s.maxTokens;
    c.templateKind = bq::chatTemplateFromName(s.templateName.toStdString()).value_or(bq::ChatTemplateKind::Completion);
    c.systemPrompt = s.systemPrompt.toStdString();
    return c;
}

ChatTurnView chatTurnView(const bq::ChatStats& s, const QString& stopReason)
{
    ChatTurnView v;
    v.promptTokens = s.promptTokens;
    v.reusedTokens = s.reusedTokens;
    v.generatedTokens = s.generatedTokens;
    v.promptTokensPerSecond = s.promptTokensPerSecond();
    v.generationTokensPerSecond = s.generationTokensPerSecond();
    v.contextUsed = s.contextUsed;
    v.contextCapacity = s.contextCapacity;
    v.stopReason = stopReason;
    return v;
}

namespace {

bool sameConfig(const ChatConfig& a, const ChatConfig& b)
{
    const bq::SamplerConfig &x = a.options.sampler, &y = b.options.sampler;
    return x.temperature == y.temperature && x.topK == y.topK && x.topP == y.topP && x.minP == y.minP &&
           x.repetitionPenalty == y.repetitionPenalty && x.repeatLastN == y.repeatLastN && x.seed == y.seed &&
           a.options.maxTokens == b.options.maxTokens && a.options.contextTokens == b.options.contextTokens &&
           a.options.overflow == b.options.overflow && a.templateKind == b.templateKind &&
           a.defaultSystem == b.defaultSystem && a.systemPrompt == b.systemPrompt;
}

QString stopReasonText(bq::ChatStopReason reason)
{
    return reason == bq::ChatStopReason::Cancelled ? QObject::tr("stopped")
                                                   : QString::fromUtf8(bq::chatStopReasonName(reason));
}

// A reply that never ran (stopped or failed before its job started).
ChatTurnView noReply(bq::ChatStopReason reason)
{
    ChatTurnView v;
    v.stopReason = stopReasonText(reason);
    return v;
}

} // namespace

// Worker-side state: only jobs touch it, one at a time, on the controller's thread.
struct ChatController::Session {
    quint64 modelVersion = 0, configVersion = 0;
    std::shared_ptr<const bq::InferenceModel> model;
    std::unique_ptr<bq::ChatSession> chat;

    bool conversationEmpty() const
    {
        for (const bq::ChatMessage& m : chat->history())
            if (m.role != bq::ChatRole::System)
                return false;
        return true;
    }
    // Builds the model and the session when they are missing or stale; a changed config replaces the session
    // only when nothing would be lost (or on reset).
    void prepare(const ModelFactory& factory, quint64 wantModel, const ChatConfig& config, quint64 wantConfig,
                 bool resetting, bq::EventSink& sink)
    {
        if (!model || modelVersion != wantModel) {
            chat.reset();
            model.reset();
            sink.log(bq::LogLevel::Info, "chat: preparing the model");
            model = factory();
            modelVersion = wantModel;
        }
        if (!chat || (configVersion != wantConfig && (resetting || conversationEmpty()))) {
            chat = std::make_unique<bq::ChatSession>(model, bq::ChatTemplate(config.templateKind, config.defaultSystem),
                                                    config.options);
            if (!config.systemPrompt.empty())
                chat->setSystemPrompt(config.systemPrompt);
            configVersion = wantConfig;
        }
    }
};

// The reply as it streams: appended by the worker, taken by the GUI timer.
struct ChatController::Stream {
    std::mutex mutex;
    std::string text;
    bq::ChatStats stats;
    bool statsFresh = false;
};

struct ChatController::Outcome {
    bq::ChatReply reply;
    bool replied = false;
    std::string preview;
    quint64 appliedConfig = 0;
    bool conversationEmpty = true;
};

namespace {

class StreamEvents final : public bq::ChatEvents {
public:
    StreamEvents(std::mutex& mutex, std::string& text, bq::ChatStats& stats, bool& fresh, bq::EventSink& sink)
        : m_mutex(mutex), m_text(text), m_stats(stats), m_fresh(fresh), m_sink(sink)
    {
    }
    void promptProcessed(const bq::ChatStats& s) override
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_stats = s;
        m_fresh = true;
    }
    void text(std::string_view piece, const bq::ChatStats& sofar) override
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_text.append(piece);
        m_stats = sofar;
        m_fresh = true;
    }
    void log(bq::LogLevel level, std::string_view text) override { m_sink.log(level, text); }

private:
    std::mutex& m_mutex;
    std::string& m_text;
    bq::ChatStats& m_stats;
    bool& m_fresh;
    bq::EventSink& m_sink;
};

} // namespace

ChatController::ChatController(const QString& name, QObject* parent)
    : QObject(parent), m_jobs(name), m_session(std::make_shared<Session>()), m_stream(std::make_shared<Stream>())
{
    m_flush.setInterval(45);
    connect(&m_flush, &QTimer::timeout, this, &ChatController::flushStream);
    connect(&m_jobs, &JobController::progress, this, &ChatController::progress);
    connect(&m_jobs, &JobController::logLine, this, &ChatController::logLine);
    connect(&m_jobs, &JobController::finished, this, &ChatController::onFinished);
}

ChatController::~ChatController() = default;

void ChatController::setModel(ModelFactory factory, const QString& description)
{
    m_factory = std::move(factory);
    m_description = description;
    ++m_modelVersion;
    m_conversationEmpty = true;
    m_appliedConfig = m_configVersion;
}

void ChatController::clearModel()
{
    setModel({}, QString());
}

void ChatController::setConfig(const ChatConfig& config)
{
    if (sameConfig(config, m_config))
        return;
    m_config = config;
    ++m_configVersion;
    if (m_conversationEmpty)
        m_appliedConfig = m_configVersion; // the next job builds the session with it
}

bool ChatController::send(const QString& text)
{
    if (!m_factory || m_replying)
        return false;
    m_replying = true;
    emit busyChanged(true);
    if (m_jobActive) {
        m_pendingSend = text; // after the preview or reset that runs
        return true;
    }
    return startJob(Kind::Send, text);
}

void ChatController::stop()
{
    if (m_pendingSend) {
        m_pendingSend.reset();
        finishReply(noReply(bq::ChatStopReason::Cancelled));
    }
    if (m_jobActive && m_kind == Kind::Send)
        m_jobs.cancel();
}

bool ChatController::reset()
{
    if (m_jobActive)
        m_pendingReset = true;
    else if (!startJob(Kind::Reset, {}))
        return false;
    return true;
}

void ChatController::requestPreview(const QString& text)
{
    if (!m_factory)
        return;
    if (m_jobActive) {
        m_pendingPreview = text;
        return;
    }
    startJob(Kind::Preview, text);
}

bool ChatController::startJob(Kind kind, const QString& text)
{
    if (!m_factory || m_jobActive)
        return false;
    auto session = m_session;
    auto stream = m_stream;
    auto outcome = std::make_shared<Outcome>();
    const ModelFactory factory = m_factory;
    const quint64 modelVersion = m_modelVersion, configVersion = m_configVersion;
    const ChatConfig config = m_config;
    const std::string input = text.toStdString();
    if (kind == Kind::Send) { // emptied before the job starts: it may stream at once
        const std::lock_guard<std::mutex> lock(m_stream->mutex);
        m_stream->text.clear();
        m_stream->statsFresh = false;
    }
    const bool started = m_jobs.start([=](bq::EventSink& sink, const bq::CancelToken& cancel) {
        return bq::runJob("chat: ", [&]() -> bq::JobResult {
            session->prepare(factory, modelVersion, config, configVersion, kind == Kind::Reset, sink);
            bq::JobResult result;
            if (kind == Kind::Reset) {
                session->chat->reset();
            } else if (kind == Kind::Preview) {
                outcome->preview = session->chat->previewPrompt(input);
            } else {
                StreamEvents events(stream->mutex, stream->text, stream->stats, stream->statsFresh, sink);
                outcome->reply = session->chat->send(input, events, cancel);
                outcome->replied = true;
                if (outcome->reply.reason == bq::ChatStopReason::Cancelled)
                    result = {bq::JobStatus::Cancelled, "stopped", {}};
                else if (outcome->reply.reason == bq::ChatStopReason::Error)
                    result = {bq::JobStatus::Failed, outcome->reply.message, {}};
            }
            outcome->appliedConfig = session->configVersion;
            outcome->conversationEmpty = session->conversationEmpty();
            return result;
        });
    });
    if (!started)
        return false;
    m_jobActive = true;
    m_kind = kind;
    m_outcome = std::move(outcome);
    if (kind == Kind::Send)
        m_flush.start();
    return true;
}

void ChatController::flushStream()
{
    std::string text;
    std::optional<bq::ChatStats> stats;
    {
        const std::lock_guard<std::mutex> lock(m_stream->mutex);
        text.swap(m_stream->text);
        if (m_stream->statsFresh)
            stats = m_stream->stats;
        m_stream->statsFresh = false;
    }
    if (!text.empty())
        emit replyText(QString::fromUtf8(text.data(), qsizetype(text.size())));
    if (stats)
        emit statsUpdated(chatTurnView(*stats));
}

void ChatController::finishReply(const ChatTurnView& stats)
{
    m_replying = false;
    emit replyFinished(stats);
    emit busyChanged(false);
}

void ChatController::onFinished(const bq::JobResult& result)
{
    const std::shared_ptr<Outcome> outcome = std::move(m_outcome);
    const Kind kind = m_kind;
    m_jobActive = false;
    if (outcome && (outcome->replied || kind == Kind::Reset || kind == Kind::Preview)) {
        m_appliedConfig = outcome->appliedConfig;
        m_conversationEmpty = outcome->conversationEmpty;
    }
    if (kind == Kind::Send) {
        m_flush.stop();
        flushStream();
        if (result.status == bq::JobStatus::Failed)
            emit failed(QString::fromStdString(result.message));
        if (outcome && outcome->replied)
            finishReply(chatTurnView(outcome->reply.stats, stopReasonText(outcome->reply.reason)));
        else
            finishReply(noReply(result.status == bq::JobStatus::Cancelled ? bq::ChatStopReason::Cancelled
                                                                           : bq::ChatStopReason::Error));
    } else if (result.status != bq::JobStatus::Completed) {
        emit failed(QString::fromStdString(result.message));
    } else if (kind == Kind::Reset) {
        emit resetDone();
    } else if (outcome) {
        emit previewReady(QString::fromStdString(outcome->preview));
    }
    runPending();
}

void ChatController::runPending()
{
    if (m_jobActive)
        return;
    if (m_pendingReset) {
        m_pendingReset = false;
        startJob(Kind::Reset, {});
    } else if (m_pendingSend) {
        const QString text = *m_pendingSend;
        m_pendingSend.reset();
        if (!startJob(Kind::Send, text))
            finishReply(noReply(bq::ChatStopReason::Error));
    } else if (m_pendingPreview) {
        const QString text = *m_pendingPreview;
        m_pendingPreview.reset();
        startJob(Kind::Preview, text);
    }
}

} // namespace studio
