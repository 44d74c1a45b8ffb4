#include "widgets/layers_view.h"
#include "bq/quant/methods/method.h"
#include "widgets/estimate_panel.h"
#include "widgets/layer_config_model.h"
#include "widgets/method_options_editor.h"
#include "widgets/recipe_rules_model.h"
#include <QCheckBox>
#include <QComboBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>
#include <set>

namespace studio {

LayersView::LayersView(QWidget* parent) : QWidget(parent)
{
    auto* root = new QVBoxLayout(this);

    // Tool row: presets, history, files, command line.
    auto* tools = new QHBoxLayout;
    tools->addWidget(new QLabel(tr("Preset:"), this));
    m_presets = new QComboBox(this);
    m_presets->setObjectName(QStringLiteral("presets"));
    m_presets->setMinimumContentsLength(28);
    tools->addWidget(m_presets);
    auto* applyPreset = new QPushButton(tr("Apply preset"), this);
    applyPreset->setObjectName(QStringLiteral("applyPreset"));
    tools->addWidget(applyPreset);
    tools->addSpacing(12);
    m_undo = new QToolButton(this);
    m_undo->setText(tr("Undo"));
    m_redo = new QToolButton(this);
    m_redo->setText(tr("Redo"));
    tools->addWidget(m_undo);
    tools->addWidget(m_redo);
    tools->addStretch(1);
    auto* load = new QPushButton(tr("Load recipe…"), this);
    auto* save = new QPushButton(tr("Save recipe…"), this);
    auto* copy = new QPushButton(tr("Copy as CLI command"), this);
    copy->setObjectName(QStringLiteral("copyCommand"));
    copy->setToolTip(tr("Copies the bitstudio-cli quantize command that runs this recipe on this model and "
                        "calibration (the recipe is saved next to the run file)."));
    for (QPushButton* b : {load, save, copy})
        tools->addWidget(b);
    root->addLayout(tools);

    auto* split = new QSplitter(Qt::Horizontal, this);

    // Left: the per-matrix table.
    auto* left = new QWidget(split);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    m_filter = new QLineEdit(left);
    m_filter->setPlaceholderText(tr("Filter tensors (e.g. ffn_down, blk.3.)"));
    m_filter->setClearButtonEnabled(true);
    leftLayout->addWidget(m_filter);
    m_layers = new LayerConfigModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_layers);
    m_proxy->setSortRole(LayerConfigModel::SortRole);
    m_proxy->setFilterKeyColumn(LayerConfigModel::TensorColumn);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_table = new QTableView(left);
    m_table->setObjectName(QStringLiteral("layerTable"));
    m_table->setModel(m_proxy);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setSortingEnabled(false);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setAlternatingRowColors(true);
    leftLayout->addWidget(m_table, 1);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    // Size the columns to their contents when the rows change (a new model), not on every edit.
    connect(m_layers, &QAbstractItemModel::modelReset, m_table, [this] { m_table->resizeColumnsToContents(); });
    split->addWidget(left);

    // Right: the editor for the selection, then the rules.
    auto* right = new QWidget(split);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    auto* editorBox = new QGroupBox(tr("Selection"), right);
    m_editorBox = editorBox;
    auto* editor = new QVBoxLayout(editorBox);
    m_selection = new QLabel(tr("Select one or more rows."), editorBox);
    m_selection->setWordWrap(true);
    editor->addWidget(m_selection);
    auto* methodRow = new QHBoxLayout;
    methodRow->addWidget(new QLabel(tr("Method"), editorBox));
    m_method = new QComboBox(editorBox);
    m_method->setObjectName(QStringLiteral("method"));
    m_method->addItem(tr("keep in full precision"), QString());
    m_method->setItemData(0, tr("Not quantized: stored as F16 in the export."), Qt::ToolTipRole);
    for (const bq::quant::MethodInfo& m : bq::quant::methodRegistry()) {
        m_method->addItem(QStringLiteral("%1 — %2").arg(QString::fromStdString(m.id), QString::fromStdString(m.title)),
                          QString::fromStdString(m.id));
        m_method->setItemData(m_method->count() - 1, QString::fromStdString(m.description), Qt::ToolTipRole);
    }
    methodRow->addWidget(m_method, 1);
    editor->addLayout(methodRow);
    m_options = new MethodOptionsEditor(editorBox);
    editor->addWidget(m_options);
    m_asOverrides = new QRadioButton(tr("Apply to the selected tensors (overrides)"), editorBox);
    m_asOverrides->setObjectName(QStringLiteral("asOverrides"));
    m_asOverrides->setChecked(true);
    m_asRule = new QRadioButton(tr("Apply to every tensor matching (a new rule):"), editorBox);
    m_asRule->setObjectName(QStringLiteral("asRule"));
    editor->addWidget(m_asOverrides);
    editor->addWidget(m_asRule);
    auto* patternRow = new QHBoxLayout;
    m_pattern = new QLineEdit(editorBox);
    m_pattern->setObjectName(QStringLiteral("pattern"));
    m_pattern->setPlaceholderText(QStringLiteral("blk.*.ffn_down.weight"));
    m_regex = new QCheckBox(tr("regex"), editorBox);
    patternRow->addWidget(m_pattern, 1);
    patternRow->addWidget(m_regex);
    editor->addLayout(patternRow);
    auto* applyRow = new QHBoxLayout;
    m_apply = new QPushButton(tr("Apply"), editorBox);
    m_apply->setObjectName(QStringLiteral("apply"));
    m_apply->setDefault(true);
    m_clearOverrides = new QPushButton(tr("Clear overrides"), editorBox);
    m_clearOverrides->setToolTip(tr("Remove the per-tensor overrides of the selected rows: the rules decide again."));
    applyRow->addStretch(1);
    applyRow->addWidget(m_clearOverrides);
    applyRow->addWidget(m_apply);
    editor->addLayout(applyRow);
    rightLayout->addWidget(editorBox);

    auto* rulesBox = new QGroupBox(tr("Rules (in order; the last match wins)"), right);
    auto* rules = new QVBoxLayout(rulesBox);
    m_rules = new RecipeRulesModel(this);
    m_rulesTable = new QTableView(rulesBox);
    m_rulesTable->setObjectName(QStringLiteral("rulesTable"));
    m_rulesTable->setModel(m_rules);
    m_rulesTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_rulesTable->setSelectionMode(QAbstractItemView::SingleSelection);
    m_rulesTable->verticalHeader()->hide();
    m_rulesTable->horizontalHeader()->setSectionResizeMode(RecipeRulesModel::MatchColumn, QHeaderView::Stretch);
    m_rulesTable->horizontalHeader()->setSectionResizeMode(RecipeRulesModel::IndexColumn,
                                                           QHeaderView::ResizeToContents);
    rules->addWidget(m_rulesTable, 1);
    auto* ruleButtons = new QHBoxLayout;
    auto* up = new QPushButton(tr("Up"), rulesBox);
    auto* down = new QPushButton(tr("Down"), rulesBox);
    auto* remove = new QPushButton(tr("Remove"), rulesBox);
    remove->setObjectName(QStringLiteral("removeRule"));
    ruleButtons->addStretch(1);
    for (QPushButton* b : {up, down, remove})
        ruleButtons->addWidget(b);
    rules->addLayout(ruleButtons);
    rightLayout->addWidget(rulesBox, 1);
    split->addWidget(right);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({840, 520});
    root->addWidget(split, 1);

    auto* estimateBox = new QGroupBox(tr("Estimate"), this);
    auto* estimateLayout = new QVBoxLayout(estimateBox);
    m_estimate = new EstimatePanel(estimateBox);
    estimateLayout->addWidget(m_estimate);
    root->addWidget(estimateBox);

    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &LayersView::onSelectionChanged);
    connect(m_method, &QComboBox::currentIndexChanged, this, &LayersView::onMethodChosen);
    connect(m_apply, &QPushButton::clicked, this, &LayersView::apply);
    connect(m_asRule, &QRadioButton::toggled, this,
            [this] { m_apply->setEnabled(!selectedTensors().isEmpty() || m_asRule->isChecked()); });
    connect(m_clearOverrides, &QPushButton::clicked, this, [this] { emit clearOverridesRequested(selectedTensors()); });
    connect(applyPreset, &QPushButton::clicked, this, [this] { emit presetRequested(m_presets->currentData().toString()); });
    connect(load, &QPushButton::clicked, this, &LayersView::loadRequested);
    connect(save, &QPushButton::clicked, this, &LayersView::saveRequested);
    connect(copy, &QPushButton::clicked, this, &LayersView::copyCommandRequested);
    const auto selectedRule = [this] {
        const QModelIndexList rows = m_rulesTable->selectionModel()->selectedRows();
        return rows.isEmpty() ? -1 : rows.first().row();
    };
    connect(remove, &QPushButton::clicked, this, [this, selectedRule] {
        if (const int r = selectedRule(); r >= 0)
            emit removeRuleRequested(r);
    });
    connect(up, &QPushButton::clicked, this, [this, selectedRule] {
        if (const int r = selectedRule(); r > 0)
            emit moveRuleRequested(r, r - 1);
    });
    connect(down, &QPushButton::clicked, this, [this, selectedRule] {
        if (const int r = selectedRule(); r >= 0 && r + 1 < m_rules->rowCount())
            emit moveRuleRequested(r, r + 1);
    });
    onSelectionChanged();
}

void LayersView::setPresets(const QVector<Preset>& presets)
{
    m_presets->clear();
    for (const Preset& p : presets) {
        m_presets->addItem(p.title, p.id);
        m_presets->setItemData(m_presets->count() - 1, p.description, Qt::ToolTipRole);
    }
}

void LayersView::setUndoStack(QUndoStack* stack)
{
    connect(m_undo, &QToolButton::clicked, stack, &QUndoStack::undo);
    connect(m_redo, &QToolButton::clicked, stack, &QUndoStack::redo);
    connect(stack, &QUndoStack::canUndoChanged, m_undo, &QToolButton::setEnabled);
    connect(stack, &QUndoStack::canRedoChanged, m_redo, &QToolButton::setEnabled);
    connect(stack, &QUndoStack::undoTextChanged, m_undo, [this](const QString& t) {
        m_undo->setToolTip(t.isEmpty() ? QString() : tr("Undo %1").arg(t));
    });
    connect(stack, &QUndoStack::redoTextChanged, m_redo, [this](const QString& t) {
        m_redo->setToolTip(t.isEmpty() ? QString() : tr("Redo %1").arg(t));
    });
    m_undo->setEnabled(stack->canUndo());
    m_redo->setEnabled(stack->canRedo());
}

QStringList LayersView::selectedTensors() const
{
    std::set<int> rows;
    for (const QModelIndex& i : m_table->selectionModel()->selectedRows())
        rows.insert(m_proxy->mapToSource(i).row());
    QStringList out;
    for (int r : rows)
        if (const auto* t = m_layers->tensorAt(r))
            out << QString::fromStdString(t->tensor);
    return out;
}

void LayersView::selectTensors(const QStringList& tensors)
{
    QItemSelection selection;
    for (const QString& name : tensors) {
        const int row = m_layers->rowOf(name.toStdString());
        if (row < 0)
            continue;
        const QModelIndex i = m_proxy->mapFromSource(m_layers->index(row, 0));
        if (i.isValid())
            selection.select(i, i.siblingAtColumn(LayerConfigModel::ColumnCount - 1));
    }
    m_table->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void LayersView::setEditorMethod(const QString& methodOrEmpty)
{
    const int i = m_method->findData(methodOrEmpty);
    if (i >= 0)
        m_method->setCurrentIndex(i);
}

void LayersView::setRulePattern(const QString& pattern, bool regex)
{
    m_pattern->setText(pattern);
    m_regex->setChecked(regex);
}

void LayersView::setApplyAsRule(bool rule) { (rule ? m_asRule : m_asOverrides)->setChecked(true); }

void LayersView::setBusy(bool busy)
{
    m_editorBox->setEnabled(!busy);
    m_presets->setEnabled(!busy);
}

void LayersView::onSelectionChanged()
{
    const QStringList tensors = selectedTensors();
    m_apply->setEnabled(!tensors.isEmpty() || m_asRule->isChecked());
    if (tensors.isEmpty()) {
        m_selection->setText(tr("Select one or more rows (Shift/Ctrl for several), or apply a rule by pattern."));
        return;
    }
    m_selection->setText(tensors.size() == 1 ? tensors.first()
                                             : tr("%n tensors selected", nullptr, int(tensors.size())));
    // Show the first selected row's setting; applying writes it to all of them.
    const bq::quant::ResolvedTensor* t = m_layers->tensorAt(m_layers->rowOf(tensors.first().toStdString()));
    if (!t)
        return;
    const QSignalBlocker block(m_method);
    const int i = m_method->findData(t->keepFp ? QString() : QString::fromStdString(t->method));
    m_method->setCurrentIndex(std::max(0, i));
    m_options->setMethod(t->keepFp ? nullptr : t->methodInfo, t->options);
    if (m_pattern->text().isEmpty() && tensors.size() == 1)
        m_pattern->setText(tensors.first());
}

void LayersView::onMethodChosen()
{
    const QString id = m_method->currentData().toString();
    m_options->setMethod(id.isEmpty() ? nullptr : &bq::quant::findMethod(id.toStdString()));
}

void LayersView::apply()
{
    const QString method = m_method->currentData().toString();
    const nlohmann::json options = method.isEmpty() ? nlohmann::json::object() : m_options->changedFromDefaults();
    if (m_asRule->isChecked()) {
        if (!m_pattern->text().trimmed().isEmpty())
            emit ruleRequested(m_pattern->text().trimmed(), m_regex->isChecked(), method, options);
        return;
    }
    const QStringList tensors = selectedTensors();
    if (!tensors.isEmpty())
        emit assignRequested(tensors, method, options);
}

} // namespace studio
