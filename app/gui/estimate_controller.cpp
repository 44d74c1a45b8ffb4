#include "gui/estimate_controller.h"
#include "bq/model/model.h"

namespace studio {

EstimateController::EstimateController(QObject* parent)
    : QObject(parent), m_job(QStringLiteral("estimate"))
{
    qRegisterMetaType<studio::EstimateResult>();
    connect(&m_job, &JobController::finished, this, &EstimateController::onFinished);
}

void EstimateController::request(std::shared_ptr<const bq::Model> model, const bq::quant::Recipe& recipe,
                                 int threads)
{
    Request r{std::move(model), recipe, threads};
    if (m_job.isRunning()) {
        m_waiting = std::move(r); // the newest wins; the running one finishes and is dropped
        return;
    }
    launch(std::move(r));
}

void EstimateController::launch(Request request)
{
    if (!request.model)
        return;
    auto result = std::make_shared<EstimateResult>();
    auto issues = std::make_shared<std::vector<bq::quant::RecipeIssue>>();
    m_result = result;
    m_issues = issues;
    m_job.start([request = std::move(request), result, issues](bq::EventSink&, const bq::CancelToken&) {
        try {
            // Through the recipe's JSON form, as the CLI reads a saved recipe: the same checks (regexes, methods,
            // options) and the same values.
            const bq::quant::Recipe recipe = bq::quant::parseRecipe(request.recipe.toJson(), "recipe");
            result->resolution = bq::quant::resolveRecipe(recipe, *request.model);
            result->estimate = bq::quant::estimateRun(recipe, result->resolution, *request.model, request.threads);
            return bq::JobResult{bq::JobStatus::Completed, {}, {}};
        } catch (const bq::quant::RecipeError& e) {
            *issues = e.issues();
            return bq::JobResult{bq::JobStatus::Failed, e.what(), {}};
        } catch (const std::exception& e) {
            return bq::JobResult{bq::JobStatus::Failed, e.what(), {}};
        }
    });
}

void EstimateController::onFinished(const bq::JobResult& result)
{
    if (m_waiting) { // superseded: drop this result, run the newest request
        Request next = std::move(*m_waiting);
        m_waiting.reset();
        launch(std::move(next));
        return;
    }
    if (result.status == bq::JobStatus::Completed)
        emit estimated(*m_result);
    else
        emit refused(QString::fromUtf8(result.message.c_str()), *m_issues);
}

} // namespace studio
