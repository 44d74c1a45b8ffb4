#include "bq/workflow/quantize_setup.h"
#include "bq/formats/convert.h"
#include "bq/quant/fake_quant_model.h"
#include "bq/util/output_path.h"
#include <stdexcept>

namespace bq::workflow {

namespace {

// POSIX shell quoting: plain words stay bare, anything else goes in single quotes.
std::string shellQuote(const std::string& s)
{
    const bool plain = !s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789_-./:=,+@%") == std::string::npos;
    if (plain)
        return s;
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

} // namespace

std::string absoluteSpec(const std::string& spec)
{
    if (spec.empty() || spec[0] == ':')
        return spec;
    return std::filesystem::absolute(spec).lexically_normal().string();
}

quant::QuantizeJobRequest quantizeRequest(const QuantizeSetup& setup, std::shared_ptr<const Model> model,
                                          bool resume)
{
    quant::QuantizeJobRequest req;
    req.model = std::move(model);
    req.modelPath = absoluteSpec(setup.modelSpec);
    req.tokenizerPath = setup.tokenizer.empty() ? "" : absoluteSpec(setup.tokenizer.string());
    req.recipe = setup.recipe;
    req.calibrationSources = setup.calibration;
    req.runPath = setup.runPath;
    req.resume = resume;
    req.threads = setup.threads;
    return req;
}

std::string quantizeCommandLine(const QuantizeSetup& setup, bool resume)
{
    std::string cmd = "bitstudio-cli quantize " + shellQuote(setup.modelSpec);
    if (!setup.tokenizer.empty())
        cmd += " --tokenizer " + shellQuote(setup.tokenizer.string());
    for (const quant::CalibrationSource& src : setup.calibration) {
        const quant::CalibrationSource& first = setup.calibration.front();
        if (src.docBegin != first.docBegin || src.docEnd != first.docEnd)
            throw std::invalid_argument("the command line takes one --calib-docs range for every file, but " +
                                        src.path.string() + " has its own");
        cmd += " --calib " + shellQuote(src.path.string());
    }
    if (!setup.calibration.empty()) {
        const quant::CalibrationSource& first = setup.calibration.front();
        if (first.docBegin != 0 || first.docEnd >= 0)
            cmd += " --calib-docs " + std::to_string(first.docBegin) + ":" +
                   (first.docEnd >= 0 ? std::to_string(first.docEnd) : std::string());
    }
    cmd += " --recipe " + shellQuote(setup.recipePath.string());
    cmd += " --run " + shellQuote(setup.runPath.string());
    if (setup.threads > 0)
        cmd += " --threads " + std::to_string(setup.threads);
    if (resume)
        cmd += " --resume";
    return cmd;
}

void writeFakeQuantizedDirectory(const quant::QuantizedModel& model, const std::filesystem::path& dir,
                                 const std::filesystem::path& runPath, const std::string& modelPath,
                                 const std::string& tokenizerPath, bool force)
{
    checkOutputDirectory(dir, force); // before building the fake-quantized model
    const auto fake = quant::makeFakeQuantizedModel(model);
    const nlohmann::json ref{{"run", absoluteSpec(runPath.string())},
                             {"base_model", modelPath},
                             {"tokenizer", tokenizerPath},
                             {"recipe", model.recipe}};
    HfWriteOptions options;
    options.force = force;
    options.extraFiles.emplace_back("bitstudio_run.json", ref.dump(2) + "\n");
    writeHfDirectory(*fake, dir, DType::F32, options);
}

} // namespace bq::workflow
