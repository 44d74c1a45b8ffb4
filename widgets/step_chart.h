// The Layer lab's objective-vs-step chart of one method: each recorded step's objective against its number, one
// colour per objective (a method may measure its block steps and its whole-layer steps differently, e.g. q1_0),
// a separate line per fit (each block of the binary family starts one), and a marker on the selected step. Steps
// without an objective leave a gap. Setters mark the chart dirty; the owner calls refresh(). GUI thread.
#pragma once
#include "bq/quant/methods/method.h"
#include "widgets/plot_view.h"
#include <memory>
#include <vector>

class QScatterSeries;
class QValueAxis;

namespace studio {

class StepChart : public PlotView {
    Q_OBJECT
public:
    explicit StepChart(QWidget* parent = nullptr);

    // method: its id for the title; null steps: nothing to show (message in the title).
    void setSteps(const QString& method, std::shared_ptr<const std::vector<bq::quant::MethodStep>> steps,
                  const QString& message = {});
    // index into the steps; −1: no marker.
    void setSelectedStep(int index);
    int seriesCount() const; // lines drawn: one per objective and fit (for tests)

protected:
    void redraw() override;

private:
    QString m_method, m_message;
    std::shared_ptr<const std::vector<bq::quant::MethodStep>> m_steps;
    int m_selected = -1;
    QValueAxis* m_x = nullptr;
    QValueAxis* m_y = nullptr;
    QScatterSeries* m_marker = nullptr;
};

} // namespace studio
