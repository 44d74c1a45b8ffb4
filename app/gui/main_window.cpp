#include "gui/main_window.h"
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/atomic_file.h"
#include "bq/workflow/quantize_setup.h"
#include "bq/workflow/recipe_presets.h"
#include "gui/app_icon.h"
#include "gui/chat_controller.h"
#include "gui/chat_page.h"
#include "gui/compare_controller.h"
#include "gui/compare_page.h"
#include "gui/export_controller.h"
#include "gui/export_page.h"
#include "gui/lab_page.h"
#include "gui/layers_page.h"
#include "gui/model_load_controller.h"
#include "gui/recipe_document.h"
#include "gui/run_page.h"
#include "widgets/calibration_panel.h"
#include "widgets/log_panel.h"
#include "widgets/model_overview.h"
#include "widgets/model_panel.h"
#include "widgets/model_summary.h"
#include "widgets/progress_text.h"
#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QUndoStack>

namespace studio {

using namespace bq;

namespace {

constexpr int kMaxRecent = 10;

QString recentKey() { return QStringLiteral("paths/recentModels"); }

} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent)
{
    setWindowTitle(QStringLiteral("bitstudio"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    setDockNestingEnabled(true);

    m_loader = new ModelLoadController(this);
    connect(m_loader, &ModelLoadController::started, this, &MainWindow::onLoadStarted);
    connect(m_loader, &ModelLoadController::runOpened, this, &MainWindow::onRunOpened);
    connect(m_loader, &ModelLoadController::loaded, this, &MainWindow::onLoaded);
    connect(m_loader, &ModelLoadController::failed, this, &MainWindow::onLoadFailed);

    createPages();
    createDocks();
    createActions();
    createStatusBar();

    const QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    m_log->append(LogLevel::Info, tr("bitstudio %1 started").arg(QApplication::applicationVersion()));
}

MainWindow::~MainWindow() = default;

void MainWindow::createPages()
{
    m_tabs = new QTabWidget(this);
    m_tabs->setDocumentMode(true);
    m_overview = new ModelOverview(m_tabs);
    m_layers = new LayersPage(m_tabs);
    m_run = new RunPage(m_tabs);
    m_compare = new ComparePage(m_tabs);
    m_export = new ExportPage(m_tabs);
    m_chat = new ChatPage(m_tabs);
    m_lab = new LabPage(m_tabs);
    m_tabs->addTab(m_overview, tr("Model"));
    m_tabs->addTab(m_layers, tr("Layers"));
    m_tabs->addTab(m_run, tr("Run"));
    m_tabs->addTab(m_compare, tr("Compare"));
    m_tabs->addTab(m_export, tr("Export"));
    m_tabs->addTab(m_chat, tr("Chat"));
    m_tabs->addTab(m_lab, tr("Lab"));
    m_tabs->setTabToolTip(1, tr("Which method every weight matrix gets: presets, rules, overrides, estimate"));
    m_tabs->setTabToolTip(2, tr("Calibration, the quantization run and its live plots"));
    m_tabs->setTabToolTip(3, tr("KL divergence, top-1 agreement and perplexity of the 1-bit model against FP"));
    m_tabs->setTabToolTip(4, tr("Write a GGUF file that llama.cpp or the packed runtime loads"));
    m_tabs->setTabToolTip(5, tr("Chat with the full-precision and the 1-bit model, side by side"));
    m_tabs->setTabToolTip(6, tr("One matrix, one or two methods: every step, its objective and its result"));
    setCentralWidget(m_tabs);

    // The recipe the Layers page edits is what Start runs.
    connect(m_layers, &LayersPage::recipeChanged, this, [this] { m_run->setRecipe(m_layers->recipe()); });
    m_run->setRecipe(m_layers->recipe());
    connect(m_layers, &LayersPage::copyCommandRequested, this, &MainWindow::copyCliCommand);
    connect(m_layers, &LayersPage::logLine, this, [this](LogLevel l, const QString& t) { m_log->append(l, t); });
    // A finished run (or an opened run file) feeds the pages that use the 1-bit model.
    connect(m_run, &RunPage::runFinished, this, &MainWindow::onQuantized);
    connect(m_export, &ExportPage::exported, this, [this](const QString& path) {
        m_compare->setExportedFile(path);
        m_chat->setExportedFile(path);
        addRecent(path);
    });
    for (QObject* page : {static_cast<QObject*>(m_run), static_cast<QObject*>(m_compare),
                          static_cast<QObject*>(m_export), static_cast<QObject*>(m_chat),
                          static_cast<QObject*>(m_lab)})
        connectPage(page);
    // The lab calibrates as the Run page is set up to.
    connect(m_run->calibrationPanel(), &CalibrationPanel::changed, this,
            [this] { m_lab->setCalibrationSettings(m_run->calibrationPanel()->settings()); });
    connect(m_run, &RunPage::busyChanged, m_layers, &LayersPage::setBusy);
}

// Every job page reports the same three things: progress for the status bar, log lines, busy state.
void MainWindow::connectPage(QObject* page)
{
    if (auto* p = qobject_cast<RunPage*>(page)) {
        connect(p, &RunPage::progress, this, &MainWindow::onProgress);
        connect(p, &RunPage::logLine, this, [this](LogLevel l, const QString& t) { m_log->append(l, t); });
        connect(p, &RunPage::busyChanged, this, &MainWindow::updateBusy);
    } else if (auto* c = qobject_cast<ComparePage*>(page)) {
        connect(c, &ComparePage::progress, this, &MainWindow::onProgress);
        connect(c, &ComparePage::logLine, this, [this](LogLevel l, const QString& t) { m_log->append(l, t); });
        connect(c, &ComparePage::busyChanged, this, &MainWindow::updateBusy);
    } else if (auto* e = qobject_cast<ExportPage*>(page)) {
        connect(e, &ExportPage::progress, this, &MainWindow::onProgress);
        connect(e, &ExportPage::logLine, this, [this](LogLevel l, const QString& t) { m_log->append(l, t); });
        connect(e, &ExportPage::busyChanged, this, &MainWindow::updateBusy);
    } else if (auto* ch = qobject_cast<ChatPage*>(page)) {
        connect(ch, &ChatPage::progress, this, &MainWindow::onProgress);
        connect(ch, &ChatPage::logLine, this, [this](LogLevel l, const QString& t) { m_log->append(l, t); });
        connect(ch, &ChatPage::busyChanged, this, &MainWindow::updateBusy);
    } else if (auto* lab = qobject_cast<LabPage*>(page)) {
        connect(lab, &LabPage::progress, this, &MainWindow::onProgress);
        connect(lab, &LabPage::logLine, this, [this](LogLevel l, const QString& t) { m_log->append(l, t); });
        connect(lab, &LabPage::busyChanged, this, &MainWindow::updateBusy);
    }
}

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
    resizeDocks({m_modelDock}, {380}, Qt::Horizontal);
    resizeDocks({m_logDock}, {130}, Qt::Vertical);
}

void MainWindow::createActions()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open model…"), this, &MainWindow::chooseModelFile);
    open->setShortcut(QKeySequence::Open);
    open->setToolTip(tr("Open a llama2.c checkpoint (.bin), a GGUF file or a run file (.h5)"));
    file->addAction(tr("Open &HF directory…"), this, &MainWindow::chooseHfDirectory);
    file->addAction(tr("Open &run file…"), this, &MainWindow::chooseRunFile);
    file->addAction(tr("Open &demo model"), this, &MainWindow::openDemo);
    m_recentMenu = file->addMenu(tr("Open &recent"));
    rebuildRecentMenu();
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* recipe = menuBar()->addMenu(tr("&Recipe"));
    QUndoStack* undo = m_layers->document()->undoStack();
    QAction* undoAction = undo->createUndoAction(this, tr("&Undo"));
    undoAction->setShortcut(QKeySequence::Undo);
    QAction* redoAction = undo->createRedoAction(this, tr("&Redo"));
    redoAction->setShortcut(QKeySequence::Redo);
    recipe->addAction(undoAction);
    recipe->addAction(redoAction);
    recipe->addSeparator();
    QMenu* presets = recipe->addMenu(tr("&Presets"));
    for (const auto& p : bq::workflow::recipePresets()) {
        QAction* a = presets->addAction(QString::fromStdString(p.title));
        a->setToolTip(QString::fromStdString(p.description));
        const QString id = QString::fromStdString(p.id);
        connect(a, &QAction::triggered, this, [this, id] {
            m_layers->applyPreset(id);
            showPage(m_layers);
        });
    }
    recipe->addAction(tr("&Copy as CLI command"), this, &MainWindow::copyCliCommand);

    QMenu* run = menuBar()->addMenu(tr("R&un"));
    QAction* start = run->addAction(tr("&Start quantization"), this, [this] {
        showPage(m_run);
        m_run->start();
    });
    start->setShortcuts({QKeySequence(Qt::Key_F5), QKeySequence(Qt::CTRL | Qt::Key_R)});
    run->addAction(tr("&Resume"), this, [this] {
        showPage(m_run);
        m_run->resume();
    });
    QAction* cancel = run->addAction(tr("&Cancel"), this, &MainWindow::cancelJobs);
    cancel->setShortcut(QKeySequence(Qt::Key_Escape));
    cancel->setShortcutContext(Qt::ApplicationShortcut);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_modelDock->toggleViewAction());
    view->addAction(m_logDock->toggleViewAction());
    view->addSeparator();
    for (int i = 0; i < m_tabs->count(); ++i) {
        QAction* a = view->addAction(m_tabs->tabText(i), this, [this, i] { m_tabs->setCurrentIndex(i); });
        a->setShortcut(QKeySequence(Qt::ALT | Qt::Key(Qt::Key_1 + i)));
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About bitstudio"), this, &MainWindow::showAbout);
}

void MainWindow::createStatusBar()
{
    m_jobLine = new QLabel(this);
    m_jobLine->setObjectName(QStringLiteral("jobLine"));
    m_jobLine->setToolTip(tr("Stage · block i/N · matrix j/M · elapsed · estimated time left · resident memory"));
    m_busy = new QProgressBar(this);
    m_busy->setRange(0, 0);
    m_busy->setMaximumWidth(140);
    m_busy->setMaximumHeight(16);
    m_busy->setTextVisible(false);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setObjectName(QStringLiteral("statusCancel"));
    m_cancel->setToolTip(tr("Cancel the running job (Esc). A cancelled quantization stays resumable."));
    m_statusModel = new QLabel(tr("No model"), this);
    for (QWidget* w : {static_cast<QWidget*>(m_jobLine), static_cast<QWidget*>(m_busy),
                       static_cast<QWidget*>(m_cancel)}) {
        statusBar()->addPermanentWidget(w);
        w->hide();
    }
    statusBar()->addPermanentWidget(m_statusModel);
    connect(m_cancel, &QPushButton::clicked, this, &MainWindow::cancelJobs);
    statusBar()->showMessage(tr("Ready"));
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
    m_pendingPath = request.path;
    m_pendingTokenizer = tokenizerPath;
    m_loader->load(request);
}

void MainWindow::openDemo()
{
    ModelLoadRequest request;
    request.demo = true;
    m_pendingPath = QStringLiteral(":demo");
    m_pendingTokenizer.clear();
    m_loader->load(request);
}

bool MainWindow::isLoading() const { return m_loader->isLoading(); }

bool MainWindow::isBusy() const
{
    return m_run->isBusy() || m_compare->isBusy() || m_export->isBusy() || m_chat->isBusy() || m_lab->isBusy();
}

QString MainWindow::statusText() const { return statusBar()->currentMessage(); }

QString MainWindow::progressText() const { return m_jobLine->text(); }

void MainWindow::showPage(QWidget* page) { m_tabs->setCurrentWidget(page); }

void MainWindow::cancelJobs()
{
    m_run->cancel();
    m_compare->controller()->cancel();
    m_export->controller()->cancel();
    m_chat->fpController()->stop();
    m_chat->quantizedController()->stop();
    m_lab->cancel();
}

QString MainWindow::copyCliCommand()
{
    workflow::QuantizeSetup setup = m_run->setup();
    const QFileInfo run(QString::fromStdString(setup.runPath.string()));
    QDir().mkpath(run.absolutePath());
    try {
        setup.recipePath = (run.absolutePath() + QLatin1Char('/') + run.completeBaseName() + QStringLiteral(".recipe.json"))
                               .toStdString();
        writeFileAtomically(setup.recipePath, setup.recipe.toJson().dump(2) + "\n");
        // The built-in demo text has no file: write it next to the run so the command can read it.
        for (quant::CalibrationSource& src : setup.calibration)
            if (!src.text.empty() || !std::filesystem::exists(src.path)) {
                const std::filesystem::path file =
                    (run.absolutePath() + QStringLiteral("/demo-calibration.txt")).toStdString();
                writeFileAtomically(file, src.text.empty() ? demoText() : src.text);
                src.path = file;
                src.text.clear();
            }
        const QString command = QString::fromStdString(workflow::quantizeCommandLine(setup));
        QApplication::clipboard()->setText(command);
        m_log->append(LogLevel::Info, tr("Copied to the clipboard: %1").arg(command));
        statusBar()->showMessage(tr("Command line copied to the clipboard"), 5000);
        return command;
    } catch (const std::exception& e) {
        m_log->append(LogLevel::Error, tr("Cannot build the command line: %1").arg(QString::fromUtf8(e.what())));
        return {};
    }
}

void MainWindow::chooseModelFile()
{
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open model"), lastDirectory(),
        tr("Models (*.gguf *.bin *.safetensors config.json *.h5);;All files (*)"));
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

void MainWindow::chooseRunFile()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open run file"), lastDirectory(),
                                                      tr("Run files (*.h5);;All files (*)"));
    if (path.isEmpty())
        return;
    rememberDirectory(QFileInfo(path).absolutePath());
    openModel(path);
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About bitstudio"),
                       tr("<h3>bitstudio %1</h3><p>A 1-bit post-training quantization studio for LLMs.</p>"
                          "<p>Formats: llama2.c checkpoints, GGUF, Hugging Face safetensors, run files.</p>")
                           .arg(QApplication::applicationVersion()));
}

void MainWindow::onLoadStarted(const QString& description)
{
    m_pendingDescription = description;
    m_log->append(LogLevel::Info, tr("Loading %1…").arg(description));
    statusBar()->showMessage(tr("Loading %1…").arg(description));
    updateBusy();
}

void MainWindow::onRunOpened(std::shared_ptr<const quant::QuantizedModel> run)
{
    m_pendingRunFile = QString::fromStdString(run->runPath);
    onQuantized(run);
}

void MainWindow::onLoaded(std::shared_ptr<const Model> model, double seconds)
{
    m_model = std::move(model);
    // The spec the pages write into run files: the file given (a run file stands for its base model).
    m_spec = m_pendingRunFile.isEmpty() ? m_pendingPath : QString::fromStdString(m_model->sourcePath);
    const ModelConfig& c = m_model->config;
    m_modelPanel->setModel(m_model);
    m_overview->setModel(m_model);
    m_layers->setModel(m_model);
    // A llama2.c checkpoint's separate tokenizer goes into the run file and the CLI command with the model.
    m_run->setModel(m_model, m_spec, m_pendingRunFile.isEmpty() ? m_pendingTokenizer : QString());
    if (m_spec == QLatin1String(":demo")) {
        // The demo opens ready to quantize in seconds: its own text, a small calibration set.
        CalibrationSettings s = m_run->calibrationPanel()->settings();
        s.samples = 32;
        s.seqLen = 128;
        m_run->calibrationPanel()->setSettings(s);
    }
    m_compare->setModel(m_model, m_spec);
    m_export->setModel(m_model, m_spec);
    m_chat->setModel(m_model, m_spec);
    m_lab->setModel(m_model);
    m_lab->setCalibrationSettings(m_run->calibrationPanel()->settings());
    if (!m_pendingRunFile.isEmpty()) {
        m_run->openRunFile(m_pendingRunFile);
        addRecent(m_pendingRunFile);
        showPage(m_run);
        m_pendingRunFile.clear();
    } else if (m_spec != QLatin1String(":demo")) {
        addRecent(m_spec);
    }

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
    updateBusy();
    emit modelLoaded();
}

void MainWindow::onLoadFailed(const QString& message)
{
    m_pendingRunFile.clear();
    m_log->append(LogLevel::Error, tr("Could not load %1: %2").arg(m_pendingDescription, message));
    statusBar()->showMessage(tr("Could not load %1: %2").arg(m_pendingDescription, message));
    updateBusy();
    emit loadFailed(message);
}

void MainWindow::onQuantized(std::shared_ptr<const quant::QuantizedModel> model)
{
    m_compare->setQuantizedModel(model);
    m_export->setQuantizedModel(model);
    m_chat->setQuantizedModel(model);
    m_lab->setQuantizedModel(model);
}

void MainWindow::onProgress(const ProgressEvent& event)
{
    m_jobLine->setText(studio::progressText(event));
    m_jobLine->setVisible(isBusy());
}

void MainWindow::updateBusy()
{
    const bool jobs = isBusy();
    const bool busy = jobs || m_loader->isLoading();
    m_busy->setVisible(busy);
    m_cancel->setVisible(jobs);
    m_jobLine->setVisible(jobs && !m_jobLine->text().isEmpty());
    if (!jobs)
        m_jobLine->clear();
    if (busy != m_wasBusy) {
        m_wasBusy = busy;
        emit busyChanged(busy);
    }
}

QStringList MainWindow::recentFiles() const { return QSettings().value(recentKey()).toStringList(); }

void MainWindow::addRecent(const QString& path)
{
    QStringList recent = recentFiles();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    QSettings().setValue(recentKey(), recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = recentFiles();
    for (const QString& path : recent)
        m_recentMenu->addAction(QFileInfo(path).fileName(), this, [this, path] { openModel(path); })->setToolTip(path);
    m_recentMenu->setEnabled(!recent.isEmpty());
}

QString MainWindow::lastDirectory() const
{
    return QSettings().value(QStringLiteral("paths/lastModelDirectory")).toString();
}

void MainWindow::rememberDirectory(const QString& path)
{
    QSettings().setValue(QStringLiteral("paths/lastModelDirectory"), path);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    // Cancel everything at once so the jobs stop in parallel; each controller's destructor then waits.
    cancelJobs();
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    event->accept();
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
