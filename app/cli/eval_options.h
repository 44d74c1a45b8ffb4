// Options shared by `ppl` and `compare`: the text, the protocol, the window or document range.
#pragma once
#include "bq/eval/perplexity.h"
#include <CLI/CLI.hpp>
#include <string>

namespace bqcli {

struct EvalOptions {
    std::string text, mode = "windows", docs, windows;
    int ctx = 0;
    bool json = false;
};

void addEvalOptions(CLI::App& cmd, EvalOptions& options);
// Reads the text file and fills the request; throws on a bad --docs range.
bq::PerplexityRequest makePerplexityRequest(const EvalOptions& options);

} // namespace bqcli
