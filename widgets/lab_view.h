// The Layer lab (teaching): one weight matrix, one or two methods, every step shown.
//
// Top: the matrix picker, where its inputs come from (the full-precision model, or the quantized run's earlier
// blocks when one is set), Run / Cancel and the status. Left: W as a heatmap with the calibration and statistics
// it was quantized with, and how to read the pictures. Right: method A and optional method B side by side
// (LabMethodPanel: options, Ŵ, W − Ŵ, sign planes and scales, the steps with their objectives and sentences, the
// objective-vs-step chart). The view starts no job: the page runs the lab when runRequested() fires. GUI thread.
#pragma once
#include "bq/model/quantized_linear.h"
#include <QString>
#include <QWidget>
#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;

namespace studio {

class HeatmapView;
class LabMethodPanel;

// A matrix the lab can take (a block linear or the output head).
struct LabTensor {
    QString name;
    qint64 rows = 0, cols = 0;
};

class LabView : public QWidget {
    Q_OBJECT
public:
    explicit LabView(QWidget* parent = nullptr);

    // Keeps the selected tensor when the list still has it, else selects `preferred` (or the first).
    void setTensors(const std::vector<LabTensor>& tensors, const QString& preferred = {});
    QString tensor() const;
    void setTensor(const QString& name);

    // description: what the quantized run is ("" = none: the inputs come from the full-precision model).
    void setQuantizedRun(const QString& description);
    bool usesQuantizedInputs() const;

    void setCalibrationText(const QString& text);
    void setStatisticsText(const QString& text);
    // W of `tensor` (shown, and given to both panels for W − Ŵ); null clears it with `message`.
    void setWeight(const QString& tensor, std::shared_ptr<const bq::MatrixXfR> weight, const QString& message = {});

    void setBusy(bool busy);
    void setStatus(const QString& text);
    void setProgress(int permille); // < 0: hidden
    QString statusText() const;

    LabMethodPanel* methodA() const { return m_a; }
    LabMethodPanel* methodB() const { return m_b; }
    HeatmapView* weightView() const { return m_weight; }
    QComboBox* tensorBox() const { return m_tensor; }
    QCheckBox* quantizedInputsBox() const { return m_quantizedInputs; }
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }

signals:
    void runRequested();
    void cancelRequested();
    void inputsChanged(); // another tensor or input stream: the shown results are not of it any more

private:
    QComboBox* m_tensor = nullptr;
    QCheckBox* m_quantizedInputs = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    HeatmapView* m_weight = nullptr;
    QLabel* m_calibration = nullptr;
    QLabel* m_statistics = nullptr;
    LabMethodPanel* m_a = nullptr;
    LabMethodPanel* m_b = nullptr;
    bool m_hasQuantizedRun = false;
};

} // namespace studio
