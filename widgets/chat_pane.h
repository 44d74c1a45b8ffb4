// The Chat pane: one transcript (single model) or two side by side (A/B: full precision left, 1-bit right), the
// message input with Send / Stop / Reset, the sampling settings (temperature, top-k, top-p, min-p, repetition
// penalty, seed, max tokens), the template picker with the rendered prompt the next turn would feed, the system
// prompt, and per transcript the prompt and generation speed and a context N / MAX bar. View only: the page runs
// the sessions and feeds the transcripts (streamed text arrives in batches). GUI thread.
#pragma once
#include <QString>
#include <QStringList>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QSplitter;
class QTextBrowser;
class QTimer;

namespace studio {

// Sampling, template and system prompt of a conversation (the same for both sides of an A/B chat).
struct ChatSettings {
    double temperature = 0.8;       // 0 = greedy
    int topK = 40;                  // 0 = off
    double topP = 0.95;             // 1 = off
    double minP = 0.05;             // 0 = off
    double repetitionPenalty = 1.1; // 1 = off
    quint64 seed = 42;              // 0 = time-based (A/B then differs between the sides)
    int maxTokens = 256;            // per reply; 0 = until the context is full
    QString templateName;           // one of the names given to setTemplateNames()
    QString systemPrompt;
};

// One turn's statistics (filled by the page from the session's ChatStats).
struct ChatTurnView {
    int promptTokens = 0, reusedTokens = 0, generatedTokens = 0;
    double promptTokensPerSecond = 0, generationTokensPerSecond = 0;
    int contextUsed = 0, contextCapacity = 0;
    QString stopReason; // "end of turn", "max tokens", "stopped", ... (empty while the reply runs)
};

// One model's conversation: a title, the transcript, the speed line and the context bar.
class ChatTranscript : public QWidget {
    Q_OBJECT
public:
    explicit ChatTranscript(QWidget* parent = nullptr);

    void setTitle(const QString& title);
    QString title() const;
    void appendUser(const QString& text);
    void beginReply();
    void appendReplyText(const QString& chunk); // a batch of streamed text
    void endReply(const ChatTurnView& stats);
    void appendNote(const QString& text, bool error = false);
    void showStats(const ChatTurnView& stats);  // the speed line and the context bar (also while streaming)
    void clear();

    QString plainText() const;
    QString replyText() const { return m_reply; } // the latest reply so far
    QString statsText() const;
    QProgressBar* contextBar() const { return m_context; }

private:
    QLabel* m_title = nullptr;
    QTextBrowser* m_view = nullptr;
    QLabel* m_stats = nullptr;
    QProgressBar* m_context = nullptr;
    QString m_reply;
};

class ChatPane : public QWidget {
    Q_OBJECT
public:
    explicit ChatPane(QWidget* parent = nullptr);

    ChatSettings settings() const;
    void setSettings(const ChatSettings& settings);
    void setTemplateNames(const QStringList& names, const QString& current);

    // Which models exist: the full-precision one and a 1-bit one (in memory or exported files).
    void setModelsAvailable(bool fp, bool quantized);
    // Adds an exported file as a 1-bit source (selected); "" is the in-memory model, always first.
    void addQuantizedSource(const QString& path);
    QString quantizedSource() const;        // "" = in memory
    bool abMode() const;                    // two transcripts: FP left, 1-bit right
    bool parallel() const;                  // A/B replies at the same time (default: one after the other)
    bool singleUsesQuantized() const;       // single mode: chat with the 1-bit model
    ChatTranscript* transcript(int side) const; // 0 = left (or the only one), 1 = right (A/B)
    void setTranscriptTitles(const QString& left, const QString& right);

    void setBusy(bool busy);
    void setPreview(const QString& prompt);
    void setNote(const QString& text);      // a line under the settings (e.g. "applies from the next conversation")

    QPlainTextEdit* input() const { return m_input; }
    QPushButton* sendButton() const { return m_send; }
    QPushButton* stopButton() const { return m_stop; }
    QPushButton* resetButton() const { return m_reset; }
    QCheckBox* abBox() const { return m_ab; }
    QCheckBox* parallelBox() const { return m_parallel; }
    QComboBox* singleModelBox() const { return m_single; }
    QComboBox* templateBox() const { return m_template; }
    QDoubleSpinBox* temperatureBox() const { return m_temperature; }
    QSpinBox* maxTokensBox() const { return m_maxTokens; }
    QPlainTextEdit* systemPromptEdit() const { return m_system; }
    QString previewText() const;

signals:
    void sendRequested(const QString& text);
    void stopRequested();
    void resetRequested();
    void settingsChanged();                 // sampling, template or system prompt
    void modeChanged();                     // A/B, single model, 1-bit source
    void previewRequested(const QString& input); // debounced: render the prompt for this input

protected:
    bool eventFilter(QObject* watched, QEvent* event) override; // Ctrl+Enter sends

private:
    void send();
    void updateEnabled();

    bool m_busy = false, m_fpAvailable = false, m_quantizedAvailable = false;
    QComboBox* m_single = nullptr;
    QCheckBox* m_ab = nullptr;
    QCheckBox* m_parallel = nullptr;
    QComboBox* m_source = nullptr;
    QDoubleSpinBox* m_temperature = nullptr;
    QSpinBox* m_topK = nullptr;
    QDoubleSpinBox* m_topP = nullptr;
    QDoubleSpinBox* m_minP = nullptr;
    QDoubleSpinBox* m_penalty = nullptr;
    QSpinBox* m_seed = nullptr;
    QSpinBox* m_maxTokens = nullptr;
    QComboBox* m_template = nullptr;
    QPlainTextEdit* m_system = nullptr;
    QPlainTextEdit* m_preview = nullptr;
    QLabel* m_note = nullptr;
    QSplitter* m_split = nullptr;
    ChatTranscript* m_left = nullptr;
    ChatTranscript* m_right = nullptr;
    QPlainTextEdit* m_input = nullptr;
    QPushButton* m_send = nullptr;
    QPushButton* m_stop = nullptr;
    QPushButton* m_reset = nullptr;
    QTimer* m_previewTimer = nullptr;
    QTimer* m_settingsTimer = nullptr;
};

} // namespace studio
