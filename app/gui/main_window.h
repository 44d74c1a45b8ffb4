// The main window: menus and shortcuts, the "Model" dock, the pages as central tabs (Overview, Layers, Run,
// Compare, Export, Chat, Lab), the "Log" dock and the status bar (stage, block i/N, matrix, elapsed, ETA, RSS,
// Cancel). It wires pages and controllers together and owns no algorithm: each page owns its widgets and its
// controllers (worker threads). Closing the window cancels every job and waits for the threads. GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include <QMainWindow>
#include <QStringList>
#include <memory>

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QTabWidget;

namespace bq {
struct Model;
namespace quant {
struct QuantizedModel;
}
} // namespace bq

namespace studio {

class ChatPage;
class ComparePage;
class ExportPage;
class LabPage;
class LayersPage;
class LogPanel;
class ModelLoadController;
class ModelOverview;
class ModelPanel;
class RunPage;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Start loading in the background; the current model stays shown until the new one arrives. A run file
    // (.h5) opens its base model, shows the run and offers its quantized model to Compare, Export and Chat.
    void openModel(const QString& path, const QString& tokenizerPath = {});
    void openDemo();

    std::shared_ptr<const bq::Model> model() const { return m_model; }
    QString modelSpec() const { return m_spec; }
    bool isLoading() const;
    bool isBusy() const; // a page runs a job
    ModelPanel* modelPanel() const { return m_modelPanel; }
    ModelOverview* overview() const { return m_overview; }
    LogPanel* logPanel() const { return m_log; }
    QTabWidget* centralTabs() const { return m_tabs; }
    ModelLoadController* loader() const { return m_loader; }
    LayersPage* layersPage() const { return m_layers; }
    RunPage* runPage() const { return m_run; }
    ComparePage* comparePage() const { return m_compare; }
    ExportPage* exportPage() const { return m_export; }
    ChatPage* chatPage() const { return m_chat; }
    LabPage* labPage() const { return m_lab; }
    QString statusText() const;
    QString progressText() const; // the status bar's job line
    QStringList recentFiles() const;

    // "Copy as CLI command": the bitstudio-cli quantize command of the current setup; saves the recipe next to
    // the run file (and the demo calibration text, when it is a source) so the command runs as printed.
    QString copyCliCommand();

public slots:
    void showPage(QWidget* page);
    void cancelJobs(); // Esc / the status bar's Cancel: every page's running job

signals:
    void modelLoaded();                      // the views show the new model
    void loadFailed(const QString& message); // shown in the log and the status bar
    void busyChanged(bool busy);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createPages();
    void createDocks();
    void createActions();
    void createStatusBar();
    void connectPage(QObject* page);
    void chooseModelFile();
    void chooseHfDirectory();
    void chooseRunFile();
    void showAbout();
    void onLoadStarted(const QString& description);
    void onLoaded(std::shared_ptr<const bq::Model> model, double seconds);
    void onLoadFailed(const QString& message);
    void onRunOpened(std::shared_ptr<const bq::quant::QuantizedModel> run);
    void onQuantized(std::shared_ptr<const bq::quant::QuantizedModel> model);
    void onProgress(const bq::ProgressEvent& event);
    void updateBusy();
    void addRecent(const QString& path);
    void rebuildRecentMenu();
    QString lastDirectory() const;
    void rememberDirectory(const QString& path);

    ModelLoadController* m_loader = nullptr;
    std::shared_ptr<const bq::Model> m_model;
    QString m_pendingTokenizer; // --tokenizer of the model being opened (llama2.c checkpoints)
    QString m_spec;           // the model spec the pages store in run files (":demo", a path)
    QString m_pendingPath;    // the load in flight
    QString m_pendingRunFile; // a run file being opened: shown by the Run page once its model is in
    QTabWidget* m_tabs = nullptr;
    ModelOverview* m_overview = nullptr;
    LayersPage* m_layers = nullptr;
    RunPage* m_run = nullptr;
    ComparePage* m_compare = nullptr;
    ExportPage* m_export = nullptr;
    ChatPage* m_chat = nullptr;
    LabPage* m_lab = nullptr;
    ModelPanel* m_modelPanel = nullptr;
    LogPanel* m_log = nullptr;
    QDockWidget* m_modelDock = nullptr;
    QDockWidget* m_logDock = nullptr;
    QMenu* m_recentMenu = nullptr;
    QLabel* m_statusModel = nullptr;
    QLabel* m_jobLine = nullptr;
    QProgressBar* m_busy = nullptr;
    QPushButton* m_cancel = nullptr;
    QString m_pendingDescription;
    bool m_wasBusy = false;
};

} // namespace studio
