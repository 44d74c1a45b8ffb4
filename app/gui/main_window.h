// The main window: menus, the "bq::Model" dock (ModelPanel), central tabs (the model overview; Layers, Run and
// Chat come later), the "Log" dock and the status bar. It wires the load controller to the views and owns
// no algorithm. GUI thread.
#pragma once
#include <QMainWindow>
#include <memory>

class QDockWidget;
class QLabel;
class QProgressBar;
class QTabWidget;

namespace bq {
struct Model;
}

namespace studio {

class LogPanel;
class ModelLoadController;
class ModelOverview;
class ModelPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Start loading in the background; the current model stays shown until the new one arrives.
    void openModel(const QString& path, const QString& tokenizerPath = {});
    void openDemo();

    std::shared_ptr<const bq::Model> model() const { return m_model; }
    bool isLoading() const;
    ModelPanel* modelPanel() const { return m_modelPanel; }
    ModelOverview* overview() const { return m_overview; }
    LogPanel* logPanel() const { return m_log; }
    QTabWidget* centralTabs() const { return m_tabs; }
    ModelLoadController* loader() const { return m_loader; }
    QString statusText() const;

signals:
    void modelLoaded();                      // the views show the new model
    void loadFailed(const QString& message); // shown in the log and the status bar

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createActions();
    void createDocks();
    void chooseModelFile();
    void chooseHfDirectory();
    void showAbout();
    void onLoadStarted(const QString& description);
    void onLoaded(std::shared_ptr<const bq::Model> model, double seconds);
    void onLoadFailed(const QString& message);
    void setBusy(bool busy);
    QString lastDirectory() const;
    void rememberDirectory(const QString& path);

    ModelLoadController* m_loader = nullptr;
    std::shared_ptr<const bq::Model> m_model;
    QTabWidget* m_tabs = nullptr;
    ModelOverview* m_overview = nullptr;
    ModelPanel* m_modelPanel = nullptr;
    LogPanel* m_log = nullptr;
    QDockWidget* m_modelDock = nullptr;
    QDockWidget* m_logDock = nullptr;
    QLabel* m_statusModel = nullptr;
    QProgressBar* m_busy = nullptr;
    QString m_pendingDescription;
};

} // namespace studio
