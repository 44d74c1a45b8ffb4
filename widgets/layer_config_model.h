// The Layers table: one row per weight matrix of the model as the recipe resolves it (quant/recipe/recipe.h
// ResolvedTensor): tensor, block, shape, method (or kept), options, full bits per weight, and the rule that
// decided it. Read-only: edits go through the page's recipe document (undoable), which re-resolves and calls
// setResolution. GUI thread.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <QAbstractTableModel>
#include <QStringList>
#include <vector>

namespace studio {

class LayerConfigModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TensorColumn, BlockColumn, ShapeColumn, MethodColumn, OptionsColumn, BitsColumn, DecidedByColumn,
                  ColumnCount };
    static constexpr int TensorRole = Qt::UserRole;     // the canonical tensor name (std::string as QString)
    static constexpr int SortRole = Qt::UserRole + 1;   // numbers for block, bits, rows; text otherwise

    explicit LayerConfigModel(QObject* parent = nullptr);

    // Replaces the rows. Keeps rows stable when the tensor list is the same (only dataChanged is emitted), so a
    // selection survives an edit.
    void setResolution(const bq::quant::Resolution& resolution);
    void clear();
    const bq::quant::ResolvedTensor* tensorAt(int row) const;
    int rowOf(const std::string& tensor) const; // -1 when absent

    // The options that differ from the method's defaults, in schema order ("k=3, group=64"), or "defaults";
    // the cell's tooltip lists every option with its value.
    static QString optionsText(const bq::quant::ResolvedTensor& t);
    static QString optionsTooltip(const bq::quant::ResolvedTensor& t);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<bq::quant::ResolvedTensor> m_rows;
};

} // namespace studio
