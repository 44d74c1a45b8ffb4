// The Compare page: the ComparePanel wired to a CompareController. The full-precision side is always the 1-bit
// model's own base model; the 1-bit side is the model in memory or an exported file. GUI thread.
//
// For MainWindow:
//   setModel(model, spec)        the model the studio has open (shown; the comparison uses the 1-bit model's base)
//   setQuantizedModel(model)     the 1-bit model (a finished run, or a run file opened); nullptr clears it
//   setExportedFile(path)        offers an exported file as the 1-bit side (connect ExportPage::exported)
//   busyChanged / progress / logLine   for the status bar and the log dock
#pragma once
#include "bq/jobs/events.h"
#include "bq/quant/quantized_model.h"
#include <QWidget>
#include <memory>

namespace bq {
struct Model;
}

namespace studio {

class CompareController;
class ComparePanel;
struct CompareSettings;

class ComparePage : public QWidget {
    Q_OBJECT
public:
    explicit ComparePage(QWidget* parent = nullptr);

    ComparePanel* panel() const { return m_panel; }
    CompareController* controller() const { return m_controller; }
    bool isBusy() const;

    // Plain member functions (connectable by pointer): no meta-type registration of the shared_ptr arguments.
    void setModel(std::shared_ptr<const bq::Model> model, const QString& spec);
    void setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model);
    void setExportedFile(const QString& path);

signals:
    void busyChanged(bool busy);
    void progress(const bq::ProgressEvent& event);
    void logLine(bq::LogLevel level, const QString& text);

private:
    void run(const CompareSettings& settings);
    void updateDescription();

    ComparePanel* m_panel = nullptr;
    CompareController* m_controller = nullptr;
    std::shared_ptr<const bq::quant::QuantizedModel> m_quantized;
    QString m_spec;
};

} // namespace studio
