#include "widgets/tensor_table_model.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "widgets/model_summary.h"
#include <QLocale>
#include <algorithm>

namespace studio {

using namespace bq;

TensorTableModel::TensorTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void TensorTableModel::setModel(std::shared_ptr<const Model> model)
{
    beginResetModel();
    m_model = std::move(model);
    m_rows.clear();
    if (m_model) {
        std::vector<const Tensor*> tensors;
        for (const auto& [name, t] : m_model->tensors)
            tensors.push_back(&t);
        std::sort(tensors.begin(), tensors.end(),
                  [](const Tensor* a, const Tensor* b) { return tensorOrderLess(a->name, b->name); });
        m_rows.reserve(qsizetype(tensors.size()));
        for (const Tensor* t : tensors)
            m_rows.append({QString::fromStdString(t->name), QString::fromStdString(t->shapeString()),
                           t->dtype, t->numel(), t->nbytes});
    }
    endResetModel();
}

QString TensorTableModel::tensorName(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows[row].name : QString();
}

int TensorTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int TensorTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant TensorTableModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row& r = m_rows[index.row()];
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn: return r.name;
        case ShapeColumn: return r.shape;
        case DTypeColumn: return QString::fromLatin1(dtypeName(r.dtype));
        case BytesColumn: return groupedNumber(std::int64_t(r.bytes));
        }
        break;
    case SortRole:
        switch (index.column()) {
        case NameColumn: return index.row();
        case ShapeColumn: return qlonglong(r.numel);
        case DTypeColumn: return QString::fromLatin1(dtypeName(r.dtype));
        case BytesColumn: return qulonglong(r.bytes);
        }
        break;
    case Qt::ToolTipRole:
        switch (index.column()) {
        case DTypeColumn: return dtypeTooltip(r.dtype);
        case BytesColumn: return humanBytes(r.bytes);
        case ShapeColumn: return QStringLiteral("%1 elements").arg(groupedNumber(r.numel));
        default: return r.name;
        }
    case Qt::TextAlignmentRole:
        if (index.column() == BytesColumn)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        break;
    default: break;
    }
    return {};
}

QVariant TensorTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case NameColumn: return tr("Name");
    case ShapeColumn: return tr("Shape");
    case DTypeColumn: return tr("Type");
    case BytesColumn: return tr("Bytes");
    }
    return {};
}

} // namespace studio
