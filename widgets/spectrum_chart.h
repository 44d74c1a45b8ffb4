// Singular values of W, Ŵ and W − Ŵ for the selected layer (arrays sv.weight / sv.quantized / sv.error), on a
// log scale against their rank. The title says whether they are exact (all min(n, m) values) or the top k of
// a fixed-seed randomized SVD (metric sv.exact). GUI thread.
#pragma once
#include "widgets/layer_plot.h"

class QLineSeries;
class QLogValueAxis;
class QValueAxis;

namespace studio {

class SpectrumChart : public LayerPlot {
    Q_OBJECT
public:
    explicit SpectrumChart(QWidget* parent = nullptr);

    QLineSeries* weightSeries() const { return m_weight; }
    QLineSeries* quantizedSeries() const { return m_quantized; }
    QLineSeries* errorSeries() const { return m_error; }

protected:
    void redraw() override;

private:
    QLineSeries* m_weight = nullptr;
    QLineSeries* m_quantized = nullptr;
    QLineSeries* m_error = nullptr;
    QValueAxis* m_x = nullptr;
    QLogValueAxis* m_y = nullptr;
};

} // namespace studio
