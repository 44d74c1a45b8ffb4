// `bitstudio-cli compare MODEL_A MODEL_B --text FILE [--json]`: KL(P_A || P_B), top-1 agreement, both PPLs.
#include "bq/eval/compare.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/eval_options.h"
#include <cstdio>

namespace bqcli {

void registerCompare(CLI::App& app)
{
    struct Opts {
        std::string modelA, modelB;
        ModelOptions modelOptions;
        EvalOptions eval;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("compare", "Compare two models on a text: KL divergence, top-1 agreement, PPL");
    cmd->add_option("MODEL_A", o->modelA, "Reference model (usually full precision)")->required();
    cmd->add_option("MODEL_B", o->modelB, "Model compared against it")->required();
    addEvalOptions(*cmd, o->eval);
    addModelOptions(*cmd, o->modelOptions);
    addBackendOption(*cmd, o->modelOptions);
    cmd->callback([o] {
        auto a = openInference(o->modelA, o->modelOptions);
        auto b = openInference(o->modelB, o->modelOptions);
        const bq::PerplexityRequest request = makePerplexityRequest(o->eval);
        bq::CompareResult result;
        ProgressPrinter progress("compare");
        bq::CancelToken cancel;
        checkJob(bq::compareModels(*a, *b, request, result, progress, cancel));
        progress.finish();
        if (o->eval.json) {
            printJson({{"kl", result.kl},
                       {"top1_agreement", result.top1Agreement},
                       {"tokens", result.a.tokens},
                       {"a", {{"ppl", result.a.ppl}, {"nll", result.a.meanNll}}},
                       {"b", {{"ppl", result.b.ppl}, {"nll", result.b.meanNll}}}});
        } else {
            std::printf("KL(A||B) %.6f nats/token, top-1 agreement %.2f%%, over %lld predicted tokens\n", result.kl,
                        100.0 * result.top1Agreement, static_cast<long long>(result.a.tokens));
            std::printf("perplexity A %.4f, B %.4f\n", result.a.ppl, result.b.ppl);
        }
    });
}

} // namespace bqcli
