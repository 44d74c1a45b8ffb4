#include "gui/layers_page.h"
#include "bq/model/model.h"
#include "bq/workflow/recipe_presets.h"
#include "gui/estimate_controller.h"
#include "gui/recipe_document.h"
#include "widgets/estimate_panel.h"
#include "widgets/layer_config_model.h"
#include "widgets/layers_view.h"
#include "widgets/recipe_rules_model.h"
#include <QFileDialog>
#include <QMessageBox>
#include <QVBoxLayout>

namespace studio {

namespace {

RecipeDocument::Assignment assignment(const QString& method, const nlohmann::json& options)
{
    RecipeDocument::Assignment a;
    if (!method.isEmpty()) {
        a.method = method.toStdString();
        a.options = options;
    }
    return a;
}

} // namespace

LayersPage::LayersPage(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_view = new LayersView(this);
    layout->addWidget(m_view);
    m_document = new RecipeDocument(this);
    m_estimator = new EstimateController(this);

    QVector<LayersView::Preset> presets;
    for (const bq::workflow::RecipePreset& p : bq::workflow::recipePresets())
        presets.push_back({QString::fromStdString(p.id), QString::fromStdString(p.title),
                           QString::fromStdString(p.description)});
    m_view->setPresets(presets);
    m_view->setUndoStack(m_document->undoStack());

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(60); // coalesce a burst of edits (typing a pattern, undoing several steps)
    connect(&m_debounce, &QTimer::timeout, this, [this] {
        if (m_model)
            m_estimator->request(m_model, m_document->recipe());
    });
    connect(m_document, &RecipeDocument::changed, this, [this] {
        emit recipeChanged();
        scheduleEstimate();
    });
    connect(m_estimator, &EstimateController::estimated, this, &LayersPage::onEstimated);
    connect(m_estimator, &EstimateController::refused, this, &LayersPage::onRefused);

    connect(m_view, &LayersView::assignRequested, this,
            [this](const QStringList& tensors, const QString& method, const nlohmann::json& options) {
                m_document->assignToTensors(tensors, assignment(method, options));
            });
    connect(m_view, &LayersView::ruleRequested, this,
            [this](const QString& pattern, bool regex, const QString& method, const nlohmann::json& options) {
                m_document->assignByRule(pattern, regex, assignment(method, options));
            });
    connect(m_view, &LayersView::clearOverridesRequested, m_document, &RecipeDocument::clearOverrides);
    connect(m_view, &LayersView::removeRuleRequested, m_document, &RecipeDocument::removeRule);
    connect(m_view, &LayersView::moveRuleRequested, m_document, &RecipeDocument::moveRule);
    connect(m_view, &LayersView::presetRequested, this, &LayersPage::applyPreset);
    connect(m_view, &LayersView::loadRequested, this, &LayersPage::loadRecipe);
    connect(m_view, &LayersView::saveRequested, this, &LayersPage::saveRecipe);
    connect(m_view, &LayersView::copyCommandRequested, this, &LayersPage::copyCommandRequested);
}

const bq::quant::Recipe& LayersPage::recipe() const { return m_document->recipe(); }

void LayersPage::setModel(std::shared_ptr<const bq::Model> model)
{
    m_model = std::move(model);
    m_haveEstimate = false;
    if (!m_model) {
        m_view->layerModel()->clear();
        m_view->estimatePanel()->clear();
        return;
    }
    scheduleEstimate();
}

void LayersPage::applyPreset(const QString& id)
{
    try {
        const bq::workflow::RecipePreset& p = bq::workflow::findRecipePreset(id.toStdString());
        bq::quant::Recipe r = p.recipe;
        // The calibration fields belong to the calibration panel, not to the preset.
        const bq::quant::Recipe& now = m_document->recipe();
        r.samples = now.samples;
        r.seqLen = now.seqLen;
        r.seed = now.seed;
        r.sampling = now.sampling;
        m_document->replace(r, tr("preset %1").arg(QString::fromStdString(p.title)));
    } catch (const std::exception& e) {
        emit logLine(bq::LogLevel::Error, QString::fromUtf8(e.what()));
    }
}

void LayersPage::setBusy(bool busy) { m_view->setBusy(busy); }

void LayersPage::scheduleEstimate()
{
    if (!m_model)
        return;
    m_view->estimatePanel()->setPending();
    m_debounce.start();
}

void LayersPage::onEstimated(const EstimateResult& result)
{
    m_resolution = result.resolution;
    m_estimate = result.estimate;
    m_haveEstimate = true;
    const QStringList selected = m_view->selectedTensors();
    m_view->layerModel()->setResolution(m_resolution);
    if (m_view->selectedTensors() != selected)
        m_view->selectTensors(selected);
    m_view->rulesModel()->setRules(m_document->recipe().rules, {});
    int kept = 0;
    for (const auto& t : m_resolution.tensors)
        kept += t.keepFp ? 1 : 0;
    m_view->estimatePanel()->setEstimate(m_estimate, m_resolution.warnings, int(m_resolution.tensors.size()) - kept,
                                         kept);
    emit estimated();
}

void LayersPage::onRefused(const QString& message, const std::vector<bq::quant::RecipeIssue>& issues)
{
    m_haveEstimate = false;
    m_view->rulesModel()->setRules(m_document->recipe().rules, issues);
    m_view->estimatePanel()->setError(message);
    emit refused(message);
}

void LayersPage::loadRecipe()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Load recipe"), {}, tr("Recipe (*.json)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!m_document->load(path, &error))
        QMessageBox::warning(this, tr("Load recipe"), error);
    else
        emit logLine(bq::LogLevel::Info, tr("recipe loaded from %1").arg(path));
}

void LayersPage::saveRecipe()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Save recipe"), QStringLiteral("recipe.json"),
                                                      tr("Recipe (*.json)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!m_document->save(path, &error))
        QMessageBox::warning(this, tr("Save recipe"), error);
    else
        emit logLine(bq::LogLevel::Info, tr("recipe saved to %1").arg(path));
}

} // namespace studio
