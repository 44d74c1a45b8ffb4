// The tensor table of a model: one row per tensor (name, shape, dtype, size in bytes), in model order
// (bq::tensorOrderLess: token embedding, blocks 0..N-1 with their matrices in forward order, final norm, output
// head). GUI thread.
#pragma once
#include "bq/model/tensor_types.h"
#include <QAbstractTableModel>
#include <QString>
#include <QVector>
#include <cstdint>
#include <memory>

namespace bq {
struct Model;
}

namespace studio {

class TensorTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { NameColumn, ShapeColumn, DTypeColumn, BytesColumn, ColumnCount };
    // Qt::UserRole: a sort key (model order for names, numbers for shape and bytes).
    static constexpr int SortRole = Qt::UserRole;

    explicit TensorTableModel(QObject* parent = nullptr);

    void setModel(std::shared_ptr<const bq::Model> model); // nullptr clears
    QString tensorName(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Row {
        QString name, shape;
        bq::DType dtype = bq::DType::F32;
        std::int64_t numel = 0;
        std::uint64_t bytes = 0;
    };
    QVector<Row> m_rows;
    std::shared_ptr<const bq::Model> m_model; // keeps the tensors alive while shown
};

} // namespace studio
