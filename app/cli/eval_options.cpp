#include "cli/eval_options.h"
#include "bq/workflow/recipe_options.h"
#include "cli/cli_common.h"

namespace bqcli {

void addEvalOptions(CLI::App& cmd, EvalOptions& o)
{
    cmd.add_option("--text", o.text, "Evaluation text file")->required();
    cmd.add_option("--mode", o.mode,
                   "windows: the GPTQ protocol (text tokenized once, non-overlapping windows of --ctx tokens, tail "
                   "dropped); docs: blank-line separated documents, each with BOS, truncated to the context")
        ->check(CLI::IsMember({"windows", "docs"}));
    cmd.add_option("--ctx", o.ctx, "Window length / truncation (0 = the model's context)")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--docs", o.docs, "Document range A:B (docs mode), e.g. 0:200");
    cmd.add_option("--windows", o.windows,
                   "Window range A:B (windows mode), e.g. 0:16 for the first 16 windows; default: all of them (the "
                   "GPTQ protocol)");
    cmd.add_flag("--json", o.json, "Print JSON");
}

bq::PerplexityRequest makePerplexityRequest(const EvalOptions& o)
{
    bq::PerplexityRequest r;
    r.text = readTextFile(o.text);
    r.mode = o.mode == "docs" ? bq::PerplexityMode::Docs : bq::PerplexityMode::Windows;
    r.ctx = o.ctx;
    if (!o.docs.empty()) {
        const bq::workflow::DocumentRange docs = bq::workflow::parseRange(o.docs, "--docs");
        r.docBegin = docs.begin;
        r.docEnd = docs.end;
    }
    if (!o.windows.empty()) {
        if (r.mode != bq::PerplexityMode::Windows)
            throw std::invalid_argument("--windows applies to --mode windows only (use --docs in docs mode)");
        const bq::workflow::DocumentRange windows = bq::workflow::parseRange(o.windows, "--windows");
        r.windowBegin = windows.begin;
        r.windowEnd = windows.end;
    }
    return r;
}

} // namespace bqcli
