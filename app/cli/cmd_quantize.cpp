// `bitstudio-cli quantize MODEL --calib FILE... [--recipe FILE | --method M] [--samples N] [--seqlen L]
//  [--seed S] --run RUN.h5 [--out DIR] [--json] [--resume] [--force] [--threads N] [--tokenizer FILE]`
// Runs the sequential quantization pipeline, writing the HDF5 run file; --out also writes the fake-quantized
// model as a Hugging Face directory that every other command can open.
#include "bq/formats/convert.h"
#include "bq/quant/fake_quant_model.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/util/output_path.h"
#include "bq/workflow/quantize_setup.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/recipe_options.h"
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

namespace bqcli {

namespace {

nlohmann::json metricsJson(const std::map<std::string, double>& metrics)
{
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : metrics)
        j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    return j;
}

// One JSON object per line on stdout: {"event": "progress" | "layer" | "block" | "log" | "result", ...}.
class JsonEventSink final : public bq::EventSink {
public:
    void progress(const bq::ProgressEvent& e) override
    {
        printJson({{"event", "progress"},
                   {"stage", bq::stageName(e.stage)},
                   {"step", e.step},
                   {"step_count", e.stepCount},
                   {"sub", e.sub},
                   {"sub_count", e.subCount},
                   {"elapsed_s", e.elapsedSec},
                   {"eta_s", e.etaSec},
                   {"rss_bytes", e.rssBytes}});
    }
    void layerDone(const bq::LayerResult& r) override
    {
        printJson({{"event", "layer"},
                   {"tensor", r.tensor},
                   {"block", r.block},
                   {"method", r.method},
                   {"decided_by", r.decidedBy},
                   {"bits_per_weight", r.bitsPerWeight},
                   {"seconds", r.seconds},
                   {"metrics", metricsJson(r.metrics)}});
    }
    void blockDone(const bq::BlockResult& b) override
    {
        printJson({{"event", "block"},
                   {"block", b.block},
                   {"seconds", b.seconds},
                   {"metrics", metricsJson(b.metrics)}});
    }
    void log(bq::LogLevel level, std::string_view text) override
    {
        static const char* names[] = {"debug", "info", "warning", "error"};
        printJson({{"event", "log"}, {"level", names[int(level)]}, {"text", std::string(text)}});
    }
};

// Text progress plus one line per finished layer with its headline metrics (a block's residual-stream metrics
// come as a log line).
class TextSink final : public bq::EventSink {
public:
    TextSink() : m_printer("quantize") {}
    void progress(const bq::ProgressEvent& e) override { m_printer.progress(e); }
    void layerDone(const bq::LayerResult& r) override
    {
        char line[256];
        auto metric = [&](const char* key) {
            auto it = r.metrics.find(key);
            return it == r.metrics.end() ? std::nan("") : it->second;
        };
        if (r.method == "fp")
            std::snprintf(line, sizeof line, "%-24s kept in full precision (%s)", r.tensor.c_str(), r.decidedBy.c_str());
        else
            std::snprintf(line, sizeof line, "%-24s %-12s %.3f bpw  weight err %.4f  out err %.4f  cum %.4f  %.2fs",
                          r.tensor.c_str(), r.method.c_str(), r.bitsPerWeight, metric("weight.rel_error"),
                          metric("output.local_rel_error"), metric("output.cumulative_rel_error"), r.seconds);
        m_printer.log(bq::LogLevel::Info, line);
    }
    void log(bq::LogLevel level, std::string_view text) override
    {
        if (level != bq::LogLevel::Debug)
            m_printer.log(level, text);
    }
    void finish() { m_printer.finish(); }

private:
    ProgressPrinter m_printer;
};

bq::CancelToken* g_cancel = nullptr;
extern "C" void onInterrupt(int) { if (g_cancel) g_cancel->request(); }

std::string absoluteSpec(const std::string& spec)
{
    if (spec.empty() || spec[0] == ':')
        return spec;
    return std::filesystem::absolute(spec).lexically_normal().string();
}

// The HDF5 signature at offset 0 (run files have no user block): a previous run file, even a damaged one.
bool isHdf5File(const std::filesystem::path& file)
{
    std::ifstream f(file, std::ios::binary);
    char sig[8] = {};
    return f.read(sig, 8) && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

} // namespace

void registerQuantize(CLI::App& app)
{
    struct Opts {
        std::string model, run, out, calibDocs;
        std::vector<std::string> calib;
        ModelOptions modelOptions;
        RecipeOptions recipe;
        long long seed = -1;
        bool json = false, resume = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("quantize", "Quantize a model block by block (writes an HDF5 run file)");
    cmd->add_option("MODEL", o->model, "Model file, Hugging Face directory, or :demo")->required();
    cmd->add_option("--calib", o->calib, "Calibration text file(s), blank-line separated documents");
    cmd->add_option("--calib-docs", o->calibDocs, "Document range A:B of every calibration file (e.g. 0:500)");
    cmd->add_option("--calib-sampling", o->recipe.overrides.sampling,
                    "concat (default) | documents (the reference C4 protocol)");
    addRecipeOptions(*cmd, o->recipe);
    cmd->add_option("--samples", o->recipe.overrides.samples, "Calibration samples (overrides the recipe)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--seqlen", o->recipe.overrides.seqLen,
                    "Calibration window length in tokens (overrides the recipe)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--seed", o->seed, "Calibration sampling seed (overrides the recipe)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--run", o->run, "The HDF5 run file to write (or resume)")->required();
    cmd->add_option("--out", o->out, "Also write the fake-quantized model as a Hugging Face directory");
    cmd->add_flag("--json", o->json, "One JSON event per line on stdout");
    cmd->add_flag("--resume", o->resume, "Continue the run file from its last finished block (fingerprints must match)");
    cmd->add_flag("--force", o->force,
                  "Replace --out (and --run) even when it is not a previous bitstudio output");
    addModelOptions(*cmd, o->modelOptions);
    cmd->callback([o] {
        // Refuse before any work: --out is written only when absent, empty, a previous bitstudio output or --force;
        // a fresh --run replaces only an HDF5 file (a previous run, finished or not) unless --force.
        if (!o->out.empty())
            bq::checkOutputDirectory(o->out, o->force);
        if (!o->resume)
            bq::checkOutputFile(o->run, o->force, isHdf5File);
        if (o->seed >= 0)
            o->recipe.overrides.seed = std::uint64_t(o->seed);
        const bq::quant::Recipe recipe = loadRecipe(o->recipe);

        bq::quant::QuantizeJobRequest req;
        req.model = openModel(o->model, o->modelOptions);
        req.modelPath = absoluteSpec(o->model);
        req.tokenizerPath = o->modelOptions.tokenizer.empty() ? "" : absoluteSpec(o->modelOptions.tokenizer);
        req.recipe = recipe;
        const bq::workflow::DocumentRange docs = o->calibDocs.empty()
                                                     ? bq::workflow::DocumentRange{}
                                                     : bq::workflow::parseRange(o->calibDocs, "--calib-docs");
        for (const std::string& f : o->calib) {
            bq::quant::CalibrationSource src;
            src.path = f;
            src.docBegin = docs.begin;
            src.docEnd = docs.end;
            req.calibrationSources.push_back(src);
        }
        if (req.calibrationSources.empty() && !(o->resume && std::filesystem::exists(o->run)))
            throw std::runtime_error("quantize: give the calibration text with --calib FILE");
        req.runPath = o->run;
        req.resume = o->resume;
        req.threads = o->modelOptions.threads;

        bq::CancelToken cancel;
        g_cancel = &cancel;
        auto previous = std::signal(SIGINT, onInterrupt);
        JsonEventSink jsonSink;
        TextSink textSink;
        bq::EventSink& sink = o->json ? static_cast<bq::EventSink&>(jsonSink) : textSink;
        const bq::quant::QuantizeJobResult result = bq::quant::runQuantization(req, sink, cancel);
        std::signal(SIGINT, previous);
        g_cancel = nullptr;
        textSink.finish();

        std::string outDir;
        if (result.job.status == bq::JobStatus::Completed && !o->out.empty()) {
            bq::workflow::writeFakeQuantizedDirectory(*result.model, o->out, o->run, req.modelPath, req.tokenizerPath,
                                                      o->force);
            outDir = o->out;
        }
        if (o->json) {
            nlohmann::json j{{"event", "result"},
                             {"status", result.job.status == bq::JobStatus::Completed   ? "completed"
                                        : result.job.status == bq::JobStatus::Cancelled ? "cancelled"
                                                                                        : "failed"},
                             {"message", result.job.message},
                             {"run", o->run},
                             {"out", outDir},
                             {"seconds", result.seconds},
                             {"peak_rss_bytes", result.peakRssBytes},
                             {"resumed_blocks", result.resumedBlocks},
                             {"counted_bits", result.countedBits},
                             {"calibration", result.calibrationDescription},
                             {"estimate", result.estimate.toJson()}};
            if (result.model)
                j["quantized_tensors"] = result.model->layers.size();
            printJson(j);
        } else if (result.job.status == bq::JobStatus::Completed) {
            const double bpw = result.estimate.quantizedWeights
                                   ? result.countedBits / double(result.estimate.quantizedWeights)
                                   : 0.0;
            std::printf("quantized %zu tensors (%.4f bits/weight over them) in %.1f s, peak RSS %.1f MiB%s\n",
                        result.model->layers.size(), bpw, result.seconds, double(result.peakRssBytes) / 1048576.0,
                        result.resumedBlocks ? (", resumed after " + std::to_string(result.resumedBlocks) +
                                                " block(s)").c_str()
                                             : "");
            std::printf("run file: %s\n", o->run.c_str());
            if (!outDir.empty())
                std::printf("fake-quantized model: %s\n", outDir.c_str());
        }
        checkJob(result.job);
    });
}

} // namespace bqcli
