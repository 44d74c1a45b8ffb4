#include "gui/chat_page.h"
#include "bq/chat/chat_template.h"
#include "bq/model/model.h"
#include "bq/workflow/open_model.h"
#include "gui/chat_controller.h"
#include "widgets/chat_pane.h"
#include <QFileInfo>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace studio {

ChatPage::ChatPage(QWidget* parent) : QWidget(parent)
{
    m_pane = new ChatPane(this);
    m_fp = new ChatController(QStringLiteral("chat-fp"), this);
    m_quantized = new ChatController(QStringLiteral("chat-1bit"), this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_pane);

    connectController(m_fp);
    connectController(m_quantized);
    connect(m_pane, &ChatPane::sendRequested, this, &ChatPage::send);
    connect(m_pane, &ChatPane::stopRequested, this, &ChatPage::stop);
    connect(m_pane, &ChatPane::resetRequested, this, &ChatPage::reset);
    connect(m_pane, &ChatPane::settingsChanged, this, &ChatPage::applySettings);
    connect(m_pane, &ChatPane::modeChanged, this, &ChatPage::modeChanged);
    connect(m_pane, &ChatPane::previewRequested, this, [this](const QString& input) {
        if (ChatController* c = activeController(); c->hasModel())
            c->requestPreview(input);
    });
    QStringList names;
    for (const std::string& n : bq::chatTemplateNames())
        names << QString::fromStdString(n);
    m_pane->setTemplateNames(names, QStringLiteral("completion"));
    applySettings();
    updateTitles();
}

void ChatPage::connectController(ChatController* c)
{
    connect(c, &ChatController::replyText, this, [this, c](const QString& chunk) {
        if (ChatTranscript* t = transcriptFor(c))
            t->appendReplyText(chunk);
    });
    connect(c, &ChatController::statsUpdated, this, [this, c](const ChatTurnView& stats) {
        if (ChatTranscript* t = transcriptFor(c))
            t->showStats(stats);
    });
    connect(c, &ChatController::replyFinished, this, [this, c](const ChatTurnView& stats) {
        if (ChatTranscript* t = transcriptFor(c))
            t->endReply(stats);
        // A/B one after the other: the 1-bit side gets the same message once the FP reply is done.
        if (c == m_fp && m_secondTurn) {
            const QString text = *m_secondTurn;
            m_secondTurn.reset();
            if (!m_stopped && m_quantized->send(text))
                m_pane->transcript(1)->beginReply();
            else
                m_pane->transcript(1)->appendNote(tr("[not sent: stopped]"));
        }
        updateBusy();
        updateNote();
        if (c == activeController())
            c->requestPreview(m_pane->input()->toPlainText());
    });
    connect(c, &ChatController::busyChanged, this, &ChatPage::updateBusy);
    connect(c, &ChatController::previewReady, this, [this, c](const QString& prompt) {
        if (c == activeController())
            m_pane->setPreview(prompt);
    });
    connect(c, &ChatController::failed, this, [this, c](const QString& message) {
        if (ChatTranscript* t = transcriptFor(c))
            t->appendNote(message, true);
        emit logLine(bq::LogLevel::Error, message);
    });
    connect(c, &ChatController::resetDone, this, [this, c] {
        updateNote();
        if (c == activeController())
            c->requestPreview(m_pane->input()->toPlainText());
    });
    connect(c, &ChatController::progress, this, &ChatPage::progress);
    connect(c, &ChatController::logLine, this, &ChatPage::logLine);
}

ChatController* ChatPage::activeController() const
{
    return !m_pane->abMode() && m_pane->singleUsesQuantized() ? m_quantized : m_fp;
}

ChatTranscript* ChatPage::transcriptFor(const ChatController* c) const
{
    if (m_pane->abMode())
        return m_pane->transcript(c == m_fp ? 0 : 1);
    return c == activeController() ? m_pane->transcript(0) : nullptr;
}

void ChatPage::setModel(std::shared_ptr<const bq::Model> model, const QString& spec)
{
    m_model = std::move(model);
    if (m_model) {
        const std::shared_ptr<const bq::Model> m = m_model;
        const std::string s = spec.toStdString();
        m_fp->setModel([m, s] { return bq::workflow::makeInference(m, s); }, tr("Full precision: %1").arg(spec));
        const bq::ChatTemplate detected(bq::detectChatTemplate(m_model->chatTemplate));
        QStringList names;
        for (const std::string& n : bq::chatTemplateNames())
            names << QString::fromStdString(n);
        m_pane->setTemplateNames(names, QString::fromUtf8(detected.name()));
    } else {
        m_fp->clearModel();
    }
    modeChanged();
}

void ChatPage::setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model)
{
    m_quantizedModel = std::move(model);
    if (m_pane->quantizedSource().isEmpty())
        modeChanged();
}

void ChatPage::setExportedFile(const QString& path)
{
    m_pane->addQuantizedSource(path); // selects it: modeChanged() configures the 1-bit side
}

void ChatPage::configureQuantized()
{
    const QString source = m_pane->quantizedSource();
    if (source == m_configuredSource && m_quantizedModel.get() == m_configuredModel)
        return; // unchanged: keep the built model
    m_configuredSource = source;
    m_configuredModel = m_quantizedModel.get();
    if (!source.isEmpty()) {
        const std::string path = source.toStdString();
        m_quantized->setModel([path] { return bq::workflow::openInference(path); },
                              tr("1-bit: %1").arg(QFileInfo(source).fileName()));
    } else if (m_quantizedModel) {
        const std::shared_ptr<const bq::quant::QuantizedModel> q = m_quantizedModel;
        m_quantized->setModel(
            [q]() -> std::shared_ptr<const bq::InferenceModel> {
                bq::workflow::OpenOptions packed;
                packed.backend = "packed"; // the bitstudio kernels: what the bitstudio export runs
                try {
                    return bq::workflow::makeQuantizedInference(*q, packed);
                } catch (const std::runtime_error&) {
                    return bq::workflow::makeQuantizedInference(*q); // e.g. a quantized tied embedding
                }
            },
            tr("1-bit: in memory"));
    } else {
        m_quantized->clearModel();
    }
}

void ChatPage::applySettings()
{
    ChatConfig config = chatConfigFrom(m_pane->settings());
    if (m_model) { // the model's own template keeps its default system prompt (SmolLM2, Qwen2.5)
        const bq::ChatTemplate own = bq::chatTemplateForModel(m_model->chatTemplate);
        if (own.kind() == config.templateKind)
            config.defaultSystem = own.defaultSystem();
    }
    m_fp->setConfig(config);
    m_quantized->setConfig(config);
    updateNote();
}

void ChatPage::updateNote()
{
    m_pane->setNote(m_fp->configPending() || m_quantized->configPending()
                        ? tr("Changed settings apply from the next conversation (Reset).")
                        : QString());
}

// A/B, the single model or the 1-bit source changed: new transcripts, new conversations.
void ChatPage::modeChanged()
{
    if (m_busy)
        stop();
    configureQuantized();
    m_pane->setModelsAvailable(m_fp->hasModel(), m_quantized->hasModel());
    updateTitles();
    reset();
}

void ChatPage::send(const QString& text)
{
    m_stopped = false;
    if (!m_pane->abMode()) {
        ChatController* c = activeController();
        ChatTranscript* t = m_pane->transcript(0);
        t->appendUser(text);
        if (c->send(text))
            t->beginReply();
        else
            t->appendNote(tr("[not sent: the model is busy or missing]"), true);
        updateBusy();
        return;
    }
    m_pane->transcript(0)->appendUser(text);
    m_pane->transcript(1)->appendUser(text);
    if (m_fp->send(text))
        m_pane->transcript(0)->beginReply();
    else
        m_pane->transcript(0)->appendNote(tr("[not sent: the model is busy or missing]"), true);
    if (m_pane->parallel()) {
        if (m_quantized->send(text))
            m_pane->transcript(1)->beginReply();
        else
            m_pane->transcript(1)->appendNote(tr("[not sent: the model is busy or missing]"), true);
    } else if (m_fp->isBusy()) {
        m_secondTurn = text;
    } else if (m_quantized->send(text)) {
        m_pane->transcript(1)->beginReply();
    }
    updateBusy();
}

void ChatPage::stop()
{
    m_stopped = true;
    if (m_secondTurn) {
        m_secondTurn.reset();
        m_pane->transcript(1)->appendNote(tr("[not sent: stopped]"));
    }
    m_fp->stop();
    m_quantized->stop();
    updateBusy();
}

void ChatPage::reset()
{
    m_fp->reset();
    m_quantized->reset();
    m_pane->transcript(0)->clear();
    m_pane->transcript(1)->clear();
    applySettings();
}

void ChatPage::updateBusy()
{
    const bool busy = m_fp->isBusy() || m_quantized->isBusy() || m_secondTurn.has_value();
    m_pane->setBusy(busy);
    if (busy != m_busy) {
        m_busy = busy;
        emit busyChanged(busy);
    }
}

void ChatPage::updateTitles()
{
    const QString fp = m_fp->hasModel() ? m_fp->description() : tr("Full precision: no model");
    const QString q = m_quantized->hasModel() ? m_quantized->description() : tr("1-bit: no model yet");
    if (m_pane->abMode())
        m_pane->setTranscriptTitles(fp, q);
    else
        m_pane->setTranscriptTitles(activeController() == m_fp ? fp : q, q);
}

} // namespace studio
