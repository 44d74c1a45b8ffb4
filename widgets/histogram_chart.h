// The selected layer's weight histogram: W's counts as a step line over the shared bin edges (hist.edges,
// hist.weight) and Ŵ's levels as vertical lines at the centres of the bins Ŵ's entries fall in, as tall as
// their counts (hist.quantized, right axis: a binarized matrix puts all its entries on a few levels, so its
// counts dwarf W's). GUI thread.
#pragma once
#include "widgets/layer_plot.h"

class QLineSeries;
class QValueAxis;

namespace studio {

class HistogramChart : public LayerPlot {
    Q_OBJECT
public:
    explicit HistogramChart(QWidget* parent = nullptr);
    QLineSeries* weightSeries() const { return m_weight; }
    QLineSeries* levelSeries() const { return m_levels; }
    int levelCount() const { return m_levelCount; } // bins Ŵ occupies

protected:
    void redraw() override;

private:
    QLineSeries* m_weight = nullptr;
    QLineSeries* m_levels = nullptr;
    QValueAxis* m_x = nullptr;
    QValueAxis* m_y = nullptr;
    QValueAxis* m_yLevels = nullptr;
    int m_levelCount = 0;
};

} // namespace studio
