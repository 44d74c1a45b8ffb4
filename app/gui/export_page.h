// The Export page: the ExportPanel wired to an ExportController. The plan (planExport) is recomputed on the worker
// whenever the 1-bit model or the format, embeddings type or refit switch changes; Export is enabled once the
// plan for the current settings is shown and refuses nothing; then exportGguf writes the file in the background
// and the panel shows the report. GUI thread.
//
// For MainWindow:
//   setModel(model, spec)        the model the studio has open (names the suggested file when there is no run)
//   setQuantizedModel(model)     the 1-bit model to export (a finished run or a run file); nullptr clears it
//   exported(path)               a file was written (connect to ComparePage / ChatPage::setExportedFile)
//   busyChanged / progress / logLine   for the status bar and the log dock
#pragma once
#include "bq/jobs/events.h"
#include "bq/quant/quantized_model.h"
#include <QTimer>
#include <QWidget>
#include <memory>

namespace bq {
struct Model;
}

namespace studio {

class ExportController;
class ExportPanel;
struct ExportSettings;

class ExportPage : public QWidget {
    Q_OBJECT
public:
    explicit ExportPage(QWidget* parent = nullptr);

    ExportPanel* panel() const { return m_panel; }
    ExportController* controller() const { return m_controller; }
    bool isBusy() const;

    // Plain member functions (connectable by pointer): no meta-type registration of the shared_ptr arguments.
    void setModel(std::shared_ptr<const bq::Model> model, const QString& spec);
    void setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model);

signals:
    void exported(const QString& path);
    void busyChanged(bool busy);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);

private:
    void replan();
    void startExport(const ExportSettings& settings);
    void suggestPath();

    ExportPanel* m_panel = nullptr;
    ExportController* m_controller = nullptr;
    std::shared_ptr<const bq::quant::QuantizedModel> m_quantized;
    QString m_spec;
    QTimer m_planTimer;       // coalesces settings changes into one plan
    bool m_replan = false;    // settings changed while a plan ran: plan again when it ends
};

} // namespace studio
