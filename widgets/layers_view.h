// The Layers page's view: the per-matrix table (filterable, multi-select), the editor for the selection (method
// from the registry or "keep in full precision", its options generated from the schema, applied as overrides of
// the selected rows or as a new rule for a pattern), the recipe's rules with their problems marked, presets,
// undo/redo, load/save and "Copy as CLI command" buttons, and the live estimate. It only shows and asks: the page
// owns the recipe and acts on the signals. GUI thread.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <QStringList>
#include <QVector>
#include <QWidget>
#include <optional>

class QAbstractButton;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;
class QSortFilterProxyModel;
class QTableView;
class QToolButton;
class QUndoStack;

namespace studio {

class EstimatePanel;
class LayerConfigModel;
class MethodOptionsEditor;
class RecipeRulesModel;

class LayersView : public QWidget {
    Q_OBJECT
public:
    explicit LayersView(QWidget* parent = nullptr);

    struct Preset {
        QString id, title, description;
    };
    void setPresets(const QVector<Preset>& presets);
    void setUndoStack(QUndoStack* stack); // undo/redo buttons follow it

    LayerConfigModel* layerModel() const { return m_layers; }
    RecipeRulesModel* rulesModel() const { return m_rules; }
    EstimatePanel* estimatePanel() const { return m_estimate; }
    QTableView* layerTable() const { return m_table; }
    QTableView* rulesTable() const { return m_rulesTable; }
    MethodOptionsEditor* optionsEditor() const { return m_options; }

    QStringList selectedTensors() const; // canonical names, model order
    void selectTensors(const QStringList& tensors);
    void setEditorMethod(const QString& methodOrEmpty); // "" = keep in full precision
    void setRulePattern(const QString& pattern, bool regex);
    void setApplyAsRule(bool rule);
    void setBusy(bool busy); // a run uses the recipe: editing is disabled meanwhile

signals:
    // Apply pressed: the method ("" = keep in full precision) and the options that differ from its defaults,
    // either on the selected tensors (overrides) or as a rule for the pattern.
    void assignRequested(const QStringList& tensors, const QString& method, const nlohmann::json& options);
    void ruleRequested(const QString& pattern, bool regex, const QString& method, const nlohmann::json& options);
    void clearOverridesRequested(const QStringList& tensors);
    void removeRuleRequested(int index);
    void moveRuleRequested(int from, int to);
    void presetRequested(const QString& id);
    void loadRequested();
    void saveRequested();
    void copyCommandRequested();

private:
    void onSelectionChanged();
    void onMethodChosen();
    void apply();

    LayerConfigModel* m_layers = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_table = nullptr;
    QLineEdit* m_filter = nullptr;
    QLabel* m_selection = nullptr;
    QComboBox* m_method = nullptr;
    MethodOptionsEditor* m_options = nullptr;
    QRadioButton* m_asOverrides = nullptr;
    QRadioButton* m_asRule = nullptr;
    QLineEdit* m_pattern = nullptr;
    QCheckBox* m_regex = nullptr;
    QPushButton* m_apply = nullptr;
    QPushButton* m_clearOverrides = nullptr;
    RecipeRulesModel* m_rules = nullptr;
    QTableView* m_rulesTable = nullptr;
    QComboBox* m_presets = nullptr;
    QToolButton* m_undo = nullptr;
    QToolButton* m_redo = nullptr;
    EstimatePanel* m_estimate = nullptr;
    QWidget* m_editorBox = nullptr;
};

} // namespace studio
