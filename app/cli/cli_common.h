// Shared pieces of bitstudio-cli: opening models, progress output, text input, JSON output.
#pragma once
#include "bq/jobs/job.h"
#include "bq/model/model.h"
#include "bq/runtime/inference.h"
#include "bq/workflow/open_model.h"
#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace bqcli {

// Options every model-taking command shares.
struct ModelOptions {
    std::string tokenizer; // --tokenizer FILE (llama2.c checkpoints)
    int threads = 0;       // --threads N (0 = all cores)
    // --backend auto|fp32|packed. auto: the packed runtime for files with packed linear weights (Q1_0 / Q4_0 /
    // Q8_0, the bitstudio layout), the fp32 reference otherwise. fp32: always the reference (weights
    // dequantized once). packed: the packed kernels wherever a weight has them (run files: the bitstudio kernels).
    std::string backend = "auto";
};
void addModelOptions(CLI::App& cmd, ModelOptions& options);
// --backend, for the commands that run a model (generate, chat, ppl, compare).
void addBackendOption(CLI::App& cmd, ModelOptions& options);

// The command-line options as workflow/open_model.h takes them; the three calls below are that file's, with them.
bq::workflow::OpenOptions openOptions(const ModelOptions& options);
std::shared_ptr<const bq::Model> openModel(const std::string& spec, const ModelOptions& options);
std::shared_ptr<const bq::InferenceModel> openInference(const std::string& spec, const ModelOptions& options);
std::shared_ptr<const bq::InferenceModel> makeInference(std::shared_ptr<const bq::Model> model,
                                                        const std::string& spec, const ModelOptions& options);

std::string readTextFile(const std::string& path); // throws naming the file

// Progress on stderr: a line that rewrites itself on a terminal, a line every few seconds otherwise.
class ProgressPrinter final : public bq::EventSink {
public:
    explicit ProgressPrinter(std::string label, bool quiet = false);
    ~ProgressPrinter() override;
    void progress(const bq::ProgressEvent& e) override;
    void layerDone(const bq::LayerResult& r) override;
    void log(bq::LogLevel level, std::string_view text) override;
    void finish(); // ends the progress line

private:
    std::string m_label;
    bool m_quiet, m_tty, m_open = false;
    double m_lastPrinted = -1e9;
};

// Throws std::runtime_error with the job's message unless it completed.
void checkJob(const bq::JobResult& result);

void printJson(const nlohmann::json& j); // one line on stdout

} // namespace bqcli
