#include "widgets/chat_pane.h"
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>

namespace studio {

// ---------------------------------------------------------------- transcript

ChatTranscript::ChatTranscript(QWidget* parent) : QWidget(parent)
{
    m_title = new QLabel(this);
    QFont f = m_title->font();
    f.setBold(true);
    m_title->setFont(f);
    m_view = new QTextBrowser(this);
    m_view->setOpenLinks(false);
    m_stats = new QLabel(tr("No reply yet"), this);
    m_stats->setToolTip(tr("Prompt: tokens prefilled for this turn (positions reused from the KV cache are not "
                           "counted) divided by the prefill time. Reply: generated tokens divided by the time spent "
                           "generating them, sampling included."));
    m_context = new QProgressBar(this);
    m_context->setRange(0, 1);
    m_context->setValue(0);
    m_context->setFormat(tr("context %v / %m"));
    m_context->setToolTip(tr("Positions held in the KV cache after the turn (system prompt, every turn so far and "
                             "the template's markers) out of the cache capacity."));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_title);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_stats);
    layout->addWidget(m_context);
}

void ChatTranscript::setTitle(const QString& title)
{
    m_title->setText(title);
}

QString ChatTranscript::title() const
{
    return m_title->text();
}

namespace {

void insertHeading(QTextBrowser* view, const QString& who, const QColor& color)
{
    QTextCursor c(view->document());
    c.movePosition(QTextCursor::End);
    if (!view->document()->isEmpty())
        c.insertBlock();
    QTextCharFormat heading;
    heading.setFontWeight(QFont::Bold);
    heading.setForeground(color);
    c.insertText(who, heading);
    c.insertBlock();
    c.setCharFormat(QTextCharFormat());
}

void appendPlain(QTextBrowser* view, const QString& text, const QTextCharFormat& format = {})
{
    QTextCursor c(view->document());
    c.movePosition(QTextCursor::End);
    c.insertText(text, format);
    view->verticalScrollBar()->setValue(view->verticalScrollBar()->maximum());
}

} // namespace

void ChatTranscript::appendUser(const QString& text)
{
    insertHeading(m_view, tr("You"), QColor(0x1f, 0x4e, 0x9a));
    appendPlain(m_view, text);
}

void ChatTranscript::beginReply()
{
    m_reply.clear();
    insertHeading(m_view, tr("Model"), QColor(0x1b, 0x7f, 0x3b));
}

void ChatTranscript::appendReplyText(const QString& chunk)
{
    m_reply += chunk;
    appendPlain(m_view, chunk);
}

void ChatTranscript::endReply(const ChatTurnView& stats)
{
    showStats(stats);
    if (!stats.stopReason.isEmpty() && stats.stopReason != QLatin1String("end of turn"))
        appendNote(QStringLiteral("[%1]").arg(stats.stopReason));
}

void ChatTranscript::appendNote(const QString& text, bool error)
{
    QTextCharFormat note;
    note.setFontItalic(true);
    note.setForeground(error ? QColor(0xb0, 0x00, 0x20) : QColor(0x70, 0x70, 0x70));
    QTextCursor c(m_view->document());
    c.movePosition(QTextCursor::End);
    if (!m_view->document()->isEmpty())
        c.insertBlock();
    c.insertText(text, note);
    c.setCharFormat(QTextCharFormat());
    m_view->verticalScrollBar()->setValue(m_view->verticalScrollBar()->maximum());
}

void ChatTranscript::showStats(const ChatTurnView& s)
{
    QString text = tr("prompt %1 tok at %2 tok/s · reply %3 tok at %4 tok/s")
                       .arg(s.promptTokens)
                       .arg(s.promptTokensPerSecond, 0, 'f', 1)
                       .arg(s.generatedTokens)
                       .arg(s.generationTokensPerSecond, 0, 'f', 1);
    if (s.reusedTokens > 0)
        text += tr(" · %1 reused").arg(s.reusedTokens);
    if (!s.stopReason.isEmpty())
        text += QStringLiteral(" · ") + s.stopReason;
    m_stats->setText(text);
    if (s.contextCapacity > 0) {
        m_context->setRange(0, s.contextCapacity);
        m_context->setValue(std::min(s.contextUsed, s.contextCapacity));
    }
}

void ChatTranscript::clear()
{
    m_view->clear();
    m_reply.clear();
    m_stats->setText(tr("No reply yet"));
    m_context->setValue(0);
}

QString ChatTranscript::plainText() const
{
    return m_view->toPlainText();
}

QString ChatTranscript::statsText() const
{
    return m_stats->text();
}

// ---------------------------------------------------------------- pane

ChatPane::ChatPane(QWidget* parent) : QWidget(parent)
{
    // Left column: sampling, template, system prompt, preview.
    auto* side = new QWidget(this);
    auto* sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);

    auto* sampling = new QGroupBox(tr("Sampling"), side);
    auto* form = new QFormLayout(sampling);
    m_temperature = new QDoubleSpinBox(sampling);
    m_temperature->setRange(0, 5);
    m_temperature->setSingleStep(0.1);
    m_temperature->setDecimals(2);
    m_temperature->setToolTip(tr("Divides the logits before the softmax; 0 = greedy (always the most likely token)."));
    form->addRow(tr("Temperature"), m_temperature);
    m_topK = new QSpinBox(sampling);
    m_topK->setRange(0, 100000);
    m_topK->setSpecialValueText(tr("off"));
    m_topK->setToolTip(tr("Sample only among the k most likely tokens; 0 = off."));
    form->addRow(tr("Top-k"), m_topK);
    m_topP = new QDoubleSpinBox(sampling);
    m_topP->setRange(0, 1);
    m_topP->setSingleStep(0.05);
    m_topP->setToolTip(tr("Nucleus sampling: the smallest set of tokens whose probabilities sum to p; 1 = off."));
    form->addRow(tr("Top-p"), m_topP);
    m_minP = new QDoubleSpinBox(sampling);
    m_minP->setRange(0, 1);
    m_minP->setSingleStep(0.01);
    m_minP->setToolTip(tr("Drops tokens whose probability is below min-p × that of the most likely token; 0 = off."));
    form->addRow(tr("Min-p"), m_minP);
    m_penalty = new QDoubleSpinBox(sampling);
    m_penalty->setRange(1, 3);
    m_penalty->setSingleStep(0.05);
    m_penalty->setToolTip(tr("Repetition penalty over the last 64 tokens: positive logits are divided by it, "
                             "negative ones multiplied; 1 = off."));
    form->addRow(tr("Repetition penalty"), m_penalty);
    m_seed = new QSpinBox(sampling);
    m_seed->setRange(0, 2147483647);
    m_seed->setSpecialValueText(tr("random"));
    m_seed->setToolTip(tr("Seed of the sampler's random generator; the same seed gives the same reply. A/B uses it "
                          "for both sides. 0 = from the clock."));
    form->addRow(tr("Seed"), m_seed);
    m_maxTokens = new QSpinBox(sampling);
    m_maxTokens->setRange(0, 1000000);
    m_maxTokens->setSpecialValueText(tr("context"));
    m_maxTokens->setToolTip(tr("Longest reply in tokens; 0 = until the context is full."));
    form->addRow(tr("Max tokens"), m_maxTokens);

    auto* prompt = new QGroupBox(tr("Prompt"), side);
    auto* promptLayout = new QVBoxLayout(prompt);
    auto* templateForm = new QFormLayout;
    m_template = new QComboBox(prompt);
    m_template->setToolTip(tr("How the conversation is rendered into the text the model reads (picked from the "
                              "model's own chat template when it has one)."));
    templateForm->addRow(tr("Template"), m_template);
    promptLayout->addLayout(templateForm);
    promptLayout->addWidget(new QLabel(tr("System prompt"), prompt));
    m_system = new QPlainTextEdit(prompt);
    m_system->setPlaceholderText(tr("(none)"));
    m_system->setMaximumHeight(70);
    promptLayout->addWidget(m_system);
    promptLayout->addWidget(new QLabel(tr("Next turn's prompt, as rendered"), prompt));
    m_preview = new QPlainTextEdit(prompt);
    m_preview->setReadOnly(true);
    m_preview->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_preview->setToolTip(tr("The text the template renders for the conversation so far plus the message being "
                             "typed, special tokens as their strings."));
    promptLayout->addWidget(m_preview, 1);
    m_note = new QLabel(side);
    m_note->setWordWrap(true);
    sideLayout->addWidget(sampling);
    sideLayout->addWidget(prompt, 1);
    sideLayout->addWidget(m_note);

    // Right column: models, transcripts, input.
    auto* main = new QWidget(this);
    auto* mainLayout = new QVBoxLayout(main);
    mainLayout->setContentsMargins(0, 0, 0, 0);
    auto* modes = new QHBoxLayout;
    m_single = new QComboBox(main);
    m_single->addItem(tr("Full precision"));
    m_single->addItem(tr("1-bit"));
    m_single->setToolTip(tr("The model to chat with (single mode)."));
    m_ab = new QCheckBox(tr("A/B: full precision | 1-bit"), main);
    m_ab->setToolTip(tr("Send every message to both models with the same sampler and seed, side by side."));
    m_parallel = new QCheckBox(tr("Parallel"), main);
    m_parallel->setToolTip(tr("A/B replies at the same time. Off (default): one after the other, so each gets all "
                              "cores and the tok/s figures compare fairly."));
    m_source = new QComboBox(main);
    m_source->addItem(tr("1-bit in memory"), QString());
    m_source->setToolTip(tr("The 1-bit model: the quantized model in memory (its exact weights on the packed bitstudio "
                            "kernels, activations rounded to int8 per 128 values as llama.cpp's Q1_0 does) or an "
                            "exported GGUF file."));
    modes->addWidget(new QLabel(tr("Model"), main));
    modes->addWidget(m_single);
    modes->addSpacing(12);
    modes->addWidget(m_ab);
    modes->addWidget(m_parallel);
    modes->addStretch(1);
    modes->addWidget(new QLabel(tr("1-bit source"), main));
    modes->addWidget(m_source);
    mainLayout->addLayout(modes);

    m_split = new QSplitter(Qt::Horizontal, main);
    m_left = new ChatTranscript(m_split);
    m_right = new ChatTranscript(m_split);
    m_split->addWidget(m_left);
    m_split->addWidget(m_right);
    m_right->hide();
    mainLayout->addWidget(m_split, 1);

    auto* inputRow = new QHBoxLayout;
    m_input = new QPlainTextEdit(main);
    m_input->setPlaceholderText(tr("Message (Ctrl+Enter sends)"));
    m_input->setMaximumHeight(80);
    m_input->installEventFilter(this);
    auto* buttons = new QVBoxLayout;
    m_send = new QPushButton(tr("Send"), main);
    m_stop = new QPushButton(tr("Stop"), main);
    m_reset = new QPushButton(tr("Reset"), main);
    m_reset->setToolTip(tr("Start a new conversation (keeps the system prompt; applies changed settings)."));
    buttons->addWidget(m_send);
    buttons->addWidget(m_stop);
    buttons->addWidget(m_reset);
    inputRow->addWidget(m_input, 1);
    inputRow->addLayout(buttons);
    mainLayout->addLayout(inputRow);

    auto* outer = new QSplitter(Qt::Horizontal, this);
    outer->addWidget(side);
    outer->addWidget(main);
    outer->setStretchFactor(0, 0);
    outer->setStretchFactor(1, 1);
    outer->setSizes({300, 700});
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(outer);

    setSettings(ChatSettings{});
    setTranscriptTitles(tr("Full precision"), tr("1-bit"));

    m_previewTimer = new QTimer(this);
    m_previewTimer->setSingleShot(true);
    m_previewTimer->setInterval(200);
    m_settingsTimer = new QTimer(this);
    m_settingsTimer->setSingleShot(true);
    m_settingsTimer->setInterval(250);
    connect(m_previewTimer, &QTimer::timeout, this, [this] { emit previewRequested(m_input->toPlainText()); });
    connect(m_settingsTimer, &QTimer::timeout, this, [this] {
        emit settingsChanged();
        m_previewTimer->start();
    });
    auto settingsEdited = [this] { m_settingsTimer->start(); };
    for (QDoubleSpinBox* b : {m_temperature, m_topP, m_minP, m_penalty})
        connect(b, &QDoubleSpinBox::valueChanged, this, settingsEdited);
    for (QSpinBox* b : {m_topK, m_seed, m_maxTokens})
        connect(b, &QSpinBox::valueChanged, this, settingsEdited);
    connect(m_template, &QComboBox::currentIndexChanged, this, settingsEdited);
    connect(m_system, &QPlainTextEdit::textChanged, this, settingsEdited);
    connect(m_input, &QPlainTextEdit::textChanged, this, [this] {
        updateEnabled();
        m_previewTimer->start();
    });
    auto modeEdited = [this] {
        m_right->setVisible(m_ab->isChecked());
        updateEnabled();
        emit modeChanged();
    };
    connect(m_ab, &QCheckBox::toggled, this, modeEdited);
    connect(m_single, &QComboBox::currentIndexChanged, this, modeEdited);
    connect(m_source, &QComboBox::currentIndexChanged, this, modeEdited);
    connect(m_parallel, &QCheckBox::toggled, this, &ChatPane::updateEnabled);
    connect(m_send, &QPushButton::clicked, this, &ChatPane::send);
    connect(m_stop, &QPushButton::clicked, this, &ChatPane::stopRequested);
    connect(m_reset, &QPushButton::clicked, this, &ChatPane::resetRequested);
    updateEnabled();
}

ChatSettings ChatPane::settings() const
{
    ChatSettings s;
    s.temperature = m_temperature->value();
    s.topK = m_topK->value();
    s.topP = m_topP->value();
    s.minP = m_minP->value();
    s.repetitionPenalty = m_penalty->value();
    s.seed = quint64(m_seed->value());
    s.maxTokens = m_maxTokens->value();
    s.templateName = m_template->currentText();
    s.systemPrompt = m_system->toPlainText();
    return s;
}

void ChatPane::setSettings(const ChatSettings& s)
{
    m_temperature->setValue(s.temperature);
    m_topK->setValue(s.topK);
    m_topP->setValue(s.topP);
    m_minP->setValue(s.minP);
    m_penalty->setValue(s.repetitionPenalty);
    m_seed->setValue(int(std::min<quint64>(s.seed, 2147483647)));
    m_maxTokens->setValue(s.maxTokens);
    if (const int at = m_template->findText(s.templateName); at >= 0)
        m_template->setCurrentIndex(at);
    if (m_system->toPlainText() != s.systemPrompt)
        m_system->setPlainText(s.systemPrompt);
}

void ChatPane::setTemplateNames(const QStringList& names, const QString& current)
{
    const QSignalBlocker block(m_template);
    m_template->clear();
    m_template->addItems(names);
    m_template->setCurrentIndex(std::max(0, int(names.indexOf(current))));
    m_settingsTimer->start();
}

void ChatPane::setModelsAvailable(bool fp, bool quantized)
{
    m_fpAvailable = fp;
    m_quantizedAvailable = quantized;
    updateEnabled();
}

void ChatPane::addQuantizedSource(const QString& path)
{
    int at = m_source->findData(path);
    if (at < 0) {
        m_source->addItem(tr("exported %1").arg(QFileInfo(path).fileName()), path);
        at = m_source->count() - 1;
        m_source->setItemData(at, path, Qt::ToolTipRole);
    }
    m_source->setCurrentIndex(at);
}

QString ChatPane::quantizedSource() const
{
    return m_source->currentData().toString();
}

bool ChatPane::abMode() const
{
    return m_ab->isChecked();
}

bool ChatPane::parallel() const
{
    return m_ab->isChecked() && m_parallel->isChecked();
}

bool ChatPane::singleUsesQuantized() const
{
    return m_single->currentIndex() == 1;
}

ChatTranscript* ChatPane::transcript(int side) const
{
    return side == 0 ? m_left : m_right;
}

void ChatPane::setTranscriptTitles(const QString& left, const QString& right)
{
    m_left->setTitle(left);
    m_right->setTitle(right);
}

void ChatPane::setBusy(bool busy)
{
    m_busy = busy;
    updateEnabled();
}

void ChatPane::setPreview(const QString& prompt)
{
    m_preview->setPlainText(prompt);
}

void ChatPane::setNote(const QString& text)
{
    m_note->setText(text);
}

QString ChatPane::previewText() const
{
    return m_preview->toPlainText();
}

bool ChatPane::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_input && event->type() == QEvent::KeyPress) {
        const auto* key = static_cast<QKeyEvent*>(event);
        if ((key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter) &&
            (key->modifiers() & Qt::ControlModifier)) {
            send();
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ChatPane::send()
{
    const QString text = m_input->toPlainText();
    if (!m_send->isEnabled() || text.trimmed().isEmpty())
        return;
    m_input->clear();
    emit sendRequested(text);
}

void ChatPane::updateEnabled()
{
    const bool ab = m_ab->isChecked();
    const bool ready = ab ? (m_fpAvailable && m_quantizedAvailable)
                          : (singleUsesQuantized() ? m_quantizedAvailable : m_fpAvailable);
    m_send->setEnabled(!m_busy && ready && !m_input->toPlainText().trimmed().isEmpty());
    m_stop->setEnabled(m_busy);
    m_reset->setEnabled(!m_busy);
    m_ab->setEnabled(!m_busy);
    m_parallel->setEnabled(!m_busy && ab);
    m_single->setEnabled(!m_busy && !ab);
    m_source->setEnabled(!m_busy);
}

} // namespace studio
