// One method's column of the Layer lab: the method and its options (the generated options editor), and after a
// run its result as heatmaps — Ŵ, W − Ŵ, and one sign plane (or the integer codes) at a time with its row and
// column scales as strips — plus the recorded steps: a list (number, title, objective), the selected step's
// sentence, and the objective-vs-step chart. Selecting a step shows Ŵ and W − Ŵ as they were after it (its
// snapshot), with the columns it worked on outlined; the last row, "Result", shows the final Ŵ. GUI thread.
#pragma once
#include "bq/model/quantized_linear.h"
#include "bq/quant/methods/method.h"
#include <QString>
#include <QWidget>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

class QComboBox;
class QLabel;
class QScrollArea;
class QTableWidget;
class QToolButton;

namespace studio {

class HeatmapView;
class MethodOptionsEditor;
class StepChart;

// What the lab computed for one method (shared, immutable).
struct LabMethodResult {
    QString method;
    nlohmann::json options;                                          // as run (merged with the defaults)
    std::shared_ptr<const bq::QuantizedLinear> params;               // null when the method failed
    std::shared_ptr<const bq::MatrixXfR> quantized;                  // Ŵ = params->dequantize()
    std::shared_ptr<const std::vector<bq::quant::MethodStep>> steps; // recorded steps (may be empty)
    std::map<std::string, double> metrics; // analysis keys: weight.rel_error, output.local_rel_error, …
    double seconds = 0;
    QString error; // why the method failed ("" when it ran)
};

class LabMethodPanel : public QWidget {
    Q_OBJECT
public:
    // optional: the list starts with "(none)" and the panel may stay empty (method B).
    LabMethodPanel(const QString& heading, bool optional, QWidget* parent = nullptr);

    QString methodId() const; // "" for "(none)"
    void setMethodId(const QString& id);
    nlohmann::json options() const; // every option of the method, as the editor holds them

    // The weights the results are compared with (W − Ŵ); also sets the shared colour range of Ŵ (max |W|).
    void setWeight(std::shared_ptr<const bq::MatrixXfR> weight);
    void setResult(const LabMethodResult& result);
    void clearResult(const QString& message);
    const LabMethodResult* result() const { return m_result ? &*m_result : nullptr; }

    int stepCount() const; // recorded steps of the shown result
    // index in [0, stepCount()): that step; −1 or stepCount(): the result.
    void selectStep(int index);
    int selectedStep() const; // −1: the result
    // The plane shown (index into the result's planes; planes().size() = the codes).
    void selectPlane(int index);

    QComboBox* methodBox() const { return m_method; }
    MethodOptionsEditor* optionsEditor() const { return m_options; }
    QToolButton* optionsButton() const { return m_optionsButton; }
    HeatmapView* quantizedView() const { return m_quantized; }
    HeatmapView* errorView() const { return m_error; }
    HeatmapView* planeView() const { return m_plane; }
    QComboBox* planeBox() const { return m_planeBox; }
    QTableWidget* stepTable() const { return m_steps; }
    QLabel* sentenceLabel() const { return m_sentence; }
    QLabel* summaryLabel() const { return m_summary; }
    StepChart* chart() const { return m_chart; }

signals:
    void methodChanged(); // the method or one of its options was changed by the user

private:
    void onMethodSelected();
    void updateOptionsSummary();
    void showSelection();
    void showPlane(int index);
    void showMatrix(const bq::MatrixXfR* What, const QString& when, Eigen::Index begin, Eigen::Index end,
                    const QString& missing);

    bool m_optional;
    QComboBox* m_method = nullptr;
    QToolButton* m_optionsButton = nullptr;
    QLabel* m_optionsSummary = nullptr;
    QScrollArea* m_optionsArea = nullptr;
    MethodOptionsEditor* m_options = nullptr;
    QLabel* m_summary = nullptr;
    HeatmapView* m_quantized = nullptr;
    HeatmapView* m_error = nullptr;
    QComboBox* m_planeBox = nullptr;
    HeatmapView* m_plane = nullptr;
    QTableWidget* m_steps = nullptr;
    QLabel* m_sentence = nullptr;
    StepChart* m_chart = nullptr;
    std::shared_ptr<const bq::MatrixXfR> m_weight;
    double m_range = 0; // max |W|
    std::optional<LabMethodResult> m_result;
};

} // namespace studio
