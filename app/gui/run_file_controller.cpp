#include "gui/run_file_controller.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/recipe/recipe.h"
#include "widgets/tensor_table_model.h"
#include <algorithm>

namespace studio {

namespace q = bq::quant;

RunFileController::RunFileController(QObject* parent) : QObject(parent), m_job(QStringLiteral("run-file"))
{
    qRegisterMetaType<std::shared_ptr<const studio::RunFileContents>>();
    connect(&m_job, &JobController::finished, this, [this](const bq::JobResult& result) {
        std::shared_ptr<RunFileContents> contents = std::move(m_loading);
        if (result.status == bq::JobStatus::Completed)
            emit opened(std::move(contents));
        else
            emit failed(QString::fromStdString(result.message));
    });
}

bool RunFileController::open(const QString& path)
{
    if (m_job.isRunning())
        return false;
    auto contents = std::make_shared<RunFileContents>();
    contents->path = path;
    const bool ok = m_job.start([contents](bq::EventSink&, const bq::CancelToken&) -> bq::JobResult {
        try {
            const q::RunFileReader reader(contents->path.toStdString());
            contents->header = reader.header();
            contents->finishedBlocks = reader.finishedBlocks();
            contents->layers = reader.layers();
            std::stable_sort(contents->layers.begin(), contents->layers.end(),
                             [](const bq::LayerResult& a, const bq::LayerResult& b) {
                                 return bq::tensorOrderLess(a.tensor, b.tensor);
                             });
            for (std::int32_t block : reader.blocksWithMetrics())
                contents->blocks[block] = reader.blockMetrics(block);
            contents->analysis = q::parseRecipe(contents->header.recipe, contents->path.toStdString()).analysis;
            return {bq::JobStatus::Completed, {}, {}};
        } catch (const std::exception& e) {
            return {bq::JobStatus::Failed, e.what(), {}};
        }
    });
    if (ok)
        m_loading = std::move(contents);
    return ok;
}

} // namespace studio
