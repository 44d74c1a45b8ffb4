#include "gui/main_window.h"
#include "bq/model/model.h"
#include "bq/tokenizer/tokenizer.h"
#include "gui/app_icon.h"
#include "gui/model_load_controller.h"
#include "widgets/log_panel.h"
#include "widgets/model_overview.h"
#include "widgets/model_panel.h"
#include "widgets/model_summary.h"
#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

namespace studio {

using namespace bq;

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent)
{
    setWindowTitle(QStringLiteral("bitstudio"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    setDockNestingEnabled(true);

    m_loader = new ModelLoadController(this);
    connect(m_loader, &ModelLoadController::started, this, &MainWindow::onLoadStarted);
    connect(m_loader, &ModelLoadController::loaded, this, &MainWindow::onLoaded);
    connect(m_loader, &ModelLoadController::failed, this, &MainWindow::onLoadFailed);

    m_tabs = new QTabWidget(this);
    m_tabs->setDocumentMode(true);
    m_overview = new ModelOverview(m_tabs);
    m_tabs->addTab(m_overview, tr("Model"));
    setCentralWidget(m_tabs);

    createDocks();
    createActions();

    m_statusModel = new QLabel(tr("No model"), this);
    m_busy = new QProgressBar(this);
    m_busy->setRange(0, 0); // indeterminate: bq::loadModel reports no progress
    m_busy->setMaximumWidth(120);
    m_busy->setMaximumHeight(16);
    m_busy->setTextVisible(false);
    m_busy->hide();
    statusBar()->addPermanentWidget(m_busy);
    statusBar()->addPermanentWidget(m_statusModel);
    statusBar()->showMessage(tr("Ready"));

    m_log->append(LogLevel::Info, tr("bitstudio %1 started").arg(QApplication::applicationVersion()));
}

MainWindow::~MainWindow() = default;

void MainWindow::createDocks()
{
    m_modelPanel = new ModelPanel(this);
    m_modelDock = new QDockWidget(tr("Model"), this);
    m_modelDock->setObjectName(QStringLiteral("modelDock"));
    m_modelDock->setWidget(m_modelPanel);
    m_modelDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                             QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::LeftDockWidgetArea, m_modelDock);

    m_log = new LogPanel(this);
    m_logDock = new QDockWidget(tr("Log"), this);
    m_logDock->setObjectName(QStringLiteral("logDock"));
    m_logDock->setWidget(m_log);
    addDockWidget(Qt::BottomDockWidgetArea, m_logDock);
    // The left dock runs full height; the log sits under the central tabs only.
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    resizeDocks({m_modelDock}, {470}, Qt::Horizontal);
    resizeDocks({m_logDock}, {150}, Qt::Vertical);
}

void MainWindow::createActions()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open model…"), this, &MainWindow::chooseModelFile);
    open->setShortcut(QKeySequence::Open);
    open->setToolTip(tr("Open a llama2.c checkpoint (.bin) or a GGUF file"));
    file->addAction(tr("Open &HF directory…"), this, &MainWindow::chooseHfDirectory);
    file->addAction(tr("Open &demo model"), this, &MainWindow::openDemo);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_modelDock->toggleViewAction());
    view->addAction(m_logDock->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About bitstudio"), this, &MainWindow::showAbout);
}

void MainWindow::openModel(const QString& path, const QString& tokenizerPath)
{
    ModelLoadRequest request;
    QFileInfo info(path);
    // A Hugging Face model is its directory: accept a click on its config.json or a .safetensors file.
    if (info.isFile() && (info.fileName() == QLatin1String("config.json") || info.suffix() == QLatin1String("safetensors")))
        request.path = info.absolutePath();
    else
        request.path = path;
    request.tokenizerPath = tokenizerPath;
    m_loader->load(request);
}

void MainWindow::openDemo()
{
    ModelLoadRequest request;
    request.demo = true;
    m_loader->load(request);
}

bool MainWindow::isLoading() const
{
    return m_loader->isLoading();
}

QString MainWindow::statusText() const
{
    return statusBar()->currentMessage();
}

void MainWindow::chooseModelFile()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open model"), lastDirectory(),
        tr("Models (*.gguf *.bin *.safetensors config.json);;All files (*)"));
    if (path.isEmpty())
        return;
    rememberDirectory(QFileInfo(path).absolutePath());
    openModel(path);
}

void MainWindow::chooseHfDirectory()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Hugging Face model directory"), lastDirectory());
    if (dir.isEmpty())
        return;
    rememberDirectory(dir);
    openModel(dir);
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About bitstudio"),
                       tr("<h3>bitstudio %1</h3><p>A 1-bit post-training quantization studio for LLMs.</p>"
                          "<p>Formats: llama2.c checkpoints, GGUF, Hugging Face safetensors.</p>")
                           .arg(QApplication::applicationVersion()));
}

void MainWindow::onLoadStarted(const QString& description)
{
    m_pendingDescription = description;
    m_log->append(LogLevel::Info, tr("Loading %1…").arg(description));
    statusBar()->showMessage(tr("Loading %1…").arg(description));
    setBusy(true);
}

void MainWindow::onLoaded(std::shared_ptr<const Model> model, double seconds)
{
    setBusy(m_loader->isLoading());
    m_model = std::move(model);
    const ModelConfig& c = m_model->config;
    m_modelPanel->setModel(m_model);
    m_overview->setModel(m_model);

    QString name = QFileInfo(QString::fromStdString(m_model->sourcePath)).fileName();
    for (const auto& [key, value] : m_model->metadata)
        if (key == "general.name" && !value.empty())
            name = QString::fromStdString(value);
    setWindowTitle(QStringLiteral("%1 — bitstudio").arg(name));
    const QString facts = tr("%1 · %2 params · %3 layers · dim %4 · vocab %5")
                              .arg(QString::fromStdString(c.arch), humanCount(m_model->parameterCount()))
                              .arg(c.nLayers)
                              .arg(c.dim)
                              .arg(c.vocabSize);
    m_statusModel->setText(facts);
    m_log->append(LogLevel::Info, tr("Loaded %1 (%2) in %3 s: %4")
                                      .arg(name, QString::fromStdString(m_model->sourceFormat))
                                      .arg(seconds, 0, 'f', 2)
                                      .arg(facts));
    if (!m_model->tokenizer)
        m_log->append(LogLevel::Warning, tr("The model has no tokenizer: text features are unavailable"));
    statusBar()->showMessage(tr("Loaded %1 in %2 s").arg(name).arg(seconds, 0, 'f', 2));
    emit modelLoaded();
}

void MainWindow::onLoadFailed(const QString& message)
{
    setBusy(m_loader->isLoading());
    m_log->append(LogLevel::Error, tr("Could not load %1: %2").arg(m_pendingDescription, message));
    statusBar()->showMessage(tr("Could not load %1: %2").arg(m_pendingDescription, message));
    emit loadFailed(message);
}

void MainWindow::setBusy(bool busy)
{
    m_busy->setVisible(busy);
}

QString MainWindow::lastDirectory() const
{
    return QSettings().value(QStringLiteral("paths/lastModelDirectory")).toString();
}

void MainWindow::rememberDirectory(const QString& path)
{
    QSettings().setValue(QStringLiteral("paths/lastModelDirectory"), path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls() && event->mimeData()->urls().size() == 1 &&
        event->mimeData()->urls().first().isLocalFile())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const QString path = event->mimeData()->urls().first().toLocalFile();
    rememberDirectory(QFileInfo(path).absolutePath());
    openModel(path);
    event->acceptProposedAction();
}

} // namespace studio
