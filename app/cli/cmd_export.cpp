// `bitstudio-cli export (RUN.h5 | DIR) --out FILE.gguf [--format q1_0|bitstudio|q4_0]
//  [--embeddings f16|q8_0|f32] [--refit] [--eval-text FILE] [--json] [--force]`.
// An existing --out is replaced (atomically) only when it is a GGUF bitstudio wrote, or with --force.
#include "bq/export/export_gguf.h"
#include "bq/quant/quantized_model.h"
#include "bq/quant/run/run_file.h"
#include "cli/cli_common.h"
#include "bq/demo/demo_model.h"
#include "cli/commands.h"
#include <cstdio>
#include <filesystem>

namespace bqcli {

namespace {

namespace fs = std::filesystem;

// A run directory holds run.h5 (or exactly one .h5 file).
fs::path runFileOf(const fs::path& in)
{
    if (!fs::is_directory(in))
        return in;
    if (fs::exists(in / "run.h5"))
        return in / "run.h5";
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file() && e.path().extension() == ".h5")
            found.push_back(e.path());
    if (found.size() != 1)
        throw std::runtime_error("export: " + in.string() + " holds " + std::to_string(found.size()) +
                                 " .h5 files; expected run.h5 or exactly one run file");
    return found.front();
}

} // namespace

void registerExport(CLI::App& app)
{
    struct Opts {
        std::string in, out, format = "q1_0", embeddings = "f16", evalText;
        bool refit = false, json = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("export", "Export a quantization run as a deployable GGUF file");
    cmd->add_option("RUN", o->in, "Run file (RUN.h5) or run directory")->required();
    cmd->add_option("--out", o->out, "Output GGUF file")->required();
    cmd->add_option("--format", o->format,
                    "q1_0 (llama.cpp Q1_0, exact or refused), bitstudio (every method exactly), q4_0 (exact container)")
        ->check(CLI::IsMember({"q1_0", "bitstudio", "q4_0"}));
    cmd->add_option("--embeddings", o->embeddings, "Type of token_embd/output and unquantized matrices")
        ->check(CLI::IsMember({"f16", "q8_0", "f32"}));
    cmd->add_flag("--refit", o->refit,
                  "q1_0: convert layers Q1_0 cannot hold exactly (signs of Ŵ, least-squares fp16 scale per 128) "
                  "and report the extra KL");
    cmd->add_option("--eval-text", o->evalText, "Text file for the refit KL (default: the demo text)");
    cmd->add_flag("--json", o->json, "Print the report as one JSON line");
    cmd->add_flag("--force", o->force, "Replace --out even when it is not a GGUF file bitstudio wrote");
    cmd->callback([o] {
        const fs::path run = runFileOf(o->in);
        const bq::quant::QuantizedModel qm = bq::workflow::openRunFile(run);
        bq::exporter::ExportOptions opt;
        opt.format = *bq::exporter::parseExportFormat(o->format);
        opt.embeddings = o->embeddings == "f32" ? bq::DType::F32 : o->embeddings == "q8_0" ? bq::DType::Q8_0
                                                                                         : bq::DType::F16;
        opt.refit = o->refit;
        opt.force = o->force;
        opt.evalText = o->evalText.empty() ? bq::demoText() : readTextFile(o->evalText);
        bq::exporter::ExportReport report;
        ProgressPrinter progress("export", o->json);
        bq::CancelToken cancel;
        const bq::JobResult r = bq::exporter::exportGguf(qm, o->out, opt, report, progress, cancel);
        progress.finish();
        checkJob(r);
        if (o->json) {
            nlohmann::json j{{"file", o->out},         {"format", o->format},
                             {"bytes", report.fileBytes}, {"seconds", report.seconds},
                             {"quantized_tensors", report.quantizedTensors}, {"refitted", report.refitted}};
            if (report.refitKl >= 0) {
                j["refit_kl"] = report.refitKl;
                j["refit_top1"] = report.refitTop1;
                j["refit_tokens"] = report.refitTokens;
            }
            printJson(j);
            return;
        }
        std::printf("%s\n", r.message.c_str());
        std::printf("  %.2f s, %d quantized tensors\n", report.seconds, report.quantizedTensors);
        if (!report.refitted.empty()) {
            std::printf("  refitted to Q1_0: %zu tensors", report.refitted.size());
            if (report.refitKl >= 0)
                std::printf("; extra KL(exact || exported) = %.6g nats, top-1 agreement %.4f over %lld tokens\n",
                            report.refitKl, report.refitTop1, static_cast<long long>(report.refitTokens));
            else
                std::printf("; %s\n", report.refitNote.c_str());
        }
    });
}

} // namespace bqcli
