// What a user sets up before quantizing — model, calibration, recipe, run file — as one value both front ends
// build: the CLI from its flags, the studio from its panes. From it come the pipeline's request, the equivalent
// `bitstudio-cli quantize` command line (the studio's "Copy as CLI command") and, after the run, the
// fake-quantized Hugging Face directory (`--out`).
#pragma once
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/quantized_model.h"
#include "bq/quant/recipe/recipe.h"
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::workflow {

struct QuantizeSetup {
    std::string modelSpec;                              // as openModel takes it (":demo", a file, a directory)
    std::filesystem::path tokenizer;                    // llama2.c checkpoints; empty = the model's own
    quant::Recipe recipe;                               // methods, calibration size, seed, sampling, analysis
    std::vector<quant::CalibrationSource> calibration;  // text files and their document ranges
    std::filesystem::path runPath;                      // the HDF5 run file
    std::filesystem::path recipePath;                   // where the recipe is saved for the command line
    int threads = 0;                                    // 0 = all cores
};

// A model spec as stored in a run file: files and directories made absolute, ":demo" as is.
std::string absoluteSpec(const std::string& spec);

// The pipeline request for the setup on an already opened model.
quant::QuantizeJobRequest quantizeRequest(const QuantizeSetup& setup, std::shared_ptr<const Model> model,
                                          bool resume);

// `bitstudio-cli quantize ...` running the same setup, every argument shell-quoted; the recipe is passed as
// `--recipe <recipePath>` (the caller saves setup.recipe there; the command line does not repeat its fields).
// All calibration sources must share one document range (the CLI's --calib-docs applies to every file); throws
// std::invalid_argument naming the difference otherwise.
std::string quantizeCommandLine(const QuantizeSetup& setup, bool resume = false);

// `--out DIR`: the fake-quantized model as a Hugging Face directory plus bitstudio_run.json pointing back to the
// run file, base model, tokenizer and recipe, swapped into place as one directory (writeHfDirectory,
// util/output_path.h): a directory that is not a previous bitstudio output, or a file, is refused
// (OutputRefused) unless force.
void writeFakeQuantizedDirectory(const quant::QuantizedModel& model, const std::filesystem::path& dir,
                                 const std::filesystem::path& runPath, const std::string& modelPath,
                                 const std::string& tokenizerPath, bool force = false);

} // namespace bq::workflow
