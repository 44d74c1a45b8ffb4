// Before a run starts: can its run file be resumed? Both front ends ask this one question the same way the
// pipeline answers it when it resumes (quant::checkResume), so "Resume" is offered exactly when it would work,
// and when it would not, the user reads which fingerprint differs.
#pragma once
#include "bq/jobs/job.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/quant/run/run_file.h"
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::workflow {

struct ResumeStatus {
    enum class State : std::uint8_t { NoRunFile, Resumable, Complete, Mismatch, Unreadable };
    State state = State::NoRunFile;
    quant::RunStatus runStatus = quant::RunStatus::Running;
    int finishedBlocks = 0, blockCount = 0;
    std::vector<std::string> differingFields; // "model", "calibration", "recipe"
    std::string message;                      // one sentence for the user
    bool canResume() const { return state == State::Resumable; }
};

// The run file at runPath against a run of `recipe` on `model` with these calibration windows. modelFp: the
// model's fingerprint (quant/run/fingerprint.h) when the caller has it, else it is computed (reads every byte of
// the model; checks cancel and throws bq::Cancelled). Never throws for a missing or unreadable run file (states).
ResumeStatus checkResume(const std::filesystem::path& runPath, std::shared_ptr<const Model> model,
                         const quant::CalibrationSet& calibration, const quant::Recipe& recipe,
                         const CancelToken& cancel, const std::string& modelFp = {});

} // namespace bq::workflow
