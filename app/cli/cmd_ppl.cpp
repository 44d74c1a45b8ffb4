// `bitstudio-cli ppl MODEL --text FILE [--mode windows|docs] [--ctx N] [--docs A:B] [--json]`.
#include "bq/eval/perplexity.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/eval_options.h"
#include <chrono>
#include <cstdio>

namespace bqcli {

void registerPerplexity(CLI::App& app)
{
    struct Opts {
        std::string model;
        ModelOptions modelOptions;
        EvalOptions eval;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("ppl", "Perplexity of a model on a text (GPTQ windows or per-document)");
    cmd->add_option("MODEL", o->model, "Model file, Hugging Face directory, or :demo")->required();
    addEvalOptions(*cmd, o->eval);
    addModelOptions(*cmd, o->modelOptions);
    addBackendOption(*cmd, o->modelOptions);
    cmd->callback([o] {
        auto model = openInference(o->model, o->modelOptions);
        const bq::PerplexityRequest request = makePerplexityRequest(o->eval);
        bq::PerplexityResult result;
        ProgressPrinter progress("ppl");
        bq::CancelToken cancel;
        const auto t0 = std::chrono::steady_clock::now();
        checkJob(bq::evaluatePerplexity(*model, request, result, progress, cancel));
        progress.finish();
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (o->eval.json) {
            printJson({{"ppl", result.ppl},
                       {"nll", result.meanNll},
                       {"tokens", result.tokens},
                       {"sequences", result.sequences},
                       {"mode", o->eval.mode},
                       {"windows", o->eval.windows.empty() ? "all" : o->eval.windows},
                       {"seconds", sec}});
        } else {
            std::printf("perplexity %.4f  (mean NLL %.5f nats over %lld predicted tokens, %lld %s, %.1f s)\n",
                        result.ppl, result.meanNll, static_cast<long long>(result.tokens),
                        static_cast<long long>(result.sequences), o->eval.mode == "docs" ? "documents" : "windows",
                        sec);
        }
    });
}

} // namespace bqcli
