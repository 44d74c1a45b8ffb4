// The Layers page: the recipe for the open model, edited row by row or by rules, with undo/redo, presets,
// recipe files and a live estimate (size, bits per weight, peak memory) recomputed off the GUI thread after each
// edit. MainWindow feeds it the model and reads the recipe when a run starts.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include "bq/util/log_level.h"
#include <QTimer>
#include <QWidget>
#include <memory>

namespace bq {
struct Model;
}

namespace studio {

class EstimateController;
class LayersView;
class RecipeDocument;
struct EstimateResult;

class LayersPage : public QWidget {
    Q_OBJECT
public:
    explicit LayersPage(QWidget* parent = nullptr);

    void setModel(std::shared_ptr<const bq::Model> model); // nullptr clears the table
    const bq::quant::Recipe& recipe() const;
    RecipeDocument* document() const { return m_document; }
    LayersView* view() const { return m_view; }
    // The last estimate shown (valid after estimated()); false while the recipe does not resolve.
    bool hasEstimate() const { return m_haveEstimate; }
    const bq::quant::Estimate& estimate() const { return m_estimate; }
    const bq::quant::Resolution& resolution() const { return m_resolution; }

public slots:
    void applyPreset(const QString& id);
    void setBusy(bool busy); // a run is using the recipe

signals:
    void recipeChanged();
    void estimated();                     // the table and the estimate show the current recipe
    void refused(const QString& message); // the current recipe does not apply to the model
    void copyCommandRequested();          // MainWindow builds the command (it knows calibration and run file)
    void logLine(bq::LogLevel level, const QString& text);

private:
    void scheduleEstimate();
    void onEstimated(const EstimateResult& result);
    void onRefused(const QString& message, const std::vector<bq::quant::RecipeIssue>& issues);
    void loadRecipe();
    void saveRecipe();

    LayersView* m_view = nullptr;
    RecipeDocument* m_document = nullptr;
    EstimateController* m_estimator = nullptr;
    QTimer m_debounce;
    std::shared_ptr<const bq::Model> m_model;
    bq::quant::Resolution m_resolution;
    bq::quant::Estimate m_estimate;
    bool m_haveEstimate = false;
};

} // namespace studio
