#include "gui/run_page.h"
#include "bq/model/model.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/quantized_model.h"
#include "bq/workflow/quantize_setup.h"
#include "gui/calibration_controller.h"
#include "gui/quantize_controller.h"
#include "gui/run_file_controller.h"
#include "gui/run_report.h"
#include "widgets/calibration_panel.h"
#include "widgets/progress_text.h"
#include "widgets/run_view.h"
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QStandardPaths>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

namespace studio {

namespace q = bq::quant;

namespace {
constexpr int kRedrawMs = 45;
constexpr int kCalibrationDelayMs = 250;
} // namespace

RunPage::RunPage(QWidget* parent) : QWidget(parent), m_recipe(q::builtinRecipe("arb-rc"))
{
    qRegisterMetaType<std::shared_ptr<const bq::quant::QuantizedModel>>();
    m_quantize = new QuantizeController(this);
    m_calibrationBuild = new CalibrationController(this);
    m_runFiles = new RunFileController(this);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    auto* top = new QHBoxLayout;
    layout->addLayout(top);

    auto* calibrationBox = new QGroupBox(tr("Calibration"), this);
    auto* calibrationLayout = new QVBoxLayout(calibrationBox);
    m_calibration = new CalibrationPanel(calibrationBox);
    calibrationLayout->addWidget(m_calibration);
    top->addWidget(calibrationBox, 5);

    auto* runBox = new QGroupBox(tr("Run"), this);
    auto* runLayout = new QVBoxLayout(runBox);
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(new QLabel(tr("Run file"), runBox));
    m_runPath = new QLineEdit(runBox);
    m_runPath->setToolTip(tr("The HDF5 run file: every finished layer is written to it, so a cancelled run can be "
                             "resumed and a finished one inspected or exported."));
    pathRow->addWidget(m_runPath, 1);
    auto* browse = new QToolButton(runBox);
    browse->setText(QStringLiteral("…"));
    browse->setToolTip(tr("Choose where the run file is written"));
    pathRow->addWidget(browse);
    runLayout->addLayout(pathRow);
    m_recipeLabel = new QLabel(runBox);
    m_recipeLabel->setWordWrap(true);
    runLayout->addWidget(m_recipeLabel);

    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(tr("Start"), runBox);
    m_start->setToolTip(tr("Quantize the model into the run file from scratch (replacing the file)"));
    m_resumeButton = new QPushButton(tr("Resume"), runBox);
    m_resumeButton->setToolTip(tr("Continue the run file after its finished blocks (same model, calibration and "
                                  "recipe only)"));
    m_cancel = new QPushButton(tr("Cancel"), runBox);
    m_cancel->setToolTip(tr("Stop the run within a second; the run file keeps the finished blocks"));
    m_open = new QPushButton(tr("Open run file…"), runBox);
    m_open->setToolTip(tr("Inspect a finished or cancelled run file"));
    m_report = new QPushButton(tr("Export report…"), runBox);
    m_report->setToolTip(tr("Write the shown run's per-layer and per-block metrics as CSV or JSON"));
    for (QPushButton* b : {m_start, m_resumeButton, m_cancel})
        buttons->addWidget(b);
    buttons->addStretch(1);
    runLayout->addLayout(buttons);
    auto* files = new QHBoxLayout;
    files->addWidget(m_open);
    files->addWidget(m_report);
    files->addStretch(1);
    runLayout->addLayout(files);

    m_resumeLabel = new QLabel(runBox);
    m_resumeLabel->setWordWrap(true);
    m_resumeLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    runLayout->addWidget(m_resumeLabel);
    auto* progressRow = new QHBoxLayout;
    m_progressBar = new QProgressBar(runBox);
    m_progressBar->setRange(0, 1000);
    m_progressBar->setTextVisible(false);
    m_progressBar->setMaximumWidth(160);
    m_progressLabel = new QLabel(runBox);
    progressRow->addWidget(m_progressBar);
    progressRow->addWidget(m_progressLabel, 1);
    runLayout->addLayout(progressRow);
    m_status = new QLabel(runBox);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    runLayout->addWidget(m_status);
    // A word-wrapping label asks for ~80 characters of width at least; these wrap into what they get instead.
    for (QLabel* label : {m_recipeLabel, m_resumeLabel, m_progressLabel, m_status})
        label->setMinimumWidth(120);
    top->addWidget(runBox, 4);

    m_view = new RunView(this);
    layout->addWidget(m_view, 1);

    m_redraw.setInterval(kRedrawMs);
    connect(&m_redraw, &QTimer::timeout, this, &RunPage::tick);
    m_calibrationDelay.setSingleShot(true);
    m_calibrationDelay.setInterval(kCalibrationDelayMs);
    connect(&m_calibrationDelay, &QTimer::timeout, this, &RunPage::requestCalibration);

    connect(m_calibration, &CalibrationPanel::changed, this, &RunPage::scheduleCalibration);
    connect(m_runPath, &QLineEdit::textEdited, this, [this] {
        m_runPathEdited = true;
        scheduleCalibration();
    });
    connect(browse, &QToolButton::clicked, this, &RunPage::chooseRunFile);
    connect(m_start, &QPushButton::clicked, this, &RunPage::start);
    connect(m_resumeButton, &QPushButton::clicked, this, &RunPage::resume);
    connect(m_cancel, &QPushButton::clicked, this, &RunPage::cancel);
    connect(m_open, &QPushButton::clicked, this, &RunPage::chooseRunFileToOpen);
    connect(m_report, &QPushButton::clicked, this, &RunPage::chooseReportFile);

    connect(m_calibrationBuild, &CalibrationController::built, this, &RunPage::onCalibrationBuilt);
    connect(m_calibrationBuild, &CalibrationController::failed, this, &RunPage::onCalibrationFailed);
    connect(m_calibrationBuild, &CalibrationController::cancelled, this, &RunPage::startPendingLaunch);
    connect(m_quantize, &QuantizeController::progress, this, &RunPage::onProgress);
    connect(m_quantize, &QuantizeController::layerDone, this, &RunPage::onLayerDone);
    connect(m_quantize, &QuantizeController::blockDone, this,
            [this](const bq::BlockResult& r) { addBlockResult(r.block, r.metrics); });
    connect(m_quantize, &QuantizeController::logLine, this, &RunPage::logLine);
    connect(m_quantize, &QuantizeController::finished, this, &RunPage::onRunFinished);
    connect(m_runFiles, &RunFileController::opened, this, &RunPage::onRunFileOpened);
    connect(m_runFiles, &RunFileController::failed, this, [this](const QString& message) {
        setStatus(tr("Could not open the run file: %1").arg(message));
        emit logLine(bq::LogLevel::Error, tr("Could not open the run file: %1").arg(message));
        startPendingLaunch();
    });

    setRecipe(m_recipe);
    m_runPath->setText(defaultRunPath());
    m_calibration->setError(tr("Open a model to build the calibration set."));
    m_view->beginRun(tr("no run yet"), {}, false);
    updateActions();
}

RunPage::~RunPage() = default;

QString RunPage::runPath() const
{
    const QString path = m_runPath->text().trimmed();
    return path.isEmpty() ? defaultRunPath() : path;
}

void RunPage::setRunPath(const QString& path)
{
    m_runPath->setText(path);
    m_runPathEdited = true;
    scheduleCalibration();
}

QString RunPage::defaultRunPath() const
{
    QString name = QStringLiteral("run");
    if (m_spec == QLatin1String(":demo"))
        name = QStringLiteral("demo");
    else if (!m_spec.isEmpty())
        name = QFileInfo(m_spec).isDir() ? QFileInfo(m_spec).fileName() : QFileInfo(m_spec).completeBaseName();
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/runs/") + name +
           QStringLiteral(".h5");
}

QString RunPage::statusText() const
{
    return m_status->text();
}

QString RunPage::progressLine() const
{
    return m_progressLabel->text();
}

q::Recipe RunPage::effectiveRecipe() const
{
    return withCalibrationSettings(m_recipe, m_calibration->settings());
}

QString RunPage::analysisNote(const std::string& analysis) const
{
    if (analysis != "light")
        return {};
    // Light analysis runs the full-precision stream only for methods that need it, and computes no spectra,
    // Gram spectra or histograms.
    return tr("the recipe's analysis is \"light\"");
}

void RunPage::setModel(std::shared_ptr<const bq::Model> model, const QString& spec, const QString& tokenizerPath)
{
    m_model = std::move(model);
    m_spec = spec;
    m_tokenizerPath = tokenizerPath;
    if (!m_runPathEdited)
        m_runPath->setText(defaultRunPath());
    m_resume = {};
    m_resumeLabel->clear();
    if (m_model && m_calibration->settings().seqLen > m_model->config.maxSeqLen) {
        // Windows longer than the context make RoPE extrapolate; start from the model's context instead.
        CalibrationSettings s = m_calibration->settings();
        s.seqLen = m_model->config.maxSeqLen;
        m_calibration->setSettings(s);
    }
    scheduleCalibration();
    updateActions();
}

void RunPage::setRecipe(const q::Recipe& recipe)
{
    m_recipe = recipe;
    m_recipeLabel->setText(tr("Recipe: %1 by default, %n rule(s), analysis \"%2\"", nullptr, int(recipe.rules.size()))
                               .arg(QString::fromStdString(recipe.method), QString::fromStdString(recipe.analysis)));
    m_recipeLabel->setToolTip(QStringLiteral("<pre>%1</pre>")
                                  .arg(QString::fromStdString(recipe.toJson().dump(2)).toHtmlEscaped()));
    scheduleCalibration();
}

void RunPage::scheduleCalibration()
{
    m_calibrationDelay.start();
}

void RunPage::requestCalibration()
{
    if (!m_model) {
        m_calibration->setError(tr("Open a model to build the calibration set."));
        return;
    }
    if (m_busy)
        return; // the run writes the run file; onRunFinished checks it again
    m_calibration->setBuilding();
    m_calibrationBuild->build({m_calibration->settings(), m_model, effectiveRecipe(), runPath()});
}

void RunPage::onCalibrationBuilt(const CalibrationSummary& summary, const ResumeCheck& resume)
{
    m_calibration->setSummary(summary);
    m_resume = resume;
    m_resumeLabel->setText(resume.message);
    updateActions();
    emit calibrationChecked();
    startPendingLaunch();
}

void RunPage::onCalibrationFailed(const QString& message)
{
    m_calibration->setError(message);
    m_resume = {};
    m_resume.message = tr("Resume cannot be checked until the calibration set builds.");
    m_resumeLabel->setText(m_resume.message);
    updateActions();
    emit calibrationChecked();
    startPendingLaunch();
}

bool RunPage::start()
{
    return launch(false);
}

bool RunPage::resume()
{
    return launch(true);
}

bq::workflow::QuantizeSetup RunPage::setup() const
{
    bq::workflow::QuantizeSetup setup;
    setup.modelSpec = m_spec.toStdString();
    setup.tokenizer = m_tokenizerPath.toStdString();
    setup.recipe = effectiveRecipe();
    setup.calibration = calibrationSources(m_calibration->settings());
    setup.runPath = runPath().toStdString();
    return setup;
}

bool RunPage::launch(bool resume)
{
    if (m_busy || !m_model)
        return false;
    m_calibrationDelay.stop();
    m_pendingLaunch = resume;
    setBusy(true);
    if (m_calibrationBuild->isRunning() || m_runFiles->isRunning()) {
        // Either may be reading the run file the run is about to write: start once they are done.
        m_calibrationBuild->cancel();
        setStatus(tr("Waiting for the run file check to end…"));
        return true;
    }
    startPendingLaunch();
    return m_busy;
}

void RunPage::startPendingLaunch()
{
    if (!m_pendingLaunch || m_calibrationBuild->isRunning() || m_runFiles->isRunning())
        return;
    const bool resume = *m_pendingLaunch;
    m_pendingLaunch.reset();

    const QString path = runPath();
    QDir().mkpath(QFileInfo(path).absolutePath());
    const bq::workflow::QuantizeSetup setup = this->setup();

    const QString name = tr("#%1 %2 · %3")
                             .arg(++m_runNumber)
                             .arg(QFileInfo(path).completeBaseName(), QString::fromStdString(m_recipe.method));
    m_view->beginRun(name, analysisNote(setup.recipe.analysis), m_viewHoldsCompletedRun);
    m_viewHoldsCompletedRun = false;
    m_runInfo = {{"name", name.toStdString()},
                 {"run_file", setup.runPath.string()},
                 {"model", setup.modelSpec},
                 {"resumed", resume},
                 {"recipe", setup.recipe.toJson()}};
    m_lastProgress = {};
    m_progressDirty = true;
    m_progressBar->setValue(0);
    m_resume = {};
    m_resumeLabel->setText(tr("The run file is checked for Resume when the run ends."));
    if (!m_quantize->start(setup, m_model, resume)) {
        setBusy(false);
        setStatus(tr("Could not start the run."));
        return;
    }
    setStatus(resume ? tr("Resuming %1…").arg(path) : tr("Quantizing into %1…").arg(path));
    emit logLine(bq::LogLevel::Info, resume ? tr("Resuming the run in %1").arg(path)
                                            : tr("Quantizing %1 into %2").arg(m_spec, path));
    ensureTicking();
}

void RunPage::cancel()
{
    if (m_pendingLaunch) {
        m_pendingLaunch.reset();
        setBusy(false);
        setStatus(tr("Start cancelled."));
    }
    m_quantize->cancel();
}

void RunPage::onProgress(const bq::ProgressEvent& event)
{
    m_lastProgress = event;
    m_progressDirty = true;
    emit progress(event);
    ensureTicking();
}

void RunPage::onLayerDone(const bq::LayerResult& result)
{
    m_view->addLayerResult(result);
    ensureTicking();
}

void RunPage::addBlockResult(int block, const std::map<std::string, double>& metrics)
{
    m_view->setBlockMetrics(block, metrics);
    ensureTicking();
}

void RunPage::onRunFinished(const bq::JobResult& result)
{
    const q::QuantizeJobResult& run = m_quantize->lastResult();
    m_progressDirty = true;
    switch (result.status) {
    case bq::JobStatus::Completed: {
        QString text = tr("Completed: %1 in %2, peak RSS %3 MiB")
                           .arg(QString::fromStdString(result.message), formatDuration(run.seconds))
                           .arg(QLocale().toString(double(run.peakRssBytes) / (1024.0 * 1024.0), 'f', 0));
        if (run.resumedBlocks > 0)
            text += tr("; %n block(s) replayed from the run file", nullptr, run.resumedBlocks);
        setStatus(text + QLatin1Char('.'));
        m_progressBar->setValue(m_progressBar->maximum());
        m_viewHoldsCompletedRun = true;
        break;
    }
    case bq::JobStatus::Cancelled:
        setStatus(tr("Cancelled: the run file keeps its finished blocks; Resume continues it."));
        break;
    case bq::JobStatus::Failed: setStatus(tr("Failed: %1").arg(QString::fromStdString(result.message))); break;
    }
    const char* const outcomes[] = {"completed", "cancelled", "failed"}; // bq::JobStatus order
    emit logLine(result.status == bq::JobStatus::Failed ? bq::LogLevel::Error : bq::LogLevel::Info,
                 tr("Run %1: %2").arg(QString::fromLatin1(outcomes[int(result.status)]),
                                      QString::fromStdString(result.message)));
    setBusy(false);
    tick(); // the last rows and points, now
    if (result.status == bq::JobStatus::Completed)
        emit runFinished(m_quantize->quantizedModel());
    requestCalibration(); // the run file changed: check it again
}

bool RunPage::openRunFile(const QString& path)
{
    if (m_busy) {
        emit logLine(bq::LogLevel::Warning, tr("A run is in progress: open %1 when it ends").arg(path));
        return false;
    }
    if (!m_runFiles->open(path))
        return false;
    setStatus(tr("Opening %1…").arg(path));
    return true;
}

void RunPage::onRunFileOpened(const std::shared_ptr<const RunFileContents>& contents)
{
    const QString name = QFileInfo(contents->path).fileName();
    m_view->showRun(name, analysisNote(contents->analysis), contents->layers, contents->blocks,
                    m_viewHoldsCompletedRun);
    const q::RunHeader& h = contents->header;
    m_viewHoldsCompletedRun = h.status == q::RunStatus::Completed;
    m_runInfo = {{"name", name.toStdString()},
                 {"run_file", contents->path.toStdString()},
                 {"model", h.modelPath},
                 {"status", q::runStatusName(h.status)},
                 {"recipe", h.recipe}};
    setStatus(tr("Opened %1: %2, %3 of %4 blocks finished, %n layer result(s).", nullptr, int(contents->layers.size()))
                  .arg(name, QString::fromLatin1(q::runStatusName(h.status)))
                  .arg(contents->finishedBlocks)
                  .arg(h.blockCount));
    emit logLine(bq::LogLevel::Info, tr("Opened the run file %1").arg(contents->path));
    setRunPath(contents->path);
    updateActions();
    startPendingLaunch();
}

bool RunPage::exportReport(const QString& path)
{
    try {
        writeRunReport(path.toStdString(), m_view->layerResults(), m_view->blockMetrics(), m_runInfo);
    } catch (const std::exception& e) {
        const QString message = tr("Could not write the report %1: %2").arg(path, QString::fromUtf8(e.what()));
        setStatus(message);
        emit logLine(bq::LogLevel::Error, message);
        return false;
    }
    setStatus(tr("Report written to %1.").arg(path));
    emit logLine(bq::LogLevel::Info, tr("Run report written to %1").arg(path));
    return true;
}

void RunPage::ensureTicking()
{
    if (!m_redraw.isActive())
        m_redraw.start();
}

void RunPage::tick()
{
    m_view->refresh();
    if (m_progressDirty) {
        m_progressDirty = false;
        const bq::ProgressEvent& e = m_lastProgress;
        m_progressLabel->setText(m_busy ? progressText(e) : QString());
        if (m_busy && e.stage == bq::Stage::Quantize && e.stepCount > 0) {
            const double sub = e.subCount > 0 ? double(e.sub) / e.subCount : 0.0;
            m_progressBar->setValue(int(1000.0 * std::min(1.0, (e.step + sub) / e.stepCount)));
        }
    }
    if (!m_busy && !m_view->hasPendingWork())
        m_redraw.stop();
    if (!m_busy)
        updateActions(); // the report button follows the rows shown
}

void RunPage::setBusy(bool busy)
{
    if (busy == m_busy)
        return;
    m_busy = busy;
    updateActions();
    emit busyChanged(busy);
}

void RunPage::setStatus(const QString& text)
{
    m_status->setText(text);
}

void RunPage::updateActions()
{
    m_start->setEnabled(m_model && !m_busy);
    m_resumeButton->setEnabled(m_model && !m_busy && m_resume.canResume());
    m_cancel->setEnabled(m_busy);
    m_open->setEnabled(!m_busy);
    m_report->setEnabled(!m_busy && !m_view->layerResults().empty());
    m_runPath->setReadOnly(m_busy);
    m_calibration->setEnabled(!m_busy);
}

void RunPage::chooseRunFile()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Run file"), runPath(), tr("Run files (*.h5)"),
                                                      nullptr, QFileDialog::DontConfirmOverwrite);
    if (!path.isEmpty())
        setRunPath(path);
}

void RunPage::chooseRunFileToOpen()
{
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Open run file"), QFileInfo(runPath()).absolutePath(),
                                     tr("Run files (*.h5);;All files (*)"));
    if (!path.isEmpty())
        openRunFile(path);
}

void RunPage::chooseReportFile()
{
    const QString suggested = QFileInfo(runPath()).absolutePath() + QLatin1Char('/') +
                              QFileInfo(runPath()).completeBaseName() + QStringLiteral("-report.csv");
    const QString path = QFileDialog::getSaveFileName(this, tr("Export run report"), suggested,
                                                      tr("CSV (*.csv);;JSON (*.json)"));
    if (!path.isEmpty())
        exportReport(path);
}

} // namespace studio
