#include "widgets/tensor_table_model.h"
#include "bq/model/model.h"
#include "widgets/model_summary.h"
#include <QLocale>
#include <algorithm>
#include <tuple>

namespace studio {

using namespace bq;

namespace {

// Model order: embedding, then blocks by number with parts in forward order, then the rest, final norm and
// head last. Plain string order would put blk.10 before blk.2.
std::tuple<int, int, int, std::string> orderKey(const std::string& name)
{
    static const char* const parts[] = {"attn_norm", "attn_q_norm", "attn_k_norm", "attn_q", "attn_k", "attn_v",
                                        "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    if (name.rfind("token_embd.", 0) == 0)
        return {0, 0, 0, name};
    if (name.rfind("blk.", 0) == 0) {
        const auto dot = name.find('.', 4);
        int block = 0;
        try {
            block = std::stoi(name.substr(4, dot - 4));
        } catch (...) {
            return {2, 0, 0, name};
        }
        const std::string rest = dot == std::string::npos ? std::string() : name.substr(dot + 1);
        int part = int(std::size(parts));
        for (int i = 0; i < int(std::size(parts)); ++i) {
            const std::string p = parts[i];
            if (rest.rfind(p + ".", 0) == 0) {
                part = i;
                break;
            }
        }
        return {1, block, part, rest};
    }
    if (name.rfind("output_norm.", 0) == 0)
        return {3, 0, 0, name};
    if (name.rfind("output.", 0) == 0)
        return {4, 0, 0, name};
    return {2, 0, 0, name};
}

} // namespace

bool tensorOrderLess(const std::string& a, const std::string& b)
{
    return orderKey(a) < orderKey(b);
}

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
                           int(t->dtype), t->numel(), t->nbytes});
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
        case DTypeColumn: return QString::fromLatin1(dtypeName(static_cast<DType>(r.dtype)));
        case BytesColumn: return groupedNumber(std::int64_t(r.bytes));
        }
        break;
    case SortRole:
        switch (index.column()) {
        case NameColumn: return index.row();
        case ShapeColumn: return qlonglong(r.numel);
        case DTypeColumn: return QString::fromLatin1(dtypeName(static_cast<DType>(r.dtype)));
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
