#include "run_setup.h"
#include "bq/model/model.h"
#include "bq/quant/run/fingerprint.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <set>

namespace bq::quant {

CalibrationSet requestCalibration(const QuantizeJobRequest& request, const CancelToken& cancel)
{
    const Model& model = *request.model;
    const Recipe& r = request.recipe;
    CalibrationSet calib;
    if (request.calibration) {
        calib = *request.calibration;
    } else if (!request.calibrationSources.empty()) {
        if (!model.tokenizer)
            throw std::invalid_argument(model.sourcePath + ": the model has no tokenizer to encode the calibration "
                                                           "text (pass --tokenizer FILE)");
        CalibrationOptions o;
        o.samples = r.samples;
        o.seqLen = r.seqLen;
        o.seed = r.seed;
        o.sampling = parseCalibrationSampling(r.sampling);
        calib = buildCalibration(*model.tokenizer, request.calibrationSources, o, &cancel);
    } else if (request.resume && std::filesystem::exists(request.runPath)) {
        const RunFileReader reader(request.runPath);
        const RunHeader& h = reader.header();
        calib.samples = int(h.calibrationTokens.samples);
        calib.seqLen = int(h.calibrationTokens.seqLen);
        calib.tokens = h.calibrationTokens.ids;
        calib.sampling = h.calibration.contains("sampling") ? h.calibration["sampling"] : h.calibration;
        calib.description = h.calibration.value("description", std::string("windows stored in the run file"));
    } else {
        throw std::invalid_argument("quantize: no calibration text given (--calib FILE)");
    }
    const int N = calib.samples, T = calib.seqLen;
    if (N <= 0 || T <= 0 || calib.tokens.size() != std::size_t(N) * std::size_t(T))
        throw std::invalid_argument("quantize: calibration set has " + std::to_string(calib.tokens.size()) +
                                    " tokens, expected samples × seq_len");
    for (std::int32_t t : calib.tokens)
        if (t < 0 || t >= model.config.vocabSize)
            throw std::invalid_argument("quantize: calibration token id " + std::to_string(t) +
                                        " is outside the vocabulary of " + model.sourcePath);
    return calib;
}

RunFingerprints runFingerprints(const QuantizeJobRequest& request, const CalibrationSet& calibration,
                                const std::string& modelFp)
{
    return {modelFp, calibration.fingerprint(), recipeFingerprint(request.recipe.toJson()), ""};
}

ResumedRun openRunFile(const QuantizeJobRequest& request, const CalibrationSet& calibration,
                       const std::string& modelFp, RunEvents& events)
{
    const Model& model = *request.model;
    const int blocks = model.config.nLayers;
    const std::filesystem::path& path = request.runPath;
    const RunFingerprints expected = runFingerprints(request, calibration, modelFp);
    ResumedRun resumed;
    if (request.resume && std::filesystem::exists(path)) {
        // A run file that cannot be read (e.g. a process killed while HDF5 was writing its metadata) is refused
        // with what to do instead: a fresh run replaces it.
        try {
            {
                // Read what is finished before the writer trims unfinished blocks (one open handle at a time).
                const RunFileReader reader(path);
                if (auto mismatch = resumeMismatch(path, reader.header(), expected))
                    throw *mismatch;
                resumed.finishedBlocks = std::min(reader.finishedBlocks(), blocks);
                std::set<std::string> withParams;
                for (const auto& n : reader.quantizedLayerNames())
                    withParams.insert(n);
                for (const LayerResult& r : reader.layers()) {
                    if (r.block >= resumed.finishedBlocks)
                        continue;
                    if (r.block < 0 && r.tensor == "output.weight" && resumed.finishedBlocks < blocks)
                        continue;
                    resumed.layers.push_back(r);
                    if (withParams.count(r.tensor))
                        resumed.params.emplace(r.tensor, reader.loadQuantizedLinear(r.tensor));
                }
                for (int b = 0; b < resumed.finishedBlocks; ++b)
                    resumed.blockMetrics[b] = reader.blockMetrics(b);
            }
            events.setRunFile(RunFileWriter::openForResume(path, expected));
        } catch (const ResumeMismatch&) {
            throw;
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            throw std::runtime_error(path.string() + ": cannot resume: the run file is damaged (" + e.what() +
                                     "); start a fresh run into it (the same command without --resume) to replace it");
        }
        events.log(LogLevel::Info, "resuming " + path.string() + " after " + std::to_string(resumed.finishedBlocks) +
                                       " finished block(s)");
        return resumed;
    }
    if (request.resume)
        events.log(LogLevel::Info, path.string() + " does not exist yet; starting a new run");
    RunHeader h;
    h.recipe = request.recipe.toJson();
    h.modelFingerprint = expected.model;
    h.calibrationFingerprint = expected.calibration;
    h.modelPath = request.modelPath.empty() ? model.sourcePath : request.modelPath;
    h.tokenizerPath = request.tokenizerPath;
    h.calibration = {{"sampling", calibration.sampling}, {"description", calibration.description}};
    h.calibrationTokens.samples = calibration.samples;
    h.calibrationTokens.seqLen = calibration.seqLen;
    h.calibrationTokens.ids = calibration.tokens;
    h.blockCount = blocks;
    events.setRunFile(RunFileWriter::create(path, h));
    return resumed;
}

} // namespace bq::quant
