#include "cli/cli_common.h"
#include "bq/export/bitstudio_gguf.h"
#include "bq/export/bitstudio_packed.h"
#include "bq/formats/model_loader.h"
#include "bq/quant/fake_quant_model.h"
#include "bq/quant/run_file.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/packed_model.h"
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <unistd.h>

namespace bqcli {

void addModelOptions(CLI::App& cmd, ModelOptions& options)
{
    cmd.add_option("--tokenizer", options.tokenizer,
                   "Tokenizer file for llama2.c checkpoints (tokenizer.bin, .model or tokenizer.json)");
    cmd.add_option("--threads", options.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
}

void addBackendOption(CLI::App& cmd, ModelOptions& options)
{
    cmd.add_option("--backend", options.backend,
                   "auto (packed runtime for Q1_0/Q4_0/Q8_0 and bitstudio GGUF files, else fp32), fp32 (the "
                   "reference, weights dequantized), packed (packed kernels wherever a weight has them)")
        ->check(CLI::IsMember({"auto", "fp32", "packed"}));
}

namespace {

bool isRunFile(const std::string& spec)
{
    return spec.size() > 3 && spec.compare(spec.size() - 3, 3, ".h5") == 0;
}

// A run file's quantized model; the base model is reopened from the path stored in the run file
// (--tokenizer, when given, replaces the stored tokenizer path).
bq::quant::QuantizedModel openRunFile(const std::string& spec, const ModelOptions& options)
{
    const bq::quant::RunFileReader reader(spec);
    return reader.loadQuantizedModel([&](const std::filesystem::path& model, const std::filesystem::path& tokenizer) {
        bq::LoadOptions load;
        load.tokenizerPath = options.tokenizer.empty() ? tokenizer : std::filesystem::path(options.tokenizer);
        return bq::loadModel(model, load);
    });
}

} // namespace

std::shared_ptr<const bq::Model> openModel(const std::string& spec, const ModelOptions& options)
{
    if (isRunFile(spec))
        return bq::quant::makeFakeQuantizedModel(openRunFile(spec, options));
    bq::LoadOptions load;
    load.tokenizerPath = options.tokenizer;
    return bq::loadModel(spec, load);
}

bool isBitstudioGguf(const bq::Model& model)
{
    if (model.sourceFormat != "gguf")
        return false;
    for (const auto& [key, value] : model.metadata)
        if (key == bq::exporter::kBitstudioTensorsKey)
            return true;
    return false;
}

namespace {

// A run file on the packed runtime: every quantized layer through the bitstudio kernels (exact, as the
// bitstudio export runs), the rest fp32. A quantized tied embedding would also need a quantized lookup table,
// which only the exported file has.
std::shared_ptr<const bq::InferenceModel> packedRunFile(const std::string& spec, bq::quant::QuantizedModel q,
                                                        const ModelOptions& options)
{
    if (q.base->config.tiedEmbeddings && q.layers.count("token_embd.weight"))
        throw std::runtime_error(spec + ": --backend packed: the run quantized the tied embedding; export it "
                                        "(bitstudio-cli export --format bitstudio) and run the exported file");
    auto linears = std::make_shared<std::map<std::string, std::shared_ptr<const bq::PackedLinear>>>();
    for (const auto& [name, layer] : q.layers)
        linears->emplace(name, bq::exporter::makeBitstudioPackedLinear(layer));
    bq::PackedModelOptions packed;
    packed.linearFactory = [linears](const bq::Model&, const std::string& name) {
        const auto it = linears->find(name);
        return it == linears->end() ? nullptr : it->second;
    };
    return bq::makePackedModel(q.base, options.threads, std::move(packed));
}

} // namespace

std::shared_ptr<const bq::InferenceModel> openInference(const std::string& spec, const ModelOptions& options)
{
    if (isRunFile(spec)) {
        bq::quant::QuantizedModel q = openRunFile(spec, options);
        if (!q.base->tokenizer)
            throw std::runtime_error(spec + ": the base model has no tokenizer; pass --tokenizer FILE");
        if (options.backend == "packed")
            return packedRunFile(spec, std::move(q), options);
        return bq::makeFp32Model(q.base, options.threads, q.fakeQuantOverrides());
    }
    return makeInference(openModel(spec, options), spec, options);
}

std::shared_ptr<const bq::InferenceModel> makeInference(std::shared_ptr<const bq::Model> model,
                                                        const std::string& spec, const ModelOptions& options)
{
    if (!model->tokenizer)
        throw std::runtime_error(spec + ": no tokenizer found; pass --tokenizer FILE");
    if (options.backend == "fp32")
        return bq::makeFp32Model(model, options.threads);
    if (isRunFile(spec)) // openModel gave the fake-quantized model; the packed run needs the layers themselves
        return options.backend == "packed" ? openInference(spec, options) : bq::makeFp32Model(model, options.threads);
    if (isBitstudioGguf(*model)) { // every quantized layer exactly, through the bitstudio kernels
        bq::PackedModelOptions packed;
        packed.linearFactory = bq::exporter::bitstudioLinearFactory(model->sourcePath);
        return bq::makePackedModel(model, options.threads, std::move(packed));
    }
    // Q1_0 / Q4_0 / Q8_0 linear weights: the packed runtime, used in place.
    if (options.backend == "packed" || bq::hasPackedLinears(*model))
        return bq::makePackedModel(model, options.threads);
    return bq::makeFp32Model(model, options.threads);
}

std::string readTextFile(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw std::runtime_error(path + ": cannot open the text file");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

ProgressPrinter::ProgressPrinter(std::string label, bool quiet)
    : m_label(std::move(label)), m_quiet(quiet), m_tty(::isatty(2) != 0)
{
}

ProgressPrinter::~ProgressPrinter() { finish(); }

void ProgressPrinter::progress(const bq::ProgressEvent& e)
{
    if (m_quiet)
        return;
    const bool last = e.stepCount > 0 && e.step >= e.stepCount;
    if (!m_tty && !last && e.elapsedSec - m_lastPrinted < 5.0)
        return;
    m_lastPrinted = e.elapsedSec;
    char line[256];
    const double pct = e.stepCount > 0 ? 100.0 * e.step / e.stepCount : 0.0;
    int n = std::snprintf(line, sizeof line, "%s: %s %d/%d (%.0f%%) %.1fs", m_label.c_str(), bq::stageName(e.stage),
                          e.step, e.stepCount, pct, e.elapsedSec);
    if (e.etaSec >= 0 && n > 0 && n < int(sizeof line))
        std::snprintf(line + n, sizeof line - std::size_t(n), ", ETA %.0fs", e.etaSec);
    if (m_tty) {
        std::fprintf(stderr, "\r\033[K%s", line);
        m_open = true;
    } else {
        std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
}

void ProgressPrinter::layerDone(const bq::LayerResult& r)
{
    if (!m_quiet)
        log(bq::LogLevel::Info, r.tensor + " done (" + r.method + ")");
}

void ProgressPrinter::log(bq::LogLevel level, std::string_view text)
{
    if (m_quiet && level < bq::LogLevel::Warning)
        return;
    finish();
    const char* prefix = level == bq::LogLevel::Error ? "error: " : level == bq::LogLevel::Warning ? "warning: " : "";
    std::fprintf(stderr, "%s%.*s\n", prefix, int(text.size()), text.data());
}

void ProgressPrinter::finish()
{
    if (m_open) {
        std::fprintf(stderr, "\n");
        m_open = false;
    }
}

void checkJob(const bq::JobResult& result)
{
    if (result.status == bq::JobStatus::Cancelled)
        throw std::runtime_error("cancelled");
    if (result.status == bq::JobStatus::Failed)
        throw std::runtime_error(result.message);
}

void printJson(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

} // namespace bqcli
