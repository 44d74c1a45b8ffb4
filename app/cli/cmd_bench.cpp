// `bitstudio-cli bench (MODEL | --synthetic SHAPE) [--threads N] [--json]`: prefill and decode tokens/s, the
// machine's measured read bandwidth in the same run, and each decode's share of its bandwidth roofline.
#include "bq/bench/bench.h"
#include "bq/model/synthetic.h"
#include "bq/runtime/fp32_model.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cstdio>
#include <iostream>

namespace bqcli {

void registerBench(CLI::App& app)
{
    struct Opts {
        std::string model, synthetic;
        ModelOptions modelOptions;
        int promptTokens = 128, decodeTokens = 32, repeats = 3, ctx = 2048;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("bench", "Measure prefill/decode speed against the memory-bandwidth roofline");
    cmd->add_option("MODEL", o->model, "Model to benchmark (or --synthetic SHAPE)");
    std::string shapes;
    for (const auto& s : bq::syntheticShapes())
        shapes += (shapes.empty() ? "" : ", ") + s.name;
    cmd->add_option("--synthetic", o->synthetic, "A synthetic model of a real architecture's shape: " + shapes);
    cmd->add_option("--prompt-tokens", o->promptTokens, "Prefill length")->check(CLI::PositiveNumber);
    cmd->add_option("--decode-tokens", o->decodeTokens, "Decoded tokens per repeat")->check(CLI::PositiveNumber);
    cmd->add_option("--repeats", o->repeats, "Repeats (the best is reported)")->check(CLI::PositiveNumber);
    cmd->add_option("--ctx", o->ctx, "Context cap for synthetic models")->check(CLI::PositiveNumber);
    cmd->add_flag("--json", o->json, "Print JSON");
    addModelOptions(*cmd, o->modelOptions);
    cmd->callback([o] {
        std::shared_ptr<const bq::Model> model;
        if (!o->synthetic.empty()) {
            bq::SyntheticShape shape = bq::syntheticShape(o->synthetic);
            shape.config.maxSeqLen = std::min(shape.config.maxSeqLen, o->ctx);
            std::fprintf(stderr, "generating synthetic %s model...\n", shape.name.c_str());
            model = bq::makeSyntheticModel(shape);
        } else if (!o->model.empty()) {
            model = openModel(o->model, o->modelOptions);
        } else {
            throw std::runtime_error("give a MODEL or --synthetic SHAPE");
        }
        bq::BenchRequest request;
        request.models.push_back(bq::makeFp32Model(model, o->modelOptions.threads));
        request.promptTokens = std::min(o->promptTokens, model->config.maxSeqLen - o->decodeTokens - 1);
        request.decodeTokens = o->decodeTokens;
        request.repeats = o->repeats;
        request.threads = request.models.front()->threads();
        bq::BenchReport report;
        ProgressPrinter progress("bench", o->json);
        bq::CancelToken cancel;
        checkJob(bq::runBench(request, report, progress, cancel));
        progress.finish();
        if (o->json)
            std::cout << bq::benchReportJson(report) << std::endl;
        else
            std::cout << bq::formatBenchTable(report);
    });
}

} // namespace bqcli
