#include "bq/workflow/compare_run.h"
#include "bq/jobs/run_job.h"
#include "bq/model/model.h"
#include "bq/quant/run/run_file.h"
#include "bq/runtime/inference.h"
#include <algorithm>
#include <cstdio>

namespace bq::workflow {

std::string protocolDescription(const PerplexityRequest& request, int ctx)
{
    if (request.mode == PerplexityMode::Windows)
        return "windows of " + std::to_string(ctx) + " tokens";
    const std::string end = request.docEnd < 0 ? "end" : std::to_string(request.docEnd);
    return "documents " + std::to_string(request.docBegin) + ".." + end + " (each ≤ " + std::to_string(ctx) +
           " tokens)";
}

JobResult compareRun(const quant::QuantizedModel& model, const CompareRunRequest& request, CompareRunResult& result,
                     EventSink& sink, const CancelToken& cancel)
{
    result = CompareRunResult{};
    return runJob("compare: ", [&]() -> JobResult {
        if (!model.base)
            throw std::invalid_argument("the quantized model has no base model");
        const bool exported = !request.exported.empty();
        sink.log(LogLevel::Info, exported ? "opening " + request.exported.string() : "preparing the quantized model");
        const std::shared_ptr<const InferenceModel> fp =
            makeInference(model.base, model.base->sourcePath, request.open);
        cancel.throwIfRequested();
        const std::shared_ptr<const InferenceModel> q =
            exported ? openInference(request.exported.string(), request.open)
                     : makeQuantizedInference(model, request.open);
        cancel.throwIfRequested();

        PerplexityRequest eval = request.eval;
        if (eval.ctx <= 0)
            eval.ctx = std::min(fp->config().maxSeqLen, q->config().maxSeqLen);
        result.protocol = protocolDescription(eval, eval.ctx);
        result.modelFp = "full precision " + model.base->sourcePath + " (" + fp->backendName() + ")";
        result.modelQuantized =
            (exported ? "exported " + request.exported.filename().string() : std::string("quantized in memory")) +
            " (" + q->backendName() + ")";
        const JobResult r = compareModels(*fp, *q, eval, result.compare, sink, cancel);
        if (r.status != JobStatus::Completed)
            return r;

        const CompareResult& c = result.compare;
        nlohmann::json& j = result.eval;
        j = {{"kind", "compare"},
             {"text", request.textName},
             {"protocol", result.protocol},
             {"mode", eval.mode == PerplexityMode::Windows ? "windows" : "docs"},
             {"ctx", eval.ctx},
             {"doc_begin", eval.docBegin},
             {"doc_end", eval.docEnd},
             {"kl", c.kl},
             {"top1_agreement", c.top1Agreement},
             {"tokens", c.a.tokens},
             {"sequences", c.a.sequences},
             {"ppl_fp", c.a.ppl},
             {"ppl_quantized", c.b.ppl},
             {"nll_fp", c.a.meanNll},
             {"nll_quantized", c.b.meanNll},
             {"model_fp", result.modelFp},
             {"model_quantized", result.modelQuantized},
             {"quantized_source", exported ? "exported" : "memory"},
             {"tool_version", BQ_VERSION}};
        if (exported)
            j["exported_file"] = request.exported.string();

        char figures[160];
        std::snprintf(figures, sizeof figures, "KL %.6g nats/token, top-1 agreement %.2f%%, perplexity %.4f vs %.4f",
                      c.kl, 100.0 * c.top1Agreement, c.a.ppl, c.b.ppl);
        JobResult done{JobStatus::Completed, figures, {}};
        if (request.store && !model.runPath.empty()) {
            try {
                quant::writeRunEval(model.runPath, j);
            } catch (const std::exception& e) {
                return {JobStatus::Failed, std::string(figures) + "; not stored: " + e.what(), {}};
            }
            result.storedIn = model.runPath;
            done.message += "; stored in " + model.runPath;
            done.outputs.push_back(model.runPath);
        }
        return done;
    });
}

} // namespace bq::workflow
