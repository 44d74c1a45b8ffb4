#include "cli/cli_common.h"
#include "bq/workflow/open_model.h"
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
                   "reference, weights dequantized), packed (packed kernels wherever a weight has them), exact "
                   "(packed, but bitstudio layers keep fp32 activations: Ŵx without int8 rounding, slower)")
        ->check(CLI::IsMember({"auto", "fp32", "packed", "exact"}));
}

bq::workflow::OpenOptions openOptions(const ModelOptions& options)
{
    bq::workflow::OpenOptions o;
    o.tokenizer = options.tokenizer;
    o.threads = options.threads;
    o.backend = options.backend;
    return o;
}

std::shared_ptr<const bq::Model> openModel(const std::string& spec, const ModelOptions& options)
{
    return bq::workflow::openModel(spec, openOptions(options));
}

std::shared_ptr<const bq::InferenceModel> openInference(const std::string& spec, const ModelOptions& options)
{
    return bq::workflow::openInference(spec, openOptions(options));
}

std::shared_ptr<const bq::InferenceModel> makeInference(std::shared_ptr<const bq::Model> model,
                                                        const std::string& spec, const ModelOptions& options)
{
    return bq::workflow::makeInference(std::move(model), spec, openOptions(options));
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
