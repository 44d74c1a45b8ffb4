// The eigenvalues of the selected layer's input Gram H (array gram.eigenvalues), descending on a log scale,
// with its anisotropy, damped condition number ("cond."), effective rank and dead columns written under the
// title (metrics gram.*). Zero eigenvalues cannot be placed on a log axis; their count is stated. GUI thread.
#pragma once
#include "widgets/layer_plot.h"

class QLineSeries;
class QLogValueAxis;
class QValueAxis;

namespace studio {

class GramSpectrumChart : public LayerPlot {
    Q_OBJECT
public:
    explicit GramSpectrumChart(QWidget* parent = nullptr);
    QLineSeries* eigenvalueSeries() const { return m_eigen; }
    // The statistics line shown under the title ("" when the layer has no Gram spectrum).
    QString statisticsText() const;

protected:
    void redraw() override;

private:
    QLineSeries* m_eigen = nullptr;
    QValueAxis* m_x = nullptr;
    QLogValueAxis* m_y = nullptr;
};

} // namespace studio
