// The Layer lab page (teaching): one weight matrix, one or two methods, every step shown (widgets/lab_view.h).
//
// Public API for MainWindow:
//   setModel(model)                 the open model: its block linears and output head become the matrix list
//                                   (blk.0.attn_q.weight first); a quantized run of another model is dropped
//   setCalibrationSettings(s)       the calibration (e.g. the Run page's panel settings), built with the model's
//                                   tokenizer on the lab's thread; until then the demo text, 32 windows of
//                                   min(128, context) tokens — small, so a lab run takes seconds
//   setCalibration(set)             prebuilt windows instead of settings
//   setQuantizedModel(run)          a finished run of this model: offers its quantized blocks as the inputs of the
//                                   matrix (the Run page's runFinished); null removes it
//   run() / cancel()                what the Run and Cancel buttons do
//   signals: busyChanged, progress (for the status bar), logLine (for the log dock)
//
// Threads: the statistics and the methods run on the lab controller's thread (lab_controller.h); the statistics are
// reused while the model, calibration, matrix and inputs stay the same. GUI thread.
#pragma once
#include "bq/jobs/job.h"
#include "bq/quant/calibration/calibration.h"
#include "widgets/calibration_panel.h"
#include <QWidget>
#include <memory>
#include <optional>

namespace bq {
struct Model;
}
namespace bq::quant {
struct QuantizedModel;
}

namespace studio {

class LabController;
class LabView;

class LabPage : public QWidget {
    Q_OBJECT
public:
    explicit LabPage(QWidget* parent = nullptr);
    ~LabPage() override;

    bool isBusy() const { return m_busy; }
    LabView* view() const { return m_view; }
    LabController* controller() const { return m_controller; }
    const CalibrationSettings& calibrationSettings() const { return m_settings; }

    // Plain functions, not slots: moc would need the shared_ptr metatypes declared before this header (MainWindow
    // connects to them by function pointer all the same).
    void setModel(std::shared_ptr<const bq::Model> model);
    void setCalibrationSettings(const CalibrationSettings& settings);
    void setCalibration(bq::quant::CalibrationSet calibration);
    void setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model);
    bool run();
    void cancel();

signals:
    void busyChanged(bool busy);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);

private:
    void onProgress(const bq::ProgressEvent& event);
    void onFinished(const bq::JobResult& result);
    void onInputsChanged();
    void showCalibration();
    void setBusy(bool busy);

    std::shared_ptr<const bq::Model> m_model;
    std::shared_ptr<const bq::quant::QuantizedModel> m_run;
    std::weak_ptr<const bq::Model> m_runModel; // the model of the job in progress or last run
    CalibrationSettings m_settings;
    std::optional<bq::quant::CalibrationSet> m_calibration; // prebuilt windows, when given
    LabView* m_view = nullptr;
    LabController* m_controller = nullptr;
    QStringList m_methods; // of the job in progress, for the progress text
    bool m_busy = false;
};

} // namespace studio
