// The Chat page: the ChatPane wired to two ChatControllers, one per model, each with its own session on its own
// thread. Single mode chats with the full-precision or the 1-bit model; A/B sends every message to both (FP left,
// 1-bit right) with the same sampler, template, system prompt and seed, one reply after the other by default so
// each gets every core and the tok/s figures compare fairly ("Parallel" runs both at once). Stop cancels the
// reply in progress and the one still waiting; Reset starts a new conversation on both. GUI thread.
//
// For MainWindow:
//   setModel(model, spec)        the full-precision model (its chat template picks the default template)
//   setQuantizedModel(model)     the 1-bit model in memory (run by the exact bitstudio kernels); nullptr clears
//   setExportedFile(path)        offers an exported GGUF as the 1-bit model and selects it (ExportPage::exported)
//   busyChanged / progress / logLine   for the status bar and the log dock
#pragma once
#include "bq/jobs/events.h"
#include "bq/quant/quantized_model.h"
#include <QString>
#include <QWidget>
#include <memory>
#include <optional>

namespace bq {
struct Model;
}

namespace studio {

class ChatController;
class ChatPane;
class ChatTranscript;

class ChatPage : public QWidget {
    Q_OBJECT
public:
    explicit ChatPage(QWidget* parent = nullptr);

    ChatPane* pane() const { return m_pane; }
    ChatController* fpController() const { return m_fp; }
    ChatController* quantizedController() const { return m_quantized; }
    bool isBusy() const { return m_busy; }

    // Plain member functions (connectable by pointer): no meta-type registration of the shared_ptr arguments.
    void setModel(std::shared_ptr<const bq::Model> model, const QString& spec);
    void setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model);
    void setExportedFile(const QString& path);

signals:
    void busyChanged(bool busy);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);

private:
    void connectController(ChatController* controller);
    ChatController* activeController() const; // the one the preview and single mode use
    ChatTranscript* transcriptFor(const ChatController* controller) const;
    void configureQuantized();
    void applySettings();
    void updateNote();
    void modeChanged();
    void send(const QString& text);
    void stop();
    void reset();
    void updateBusy();
    void updateTitles();

    ChatPane* m_pane = nullptr;
    ChatController* m_fp = nullptr;
    ChatController* m_quantized = nullptr;
    std::shared_ptr<const bq::Model> m_model;
    std::shared_ptr<const bq::quant::QuantizedModel> m_quantizedModel;
    QString m_configuredSource;                 // what the 1-bit controller was set up with
    const void* m_configuredModel = nullptr;
    std::optional<QString> m_secondTurn; // A/B one after the other: the 1-bit side's message, once FP replied
    bool m_stopped = false;
    bool m_busy = false;
};

} // namespace studio
