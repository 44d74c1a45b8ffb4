// The Run page's results: the depth chart on top (metric chosen in a combo box, earlier runs overlaid), the
// per-layer table (filterable, sortable through a proxy) and the selected layer's plots — singular values,
// input-Gram eigenvalues, weight histogram with Ŵ's levels, objective trace, salient columns. Live runs feed
// it event by event (addLayerResult / setBlockMetrics only queue and mark dirty); a closed run file is shown
// with the same models (showRun). refresh() — the page's one redraw timer — flushes the table in one batch
// and redraws the dirty plots. Until a row is selected, the layer plots follow the latest finished layer.
// The four layer plots sit in a 2 × 2 grid when their area is large enough and in tabs when it is not, so
// no plot gets too small to read. GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include <QWidget>
#include <map>
#include <string>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QGridLayout;
class QSortFilterProxyModel;
class QStackedLayout;
class QTabWidget;
class QTableView;

namespace studio {

class DepthChart;
class GramSpectrumChart;
class HistogramChart;
class LayerPlot;
class LayerResultsModel;
class ObjectiveChart;
class SalientStrip;
class SpectrumChart;

using BlockMetrics = std::map<int, std::map<std::string, double>>; // block → residual-stream metrics

class RunView : public QWidget {
    Q_OBJECT
public:
    explicit RunView(QWidget* parent = nullptr);

    // Starts showing a new run named `name`: the current one moves to the depth chart's earlier runs when
    // `keepAsEarlier`, else it is dropped. `analysisNote` says why second-stream metrics and arrays may be
    // missing in the new run (e.g. its recipe's analysis is "light"); "" when they are computed.
    void beginRun(const QString& name, const QString& analysisNote, bool keepAsEarlier);
    void addLayerResult(const bq::LayerResult& result);
    void setBlockMetrics(int block, const std::map<std::string, double>& metrics);
    // A whole run at once (a run file): layers in model order.
    void showRun(const QString& name, const QString& analysisNote, std::vector<bq::LayerResult> layers,
                 const BlockMetrics& blocks, bool keepAsEarlier);

    void refresh(); // flushes queued rows, redraws dirty plots
    bool hasPendingWork() const;

    // The current run's data (reports).
    const std::vector<bq::LayerResult>& layerResults() const;
    const BlockMetrics& blockMetrics() const { return m_blocks; }
    QString runName() const { return m_runName; }

    void selectTensor(const std::string& tensor); // selects its row (after a refresh) and shows its plots
    QString shownTensor() const;                  // the layer the plots show

    LayerResultsModel* resultsModel() const { return m_model; }
    QSortFilterProxyModel* resultsProxy() const { return m_proxy; }
    QTableView* table() const { return m_table; }
    QLineEdit* filterEdit() const { return m_filter; }
    QComboBox* metricBox() const { return m_metric; }
    DepthChart* depthChart() const { return m_depth; }
    SpectrumChart* spectrumChart() const { return m_spectrum; }
    GramSpectrumChart* gramChart() const { return m_gram; }
    HistogramChart* histogramChart() const { return m_histogram; }
    ObjectiveChart* objectiveChart() const { return m_objective; }
    SalientStrip* salientStrip() const { return m_salient; }
    bool layerPlotsTabbed() const { return m_tabbed; }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void showLayer(int sourceRow);
    void onSelectionChanged();
    QList<LayerPlot*> layerPlots() const;
    void arrangeLayerPlots(bool tabbed);

    LayerResultsModel* m_model = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_table = nullptr;
    QLineEdit* m_filter = nullptr;
    QLabel* m_count = nullptr;
    QComboBox* m_metric = nullptr;
    DepthChart* m_depth = nullptr;
    SpectrumChart* m_spectrum = nullptr;
    GramSpectrumChart* m_gram = nullptr;
    HistogramChart* m_histogram = nullptr;
    ObjectiveChart* m_objective = nullptr;
    SalientStrip* m_salient = nullptr;
    QWidget* m_plotArea = nullptr;
    QStackedLayout* m_plotStack = nullptr;
    QWidget* m_gridPage = nullptr;
    QGridLayout* m_grid = nullptr;
    QTabWidget* m_plotTabs = nullptr;
    bool m_tabbed = false;
    BlockMetrics m_blocks;
    QString m_runName;
    bool m_followLatest = true; // no row selected by the user: the plots show the latest layer
    std::string m_shown;
};

} // namespace studio
