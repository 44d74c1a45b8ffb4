// Resolves a recipe against the open model and estimates the run (quant/recipe/recipe.h resolveRecipe +
// estimateRun) on its own thread, so a large model never stalls the GUI while the user edits. Requests coalesce:
// while one runs, only the newest waiting request is kept; results of a superseded request are dropped.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include "gui/job_controller.h"
#include <QObject>
#include <memory>
#include <optional>

namespace bq {
struct Model;
}

namespace studio {

struct EstimateResult {
    bq::quant::Resolution resolution;
    bq::quant::Estimate estimate;
};

class EstimateController : public QObject {
    Q_OBJECT
public:
    explicit EstimateController(QObject* parent = nullptr);

    void request(std::shared_ptr<const bq::Model> model, const bq::quant::Recipe& recipe, int threads = 0);
    bool isBusy() const { return m_job.isRunning() || m_waiting.has_value(); }

signals:
    void estimated(const studio::EstimateResult& result);
    // The recipe does not apply to the model: the message and the problems per rule (RecipeError::issues()).
    void refused(const QString& message, const std::vector<bq::quant::RecipeIssue>& issues);

private:
    struct Request {
        std::shared_ptr<const bq::Model> model;
        bq::quant::Recipe recipe;
        int threads = 0;
    };
    void launch(Request request);
    void onFinished(const bq::JobResult& result);

    JobController m_job;
    std::optional<Request> m_waiting;
    std::shared_ptr<EstimateResult> m_result;
    std::shared_ptr<std::vector<bq::quant::RecipeIssue>> m_issues;
};

} // namespace studio

Q_DECLARE_METATYPE(studio::EstimateResult)
