#include "widgets/layer_results_model.h"
#include "bq/quant/analysis/analysis.h"
#include <QLocale>
#include <algorithm>
#include <climits>
#include <cmath>

namespace studio {

namespace q = bq::quant;

namespace {

// The metric key behind a metric column, or null for the columns read from LayerResult fields.
const char* metricKey(int column)
{
    switch (column) {
    case LayerResultsModel::WeightErrorColumn: return q::metric::WeightRelError;
    case LayerResultsModel::LocalErrorColumn: return q::metric::OutputLocal;
    case LayerResultsModel::CumulativeErrorColumn: return q::metric::OutputCumulative;
    case LayerResultsModel::TimeColumn: return q::metric::QuantizeSeconds;
    case LayerResultsModel::RssColumn: return q::metric::RssBytes;
    default: return nullptr;
    }
}

// The column's value for sorting and display; NaN when the layer has none.
double value(const bq::LayerResult& r, int column)
{
    switch (column) {
    case LayerResultsModel::BlockColumn: return r.block;
    case LayerResultsModel::BitsColumn: return r.bitsPerWeight;
    default: break;
    }
    if (const char* key = metricKey(column)) {
        const auto it = r.metrics.find(key);
        if (it != r.metrics.end())
            return it->second;
    }
    return NAN;
}

QString formatValue(double v, int column)
{
    if (std::isnan(v))
        return QStringLiteral("—");
    const QLocale locale;
    switch (column) {
    case LayerResultsModel::BlockColumn: return v < 0 ? QStringLiteral("—") : QString::number(int(v));
    case LayerResultsModel::BitsColumn: return locale.toString(v, 'f', 3);
    case LayerResultsModel::TimeColumn: return QObject::tr("%1 s").arg(locale.toString(v, 'f', 3));
    case LayerResultsModel::RssColumn: return QObject::tr("%1 MiB").arg(locale.toString(v / (1024.0 * 1024.0), 'f', 1));
    default: return locale.toString(v, 'g', 4);
    }
}

} // namespace

LayerResultsModel::LayerResultsModel(QObject* parent) : QAbstractTableModel(parent) {}

QString LayerResultsModel::columnDescription(int column)
{
    switch (column) {
    case TensorColumn: return tr("The weight matrix (canonical GGUF name).");
    case BlockColumn: return tr("The transformer block the matrix belongs to (— for the embedding and the head).");
    case MethodColumn:
        return tr("The method that quantized the matrix (fp: kept in full precision) and the recipe rule that chose "
                  "it.");
    case BitsColumn:
        return tr("Bits per weight of the stored layer, everything counted: sign planes, scales, means and masks "
                  "(16 for a matrix kept in full precision).");
    default: break;
    }
    if (const char* key = metricKey(column))
        return QString::fromUtf8(q::metricDescription(key).data());
    return {};
}

void LayerResultsModel::add(const bq::LayerResult& result)
{
    m_pending.push_back(result);
}

bool LayerResultsModel::flush()
{
    if (m_pending.empty())
        return false;
    std::vector<bq::LayerResult> added;
    int firstChanged = INT_MAX, lastChanged = -1;
    for (bq::LayerResult& r : m_pending) {
        const auto it = m_index.find(r.tensor);
        if (it != m_index.end()) {
            m_rows[std::size_t(it->second)] = std::move(r);
            firstChanged = std::min(firstChanged, it->second);
            lastChanged = std::max(lastChanged, it->second);
            continue;
        }
        // A tensor reported twice in one batch is inserted once, with its latest result.
        auto same = std::find_if(added.begin(), added.end(), [&](const bq::LayerResult& a) { return a.tensor == r.tensor; });
        if (same != added.end())
            *same = std::move(r);
        else
            added.push_back(std::move(r));
    }
    m_pending.clear();
    if (lastChanged >= 0)
        emit dataChanged(index(firstChanged, 0), index(lastChanged, ColumnCount - 1));
    if (!added.empty()) {
        const int first = int(m_rows.size());
        beginInsertRows({}, first, first + int(added.size()) - 1);
        for (bq::LayerResult& r : added) {
            m_index.emplace(r.tensor, int(m_rows.size()));
            m_rows.push_back(std::move(r));
        }
        endInsertRows();
    }
    return true;
}

void LayerResultsModel::setResults(std::vector<bq::LayerResult> results)
{
    beginResetModel();
    m_pending.clear();
    m_rows.clear();
    m_index.clear();
    for (bq::LayerResult& r : results) {
        const auto it = m_index.find(r.tensor);
        if (it != m_index.end()) {
            m_rows[std::size_t(it->second)] = std::move(r);
            continue;
        }
        m_index.emplace(r.tensor, int(m_rows.size()));
        m_rows.push_back(std::move(r));
    }
    endResetModel();
}

void LayerResultsModel::clear()
{
    setResults({});
}

int LayerResultsModel::rowOf(const std::string& tensor) const
{
    const auto it = m_index.find(tensor);
    return it == m_index.end() ? -1 : it->second;
}

int LayerResultsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int LayerResultsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LayerResultsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount)
        return {};
    const bq::LayerResult& r = m_rows[std::size_t(index.row())];
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        if (column == TensorColumn)
            return QString::fromStdString(r.tensor);
        if (column == MethodColumn)
            return QString::fromStdString(r.method);
        return formatValue(value(r, column), column);
    case SortRole: {
        if (column == TensorColumn)
            return index.row();
        if (column == MethodColumn)
            return QString::fromStdString(r.method);
        const double v = value(r, column);
        return std::isnan(v) ? -1.0 : v;
    }
    case Qt::ToolTipRole:
        if (column == MethodColumn && !r.decidedBy.empty())
            return tr("%1 — decided by %2").arg(QString::fromStdString(r.method), QString::fromStdString(r.decidedBy));
        return columnDescription(column);
    case Qt::TextAlignmentRole:
        return column == TensorColumn || column == MethodColumn ? QVariant(int(Qt::AlignLeft | Qt::AlignVCenter))
                                                                : QVariant(int(Qt::AlignRight | Qt::AlignVCenter));
    default:
        return {};
    }
}

QVariant LayerResultsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole)
        return columnDescription(section);
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case TensorColumn: return tr("Tensor");
    case BlockColumn: return tr("Block");
    case MethodColumn: return tr("Method");
    case BitsColumn: return tr("Bits/\nweight");
    case WeightErrorColumn: return tr("Weight\nerror");
    case LocalErrorColumn: return tr("Local\noutput error");
    case CumulativeErrorColumn: return tr("Cumulative\noutput error");
    case TimeColumn: return tr("Quantize\ntime");
    case RssColumn: return tr("RSS");
    default: return {};
    }
}

} // namespace studio
