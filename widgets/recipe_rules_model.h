// The recipe's rules in file order (the last matching rule wins), with the problems the recipe check found
// marked on their rule (RecipeError::issues()). Read-only; the page edits rules through its recipe document.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <QAbstractTableModel>
#include <QString>
#include <map>
#include <vector>

namespace studio {

class RecipeRulesModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { IndexColumn, MatchColumn, MethodColumn, OptionsColumn, KeepColumn, ColumnCount };

    explicit RecipeRulesModel(QObject* parent = nullptr);

    // The rules and, per 1-based rule index, the problems found (RecipeIssue::rule; 0 and -1 are not rules).
    void setRules(const std::vector<bq::quant::RecipeRule>& rules, const std::vector<bq::quant::RecipeIssue>& issues);
    bool hasIssue(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<bq::quant::RecipeRule> m_rules;
    std::map<int, QString> m_issues; // 0-based row → messages
};

} // namespace studio
