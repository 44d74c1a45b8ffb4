// One row per finished layer of a quantization run: tensor, block, method, bits per weight, relative weight
// error, local and cumulative output errors, quantize time and the process RSS when it finished. Rows arrive
// from layerDone events through add(), which only queues them; flush() — called on the page's redraw tick —
// inserts every queued new row with one beginInsertRows and updates every re-reported row (a resumed run
// reports its finished layers again) with one dataChanged. Sort and filter through a QSortFilterProxyModel
// with SortRole. Tooltips say how each metric is computed (bq::quant::metricDescription). GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include <QAbstractTableModel>
#include <string>
#include <unordered_map>
#include <vector>

namespace studio {

class LayerResultsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        TensorColumn,
        BlockColumn,
        MethodColumn,
        BitsColumn,
        WeightErrorColumn,
        LocalErrorColumn,
        CumulativeErrorColumn,
        TimeColumn,
        RssColumn,
        ColumnCount
    };
    // Qt::UserRole: a number to sort by (arrival order for tensors, the value for metrics, -1 when absent).
    static constexpr int SortRole = Qt::UserRole;

    explicit LayerResultsModel(QObject* parent = nullptr);

    void add(const bq::LayerResult& result); // queued until flush()
    bool flush();                            // true when rows were inserted or changed
    bool hasPending() const { return !m_pending.empty(); }
    void setResults(std::vector<bq::LayerResult> results); // replaces everything (a run file), in the given order
    void clear();

    const bq::LayerResult& result(int row) const { return m_rows[std::size_t(row)]; }
    const std::vector<bq::LayerResult>& results() const { return m_rows; }
    int rowOf(const std::string& tensor) const; // -1 when absent

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // How the column's value is computed (header and cell tooltips).
    static QString columnDescription(int column);

private:
    std::vector<bq::LayerResult> m_rows;
    std::unordered_map<std::string, int> m_index; // tensor → row
    std::vector<bq::LayerResult> m_pending;
};

} // namespace studio
