// The base of the selected-layer plots (spectra, Gram spectrum, histogram, objective): holds the layer result
// being shown (its arrays are shared, never copied) and says why a plot is empty — the layer was kept in full
// precision, or the run's analysis level did not compute the array. GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include "widgets/plot_view.h"
#include <optional>

namespace studio {

class LayerPlot : public PlotView {
    Q_OBJECT
public:
    using PlotView::PlotView;

    void setLayer(const bq::LayerResult& result); // copies the scalars, shares the arrays
    void clearLayer();
    // Why arrays may be missing in this run, a phrase (e.g. "the recipe's analysis is \"light\""); "" when
    // they are computed. Shown when the layer has none.
    void setAnalysisNote(const QString& note);
    const std::optional<bq::LayerResult>& layer() const { return m_layer; }

protected:
    // The array named `key` of the shown layer, or null.
    const std::vector<double>* array(const char* key) const;
    double metric(const char* key, double fallback) const;
    QString tensorName() const;
    // The second title line when the plot has nothing to show: no layer selected, kept in full precision,
    // or not computed (with the analysis note).
    QString missingText() const;

private:
    std::optional<bq::LayerResult> m_layer;
    QString m_note;
};

} // namespace studio
