// Metrics through depth for the current run, with earlier runs overlaid (each run a named set of series,
// earlier ones dashed). One metric at a time (setMetric): per weight matrix — output errors (cumulative and
// local), weight error, bits per weight, quantize time, RSS — with x = the matrix in model order (the union of
// every shown run's matrices, so runs line up by name); or per block — residual-stream relative MSE and cosine,
// token-similarity error, FP vs quantized — with x = the block. Error metrics use a log y axis.
//
// Metrics that need the full-precision stream (cumulative output error, residual stream, token similarity)
// are absent when the run's recipe says analysis "light"; the chart then says "not computed" and why
// (setNotComputed). Setters mark the chart dirty; refresh() redraws it. GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include "widgets/plot_view.h"
#include <map>
#include <string>
#include <vector>

class QLineSeries;
class QLogValueAxis;
class QValueAxis;

namespace studio {

struct DepthMetric {
    QString label;                 // combo box and title
    QString axisTitle;             // y axis
    std::vector<std::string> keys; // one series per key (metric keys; "bits_per_weight" for the field)
    QStringList seriesNames;       // legend names, one per key
    bool perBlock = false;         // x = block, values from block metrics
    bool logScale = false;
    bool needsSecondStream = false;
    double scale = 1;              // display = value × scale (bytes → MiB)
    QString description() const;   // how the values are computed (tooltips)
};

class DepthChart : public PlotView {
    Q_OBJECT
public:
    static const std::vector<DepthMetric>& metrics();
    static constexpr const char* kBitsPerWeight = "bits_per_weight";

    explicit DepthChart(QWidget* parent = nullptr);

    void setMetric(int index);
    int metric() const { return m_metric; }

    // The current run.
    void setCurrentName(const QString& name);
    void addLayer(const bq::LayerResult& result); // replaces an earlier result for the same tensor
    void setBlockMetrics(int block, const std::map<std::string, double>& metrics); // merges
    // Why the second-stream metrics may be missing, a phrase ending "it needs the full-precision stream, and …"
    // (e.g. "the recipe's analysis is \"light\""); "" when they are computed.
    void setNotComputed(const QString& reason);
    void clearCurrent();
    bool currentIsEmpty() const;
    // Moves the current run (if not empty) to the front of the earlier runs (at most kEarlierRuns are kept).
    void archiveCurrent();
    void clearEarlierRuns();
    int earlierRunCount() const { return int(m_earlier.size()); }
    static constexpr int kEarlierRuns = 4;

    // The series of a run after the last redraw (0 = current, 1.. = earlier), one per key of the metric.
    QList<QLineSeries*> runSeries(int run) const;
    QString titleText() const; // the chart title as plain text

protected:
    void redraw() override;
    void addContextActions(QMenu& menu) override;

private:
    struct Run {
        QString name;
        std::vector<std::pair<std::string, std::map<std::string, double>>> matrices; // tensor → values
        std::map<int, std::map<std::string, double>> blocks;
        QString notComputed;
        bool empty() const { return matrices.empty() && blocks.empty(); }
    };
    void rebuildSeries();
    const Run& run(int index) const { return index == 0 ? m_current : m_earlier[std::size_t(index - 1)]; }
    void showPointToolTip(int run, int key, const QPointF& point);

    Run m_current;
    std::vector<Run> m_earlier;
    int m_metric = 0;
    bool m_structureDirty = true;
    std::vector<QList<QLineSeries*>> m_series; // [run][key]
    QStringList m_matrixAxis;                  // x position → tensor name (per-matrix metrics)
    QValueAxis* m_x = nullptr;
    QValueAxis* m_yLinear = nullptr;
    QLogValueAxis* m_yLog = nullptr;
};

} // namespace studio
