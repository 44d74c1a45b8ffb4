#include "widgets/layer_config_model.h"
#include "bq/quant/methods/method.h"
#include <QColor>
#include <QLocale>

namespace studio {

using bq::quant::ResolvedTensor;

namespace {

QString jsonText(const nlohmann::json& v)
{
    return QString::fromStdString(v.is_string() ? v.get<std::string>() : v.dump());
}

QString decidedByTooltip(const ResolvedTensor& t)
{
    if (t.decidedBy == "keep_fp")
        return QObject::tr("In the recipe's keep_fp list: stored in full precision (F16), not quantized.");
    if (t.decidedBy == "default")
        return QObject::tr("No rule matches this tensor: the recipe's default method applies.");
    if (t.decidedBy == "override")
        return QObject::tr("A per-tensor override in the recipe decided this row (it beats every rule).");
    return QObject::tr("The last matching rule wins; this one decided the row: %1")
        .arg(QString::fromStdString(t.decidedBy));
}

} // namespace

LayerConfigModel::LayerConfigModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerConfigModel::setResolution(const bq::quant::Resolution& resolution)
{
    bool sameRows = resolution.tensors.size() == m_rows.size();
    for (std::size_t i = 0; sameRows && i < m_rows.size(); ++i)
        sameRows = m_rows[i].tensor == resolution.tensors[i].tensor;
    if (sameRows) {
        m_rows = resolution.tensors;
        if (!m_rows.empty())
            emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
        return;
    }
    beginResetModel();
    m_rows = resolution.tensors;
    endResetModel();
}

void LayerConfigModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

const ResolvedTensor* LayerConfigModel::tensorAt(int row) const
{
    return row >= 0 && row < int(m_rows.size()) ? &m_rows[std::size_t(row)] : nullptr;
}

int LayerConfigModel::rowOf(const std::string& tensor) const
{
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].tensor == tensor)
            return int(i);
    return -1;
}

QString LayerConfigModel::optionsText(const ResolvedTensor& t)
{
    if (t.keepFp || !t.methodInfo)
        return {};
    QStringList parts;
    for (const bq::quant::OptionSpec& spec : t.methodInfo->options) {
        const auto it = t.options.find(spec.name);
        if (it != t.options.end() && *it != spec.defaultValue)
            parts << QStringLiteral("%1=%2").arg(QString::fromStdString(spec.name), jsonText(*it));
    }
    return parts.isEmpty() ? tr("defaults") : parts.join(QStringLiteral(", "));
}

QString LayerConfigModel::optionsTooltip(const ResolvedTensor& t)
{
    if (t.keepFp || !t.methodInfo)
        return tr("Kept in full precision: no options.");
    QString html = QStringLiteral("<b>%1</b><table>").arg(QString::fromStdString(t.method).toHtmlEscaped());
    for (const bq::quant::OptionSpec& spec : t.methodInfo->options) {
        const auto it = t.options.find(spec.name);
        const QString value = it != t.options.end() ? jsonText(*it) : QStringLiteral("?");
        html += QStringLiteral("<tr><td>%1</td><td><b>%2</b></td><td>%3</td></tr>")
                    .arg(QString::fromStdString(spec.name).toHtmlEscaped(), value.toHtmlEscaped(),
                         QString::fromStdString(spec.help).toHtmlEscaped());
    }
    return html + QStringLiteral("</table>");
}

int LayerConfigModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int LayerConfigModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LayerConfigModel::data(const QModelIndex& index, int role) const
{
    const ResolvedTensor* t = index.isValid() ? tensorAt(index.row()) : nullptr;
    if (!t)
        return {};
    if (role == TensorRole)
        return QString::fromStdString(t->tensor);
    if (role == Qt::DisplayRole || role == SortRole) {
        const bool sort = role == SortRole;
        switch (index.column()) {
        case TensorColumn: return QString::fromStdString(t->tensor);
        case BlockColumn:
            if (sort)
                return t->block;
            return t->block < 0 ? QStringLiteral("—") : QString::number(t->block);
        case ShapeColumn:
            if (sort)
                return qlonglong(t->rows * t->cols);
            return QStringLiteral("%1 × %2").arg(t->rows).arg(t->cols);
        case MethodColumn:
            return t->keepFp ? tr("kept (F16)") : QString::fromStdString(t->method);
        case OptionsColumn: return optionsText(*t);
        case BitsColumn:
            if (sort)
                return t->bitsPerWeight;
            return QLocale().toString(t->bitsPerWeight, 'f', 3);
        case DecidedByColumn: return QString::fromStdString(t->decidedBy);
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (index.column()) {
        case MethodColumn:
            return t->methodInfo ? QString::fromStdString(t->methodInfo->description)
                                 : tr("Stored in full precision (F16) in the export, not quantized.");
        case OptionsColumn: return optionsTooltip(*t);
        case BitsColumn:
            return tr("Full bits per weight this method stores, before running: every sign bit, scale, mean, "
                      "mask and code counted (F16 = 16 for kept tensors). Data-dependent layouts (BiLLM, ARB) "
                      "assume 8 % salient columns; the run reports the exact count.");
        case DecidedByColumn: return decidedByTooltip(*t);
        default: return {};
        }
    }
    if (role == Qt::TextAlignmentRole && (index.column() == BitsColumn || index.column() == BlockColumn))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ForegroundRole && t->keepFp)
        return QVariant::fromValue(QColor(Qt::darkGray));
    return {};
}

QVariant LayerConfigModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case TensorColumn: return tr("Tensor");
        case BlockColumn: return tr("Block");
        case ShapeColumn: return tr("Shape");
        case MethodColumn: return tr("Method");
        case OptionsColumn: return tr("Options");
        case BitsColumn: return tr("Bits/weight");
        case DecidedByColumn: return tr("Decided by");
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole && section == DecidedByColumn)
        return tr("Which part of the recipe decided the row: keep_fp, the default, rule k (the last matching rule "
                  "wins) or a per-tensor override.");
    return {};
}

} // namespace studio
