// The selected layer's objective trace (array objective.trace): the method's objective after each iteration
// (ARB's alternating refinement, output-align's fits, ...). Methods that do not iterate store none. GUI thread.
#pragma once
#include "widgets/layer_plot.h"

class QLineSeries;
class QValueAxis;

namespace studio {

class ObjectiveChart : public LayerPlot {
    Q_OBJECT
public:
    explicit ObjectiveChart(QWidget* parent = nullptr);
    QLineSeries* traceSeries() const { return m_trace; }

protected:
    void redraw() override;

private:
    QLineSeries* m_trace = nullptr;
    QValueAxis* m_x = nullptr;
    QValueAxis* m_y = nullptr;
};

} // namespace studio
