// `bitstudio-cli bench-quant --synthetic opt125m --method arb-rc|output-align [--samples 128 --seqlen 512]
//  [--analysis full|light] [--threads N] [--json]`: time (wall and CPU) and peak memory of one quantization run
// on a synthetic model with random calibration tokens, the Gram accumulation vs the rest, each against its
// GEMM-bound estimate from the Eigen GEMM rate measured in the same run (bench/quant_bench.h).
#include "bq/bench/quant_bench.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cstdio>

namespace bqcli {

void registerBenchQuant(CLI::App& app)
{
    struct Opts {
        bq::QuantBenchRequest request;
        long long seed = 0;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("bench-quant",
                                   "Benchmark one quantization run on a synthetic model: Gram vs rest, GEMM bounds");
    cmd->add_option("--synthetic", o->request.shape, "Synthetic shape (stories260k, ts5m, opt125m, ...)")
        ->capture_default_str();
    cmd->add_option("--method", o->request.method, "Method of the built-in recipe (e.g. arb-rc, output-align)")
        ->capture_default_str();
    cmd->add_option("--samples", o->request.samples, "Calibration sequences")->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--seqlen", o->request.seqLen, "Tokens per calibration sequence")->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "Seed of the random token ids")->check(CLI::NonNegativeNumber);
    cmd->add_option("--analysis", o->request.analysis, "full (the recipe default: FP stream always) | light")
        ->check(CLI::IsMember({"full", "light"}))
        ->capture_default_str();
    cmd->add_option("--threads", o->request.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", o->json, "Print one JSON object");
    cmd->callback([o] {
        o->request.seed = std::uint64_t(o->seed);
        bq::QuantBenchReport report;
        ProgressPrinter progress("bench-quant", o->json);
        bq::CancelToken cancel;
        checkJob(bq::runQuantBench(o->request, report, progress, cancel));
        progress.finish();
        if (o->json)
            printJson(bq::quantBenchJson(report));
        else
            std::fputs(bq::formatQuantBench(report).c_str(), stdout);
    });
}

} // namespace bqcli
