// Opening what a user names: the one place that turns a model spec into a Model or an InferenceModel, shared by
// bitstudio-cli and the studio.
//
//   spec              opens as
//   ":demo"           the built-in demo model (demo/demo_model.h)
//   ":synthetic:NAME" a synthetic model of a real architecture's shape with random weights (model/synthetic.h:
//                     opt125m, llama3.2-1b, ...), for trying the tools at scale without a download
//   RUN.h5            a quantization run file: its base model (reopened from the path stored in the run) with
//                     every finished layer's exact parameters — the fake-quantized reference model
//   anything else     formats/model_loader.h: Hugging Face directory, GGUF, llama2.c checkpoint
//
// Back-ends (openInference): "auto" picks the packed runtime for files with packed linear weights (Q1_0, Q4_0,
// Q8_0, the bitstudio layout) and the fp32 reference otherwise; "fp32" always the reference (weights
// dequantized once); "packed" the packed kernels wherever a weight has them (run files and in-memory quantized
// models: the exact bitstudio kernels).
#pragma once
#include "bq/quant/quantized_model.h"
#include "bq/quant/run/run_file.h"
#include "bq/runtime/inference.h"
#include <filesystem>
#include <memory>
#include <string>

namespace bq {
struct Model;
}

namespace bq::workflow {

struct OpenOptions {
    std::filesystem::path tokenizer; // llama2.c checkpoints; for run files it replaces the stored tokenizer path
    int threads = 0;                 // inference threads (0 = all cores)
    std::string backend = "auto";    // auto | fp32 | packed | exact (packed, bitstudio layers with fp32 activations)
    bool requireTokenizer = true;    // llama2.c checkpoints: false opens one without a tokenizer file (info)
};

bool isRunFileSpec(const std::string& spec);

// Throws FormatError / UnsupportedModel / std::runtime_error naming the file and what was expected.
std::shared_ptr<const Model> openModel(const std::string& spec, const OpenOptions& options = {});

// How a run file reopens the model it was started from (any spec above but a run file); `tokenizer`, when
// not empty, replaces the tokenizer path stored in the run.
quant::ModelOpener runFileModelOpener(std::filesystem::path tokenizer = {});
// The run file's quantized model (base model reopened, fingerprint checked).
quant::QuantizedModel openRunFile(const std::filesystem::path& run, const OpenOptions& options = {});

// An inference model for any spec, with options.backend.
std::shared_ptr<const InferenceModel> openInference(const std::string& spec, const OpenOptions& options = {});
// The back-end for a model openModel(spec, options) already returned (the chat also needs the Model itself).
std::shared_ptr<const InferenceModel> makeInference(std::shared_ptr<const Model> model, const std::string& spec,
                                                    const OpenOptions& options = {});
// An in-memory quantized model (before or without an export): "packed" runs every quantized layer through the
// bitstudio kernels (int8 activations where a layer fits), "exact" through their fp32-activation form, anything
// else the fp32 reference with the dequantized layers.
std::shared_ptr<const InferenceModel> makeQuantizedInference(const quant::QuantizedModel& model,
                                                             const OpenOptions& options = {});

// A GGUF file in the bitstudio export layout (its loader has already dequantized the layers for fp32).
bool isBitstudioGguf(const Model& model);

} // namespace bq::workflow
