// Compare: the full-precision base model against its quantized model (in memory, or an exported GGUF file) on
// one text — mean KL(P_fp ‖ P_quantized), top-1 agreement, both perplexities (eval/compare.h) — and the result
// stored in the run file's /eval (quant/run/run_file.h writeRunEval), so a finished run carries its comparison.
//
// Stored /eval object (one comparison per run; a newer one replaces it):
//   kind "compare", text (the name given), protocol (words), mode ("windows"|"docs"), ctx, doc_begin, doc_end,
//   kl (nats/token), top1_agreement (0..1), tokens (predicted positions), sequences, ppl_fp, ppl_quantized,
//   nll_fp, nll_quantized, model_fp, model_quantized (what ran: source and back-end), quantized_source
//   ("memory"|"exported"), exported_file (when exported), tool_version.
#pragma once
#include "bq/eval/compare.h"
#include "bq/jobs/job.h"
#include "bq/quant/quantized_model.h"
#include "bq/workflow/open_model.h"
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace bq::workflow {

struct CompareRunRequest {
    PerplexityRequest eval;         // the text, protocol (windows / docs), ctx (0 = model context), document range
    std::string textName;           // how the text is named in the result ("wiki.test.txt", "demo text")
    std::filesystem::path exported; // empty: the in-memory quantized model; else this exported GGUF file
    bool store = true;              // write the result into QuantizedModel::runPath (when it has one)
    OpenOptions open;               // threads, and the back-end of the quantized side
};

struct CompareRunResult {
    CompareResult compare;            // a = the full-precision base, b = the quantized model
    std::string modelFp, modelQuantized; // what ran, e.g. "full precision :demo (fp32)"
    std::string protocol;             // e.g. "windows of 128 tokens"
    nlohmann::json eval;              // the object above (filled also when not stored)
    std::filesystem::path storedIn;   // the run file written; empty when not stored
};

// "windows of 128 tokens" / "documents 0..200 (each ≤ 128 tokens)"; ctx is the resolved length.
std::string protocolDescription(const PerplexityRequest& request, int ctx);

// Job contract: progress from compareModels (Stage::Evaluate, per window/document); cancel checked per
// window/document; Failed naming what could not be opened, compared or stored. A result that was computed but
// could not be stored is Failed with both the figures and why (result.compare is filled).
JobResult compareRun(const quant::QuantizedModel& model, const CompareRunRequest& request, CompareRunResult& result,
                     EventSink& sink, const CancelToken& cancel);

} // namespace bq::workflow
