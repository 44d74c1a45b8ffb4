// Before the first block: the calibration windows of a request, and the run file (a new one, or an existing
// one to resume after its fingerprints are checked, with what its finished blocks hold).
#pragma once
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/run/run_file.h"
#include "run_events.h"
#include <map>
#include <string>
#include <vector>

namespace bq::quant {

// The request's windows: given, sampled from its text sources with the recipe's samples / seqlen / seed /
// sampling, or (resume without text) those stored in the run file. Throws std::invalid_argument when there is no
// calibration, its size is not samples × seq_len, or a token is outside the model's vocabulary.
CalibrationSet requestCalibration(const QuantizeJobRequest& request, const CancelToken& cancel);

// The fingerprints a run of `request` on `calibration` is stored with; modelFp is modelFingerprint(model).
RunFingerprints runFingerprints(const QuantizeJobRequest& request, const CalibrationSet& calibration,
                                const std::string& modelFp);

// What a resumed run takes over from its run file.
struct ResumedRun {
    int finishedBlocks = 0;
    // The finished layers (the embedding's too; the head's when every block is done): exact parameters, results.
    std::map<std::string, QuantizedLinear> params;
    std::vector<LayerResult> layers;
    std::map<int, std::map<std::string, double>> blockMetrics; // of the finished blocks
};

// Creates request.runPath, or with request.resume continues it when it exists: throws ResumeMismatch naming the
// differing fingerprints, else reads the finished blocks into the returned ResumedRun. The writer goes to
// `events`; logs what it does.
ResumedRun openRunFile(const QuantizeJobRequest& request, const CalibrationSet& calibration,
                       const std::string& modelFp, RunEvents& events);

} // namespace bq::quant
