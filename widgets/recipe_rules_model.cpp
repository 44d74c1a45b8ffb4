#include "widgets/recipe_rules_model.h"
#include <QBrush>
#include <QColor>

namespace studio {

RecipeRulesModel::RecipeRulesModel(QObject* parent) : QAbstractTableModel(parent) {}

void RecipeRulesModel::setRules(const std::vector<bq::quant::RecipeRule>& rules,
                                const std::vector<bq::quant::RecipeIssue>& issues)
{
    beginResetModel();
    m_rules = rules;
    m_issues.clear();
    for (const bq::quant::RecipeIssue& issue : issues) {
        if (issue.rule < 1 || issue.rule > int(rules.size()))
            continue;
        QString& text = m_issues[issue.rule - 1];
        text += (text.isEmpty() ? QString() : QStringLiteral("\n")) + QString::fromStdString(issue.message);
    }
    endResetModel();
}

bool RecipeRulesModel::hasIssue(int row) const { return m_issues.count(row) > 0; }

int RecipeRulesModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rules.size());
}

int RecipeRulesModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RecipeRulesModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rules.size()))
        return {};
    const bq::quant::RecipeRule& r = m_rules[std::size_t(index.row())];
    const auto issue = m_issues.find(index.row());
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case IndexColumn: return index.row() + 1;
        case MatchColumn: return QString::fromStdString(r.label());
        case MethodColumn: return r.method ? QString::fromStdString(*r.method) : tr("(unchanged)");
        case OptionsColumn:
            return r.options.empty() ? QString() : QString::fromStdString(r.options.dump());
        case KeepColumn: return r.keepFp ? (*r.keepFp ? tr("keep") : tr("quantize")) : QString();
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        if (issue != m_issues.end())
            return issue->second;
        if (index.column() == MatchColumn)
            return r.regex ? tr("Regular expression over the whole canonical tensor name.")
                           : tr("Glob over the whole canonical tensor name: * any run of characters (dots "
                                "included), ? one character.");
        if (index.column() == MethodColumn && !r.method)
            return tr("No method: this rule keeps the method decided so far and merges its options into it.");
        return {};
    }
    if (role == Qt::ForegroundRole && issue != m_issues.end())
        return QBrush(QColor(0xb0, 0x00, 0x20));
    if (role == Qt::DecorationRole && issue != m_issues.end() && index.column() == IndexColumn)
        return QColor(0xd0, 0x20, 0x30);
    return {};
}

QVariant RecipeRulesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case IndexColumn: return tr("#");
    case MatchColumn: return tr("Match");
    case MethodColumn: return tr("Method");
    case OptionsColumn: return tr("Options");
    case KeepColumn: return tr("Keep");
    default: return {};
    }
}

} // namespace studio
