// The Run page: calibration settings, the run file, Start / Resume / Cancel, live plots of a quantization
// and the inspection of a closed run file, with CSV / JSON reports.
//
// Public API for MainWindow:
//   setModel(model, spec, tokenizer)  the open model, the spec it was opened from (":demo", a file, a directory)
//                          and its separate tokenizer file if any (llama2.c); the run file field defaults to
//                          <app data>/runs/<model name>.h5 until the user edits it
//   setRecipe(recipe)      the Layers page's recipe; the calibration panel's samples, length, seed and sampling
//                          override its fields
//   start() / resume()     quantize into the run file from scratch / continue it (offered when its model,
//                          calibration and recipe fingerprints match; otherwise the page says which differs)
//   cancel()               stops the run within a second, leaving a resumable run file
//   openRunFile(path)      shows a closed run file (off the GUI thread; refused while a run is in progress)
//   addBlockResult(block, metrics)  per-block residual-stream metrics (the core's blockDone event); until
//                          that is connected the page takes them from the block's last layer, which carries them
//   signals: progress (for the status bar), runFinished (the completed quantized model), busyChanged,
//            logLine (for the log dock)
//
// Threads: calibration previews, quantization and run-file reads each run on their own controller's thread;
// they never touch the run file at the same time (a start waits for a preview or an open to end; previews and
// opens wait for the run to end). Plots and the table redraw from dirty flags on one 45 ms timer. GUI thread.
#pragma once
#include "gui/meta_types.h"
#include "bq/jobs/job.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/workflow/quantize_setup.h"
#include "gui/resume_check.h"
#include <QMetaType>
#include <QTimer>
#include <QWidget>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace bq {
struct Model;
}
namespace bq::quant {
struct QuantizedModel;
}

namespace studio {

class CalibrationController;
class CalibrationPanel;
class QuantizeController;
class RunFileController;
class RunView;
struct CalibrationSummary;
struct RunFileContents;

class RunPage : public QWidget {
    Q_OBJECT
public:
    explicit RunPage(QWidget* parent = nullptr);
    ~RunPage() override;

    bool isBusy() const { return m_busy; }
    QString runPath() const;
    void setRunPath(const QString& path); // as if the user typed it
    const ResumeCheck& resumeCheck() const { return m_resume; }
    QString statusText() const;   // the last run's or file's outcome
    QString progressLine() const; // stage, block, matrix, elapsed, ETA, RSS of the run in progress
    bq::quant::Recipe effectiveRecipe() const;
    // What Start would run: model spec, effective recipe, calibration sources, run file (for "Copy as CLI command").
    bq::workflow::QuantizeSetup setup() const;
    // Writes the shown run's report: JSON for a ".json" path, CSV otherwise. False (and a log line) on error.
    bool exportReport(const QString& path);

    CalibrationPanel* calibrationPanel() const { return m_calibration; }
    RunView* runView() const { return m_view; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* resumeButton() const { return m_resumeButton; }
    QPushButton* cancelButton() const { return m_cancel; }
    QuantizeController* quantizeController() const { return m_quantize; }
    CalibrationController* calibrationController() const { return m_calibrationBuild; }

public slots:
    void setModel(std::shared_ptr<const bq::Model> model, const QString& spec, const QString& tokenizerPath = {});
    void setRecipe(const bq::quant::Recipe& recipe);
    bool start();
    bool resume();
    void cancel();
    bool openRunFile(const QString& path);
    void addBlockResult(int block, const std::map<std::string, double>& metrics);

signals:
    void progress(const bq::ProgressEvent& event);
    void runFinished(std::shared_ptr<const bq::quant::QuantizedModel> model);
    void busyChanged(bool busy);
    void logLine(bq::LogLevel level, const QString& text);
    void calibrationChecked(); // a calibration preview (and resume check) ended, successfully or not

private:
    bool launch(bool resume);
    void startPendingLaunch();
    void scheduleCalibration();
    void requestCalibration();
    void onCalibrationBuilt(const CalibrationSummary& summary, const ResumeCheck& resume);
    void onCalibrationFailed(const QString& message);
    void onLayerDone(const bq::LayerResult& result);
    void onProgress(const bq::ProgressEvent& event);
    void onRunFinished(const bq::JobResult& result);
    void onRunFileOpened(const std::shared_ptr<const RunFileContents>& contents);
    void tick();
    void ensureTicking();
    void setBusy(bool busy);
    void setStatus(const QString& text);
    void updateActions();
    void chooseRunFile();
    void chooseRunFileToOpen();
    void chooseReportFile();
    QString defaultRunPath() const;
    QString analysisNote(const std::string& analysis) const;

    std::shared_ptr<const bq::Model> m_model;
    QString m_spec;
    QString m_tokenizerPath; // empty: the model's own tokenizer
    bq::quant::Recipe m_recipe;
    CalibrationPanel* m_calibration = nullptr;
    RunView* m_view = nullptr;
    QuantizeController* m_quantize = nullptr;
    CalibrationController* m_calibrationBuild = nullptr;
    RunFileController* m_runFiles = nullptr;
    QLineEdit* m_runPath = nullptr;
    QLabel* m_recipeLabel = nullptr;
    QLabel* m_resumeLabel = nullptr;
    QLabel* m_progressLabel = nullptr;
    QLabel* m_status = nullptr;
    QProgressBar* m_progressBar = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_resumeButton = nullptr;
    QPushButton* m_cancel = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_report = nullptr;
    QTimer m_redraw;           // the page's one redraw timer
    QTimer m_calibrationDelay; // coalesces edits into one calibration preview
    ResumeCheck m_resume;
    bool m_busy = false;
    bool m_runPathEdited = false;
    std::optional<bool> m_pendingLaunch; // a start (false) or resume (true) waiting for a preview / open to end
    bool m_viewHoldsCompletedRun = false;
    bool m_progressDirty = false;
    bq::ProgressEvent m_lastProgress;
    int m_runNumber = 0;
    nlohmann::json m_runInfo; // what identifies the shown run in reports
};

} // namespace studio
