#include "bq/workflow/resume_check.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/util/errors.h"

namespace bq::workflow {

ResumeStatus checkResume(const std::filesystem::path& runPath, std::shared_ptr<const Model> model,
                         const quant::CalibrationSet& calibration, const quant::Recipe& recipe,
                         const CancelToken& cancel, const std::string& modelFp)
{
    ResumeStatus s;
    const std::string file = runPath.filename().string();
    std::error_code ec;
    if (runPath.empty() || !std::filesystem::exists(runPath, ec)) {
        s.message = "no run file yet: Start creates " + file;
        return s;
    }
    try {
        const quant::RunFileReader reader(runPath);
        s.runStatus = reader.header().status;
        s.finishedBlocks = reader.finishedBlocks();
        s.blockCount = reader.header().blockCount;
    } catch (const Cancelled&) {
        throw;
    } catch (const std::exception& e) {
        s.state = ResumeStatus::State::Unreadable;
        s.message = file + " is not a readable run file (" + e.what() + "); Start replaces it";
        return s;
    }
    const std::string progress = std::to_string(s.finishedBlocks) + " of " + std::to_string(s.blockCount) +
                                 " blocks";
    if (s.runStatus == quant::RunStatus::Completed) {
        s.state = ResumeStatus::State::Complete;
        s.message = file + " holds a completed run (" + progress + "); Start replaces it";
        return s;
    }
    quant::QuantizeJobRequest request;
    request.model = std::move(model);
    request.recipe = recipe;
    request.calibration = calibration;
    request.runPath = runPath;
    if (const auto mismatch = quant::checkResume(request, cancel, modelFp)) {
        s.state = ResumeStatus::State::Mismatch;
        s.differingFields = mismatch->fields();
        s.message = std::string(mismatch->what()) + "; Start replaces it";
        return s;
    }
    s.state = ResumeStatus::State::Resumable;
    s.message = file + " is " + quant::runStatusName(s.runStatus) + " after " + progress +
                " with the same model, calibration and recipe: Resume continues it, Start replaces it";
    return s;
}

} // namespace bq::workflow
