#include "bq/export/export_gguf.h"
#include "bq/jobs/run_job.h"
#include "bq/eval/compare.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/export/export_plan.h"
#include "bq/formats/convert.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include "bq/runtime/fp32_model.h"
#include "bq/util/errors.h"
#include "bq/util/output_path.h"
#include "export_decisions.h"
#include <chrono>
#include <cstring>
#include <map>

namespace bq::exporter {

namespace fs = std::filesystem;

const char* exportFormatName(ExportFormat f) noexcept
{
    switch (f) {
    case ExportFormat::Q1_0: return "q1_0";
    case ExportFormat::Q4_0: return "q4_0";
    case ExportFormat::Bitstudio: return "bitstudio";
    }
    return "?";
}

std::optional<ExportFormat> parseExportFormat(std::string_view name) noexcept
{
    if (name == "q1_0") return ExportFormat::Q1_0;
    if (name == "q4_0") return ExportFormat::Q4_0;
    if (name == "bitstudio") return ExportFormat::Bitstudio;
    return std::nullopt;
}

namespace {

// Bytes of `rows` equal-sized rows reordered: row r <- row order[r].
std::vector<std::byte> permuteRowBytes(const std::vector<std::byte>& bytes, std::int64_t rows,
                                       const std::vector<std::int64_t>& order)
{
    if (order.empty())
        return bytes;
    const std::size_t rb = bytes.size() / static_cast<std::size_t>(rows);
    std::vector<std::byte> out(bytes.size());
    for (std::int64_t r = 0; r < rows; ++r)
        std::memcpy(out.data() + static_cast<std::size_t>(r) * rb,
                    bytes.data() + static_cast<std::size_t>(order[static_cast<std::size_t>(r)]) * rb, rb);
    return out;
}

// Measures KL(exact fake-quantized ‖ refitted) with the fp32 reference, so only the refit differs.
void measureRefit(const quant::QuantizedModel& model, const std::map<std::string, QuantizedLinear>& refits,
                  const ExportOptions& options, ExportReport& report, EventSink& sink, const CancelToken& cancel)
{
    if (!model.base->tokenizer) {
        report.refitNote = "not measured: the base model has no tokenizer";
        return;
    }
    WeightOverrides exact = model.fakeQuantOverrides();
    WeightOverrides refit = exact;
    for (const auto& [name, q] : refits) {
        const MatrixXfR w = q.dequantize();
        refit[name] = std::make_shared<const std::vector<float>>(w.data(), w.data() + w.size());
    }
    auto a = makeFp32Model(model.base, 0, std::move(exact));
    auto b = makeFp32Model(model.base, 0, std::move(refit));
    if (options.evalText.empty()) {
        report.refitNote = "not measured: no evaluation text was given";
        return;
    }
    PerplexityRequest req;
    req.text = options.evalText;
    if (req.text.size() > options.evalMaxChars)
        req.text.resize(options.evalMaxChars);
    req.ctx = std::min(options.evalCtx, model.base->config.maxSeqLen);
    CompareResult cr;
    const JobResult r = compareModels(*a, *b, req, cr, sink, cancel);
    if (r.status == JobStatus::Cancelled)
        throw Cancelled();
    if (r.status != JobStatus::Completed) {
        report.refitNote = "not measured: " + r.message;
        return;
    }
    report.refitKl = cr.kl;
    report.refitTop1 = cr.top1Agreement;
    report.refitTokens = cr.a.tokens;
}

} // namespace

JobResult exportGguf(const quant::QuantizedModel& model, const fs::path& path, const ExportOptions& options,
                     ExportReport& report, EventSink& sink, const CancelToken& cancel)
{
    const auto t0 = std::chrono::steady_clock::now();
    report = ExportReport{};
    JobResult result;
    result = runJob("", [&]() -> JobResult {
        // Every check and every packing happens before the file is opened, so a refusal leaves nothing behind.
        checkOutputFile(path, options.force, isBitstudioGguf);
        ProgressEvent ev;
        ev.stage = Stage::Export;
        const auto decisions =
            detail::decideLayers(model, options, true, cancel, [&](int done, int total) {
                ev.step = done;
                ev.stepCount = total;
                ev.elapsedSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                sink.progress(ev);
            });
        std::map<std::string, QuantizedLinear> refits;
        bool refused = false;
        for (const auto& [name, d] : decisions) {
            refused |= d.action == PlanAction::Refused;
            if (d.refit) {
                refits.emplace(name, *d.refit);
                report.refitted.push_back(name);
            }
        }
        if (refused) // the plan names every refused tensor, in file order
            throw UnsupportedModel(detail::planFromDecisions(model, options, decisions, cancel).refusalMessage());
        report.quantizedTensors = static_cast<int>(model.layers.size());
        if (!refits.empty())
            measureRefit(model, refits, options, report, sink, cancel);

        GgufWriteOptions w = detail::exportWriteOptions(
            model, options, report.refitted, report.refitKl >= 0 ? std::optional<double>(report.refitKl) : std::nullopt);
        w.force = options.force;
        w.tensorHook = [&](const std::string& name,
                           const std::vector<std::int64_t>& order) -> std::optional<std::vector<Tensor>> {
            cancel.throwIfRequested();
            const auto it = decisions.find(name);
            if (it == decisions.end())
                return std::nullopt;
            const QuantizedLinear& q = model.layers.at(name);
            if (options.format == ExportFormat::Bitstudio)
                return bitstudioComponents(permuteRows(q, order));
            const detail::LayerDecision& d = it->second;
            return std::vector<Tensor>{
                makeOwnedTensor(name, d.dtype, {q.rows, q.cols}, permuteRowBytes(d.bytes, q.rows, order))};
        };
        writeGguf(*model.base, path, options.embeddings, w);
        report.fileBytes = fs::file_size(path);
        result.outputs.push_back(path);
        result.message = "exported " + std::to_string(report.quantizedTensors) + " quantized tensors as " +
                         exportFormatName(options.format) + " to " + path.string() + " (" +
                         std::to_string(report.fileBytes) + " bytes)";
        return result;
    });
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

} // namespace bq::exporter
