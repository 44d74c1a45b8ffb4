#include "bq/export/export_plan.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include "export_decisions.h"
#include <algorithm>

namespace bq::exporter {

const char* planActionName(PlanAction action) noexcept
{
    switch (action) {
    case PlanAction::Exact: return "exact";
    case PlanAction::Refit: return "refit";
    case PlanAction::Refused: return "refused";
    case PlanAction::Converted: return "converted";
    case PlanAction::F32: return "f32";
    }
    return "?";
}

std::string ExportPlan::refusalMessage() const
{
    if (ok())
        return {};
    std::string msg = std::string("cannot export as ") + exportFormatName(format) + ": ";
    if (refused > 1)
        msg += std::to_string(refused) + " tensors are refused:";
    std::vector<std::string> remedies;
    for (const ExportPlanRow& row : rows) {
        if (row.action != PlanAction::Refused)
            continue;
        msg += (refused == 1 ? "tensor " : "\n  ") + row.name + ": " + row.reason;
        if (std::find(remedies.begin(), remedies.end(), row.remedy) == remedies.end())
            remedies.push_back(row.remedy);
    }
    for (const std::string& r : remedies)
        msg += (refused == 1 ? ". " : "\n") + r;
    return msg;
}

namespace detail {

namespace {

std::string convertedReason(const std::string& name, DType written, DType requested, std::int64_t cols)
{
    const std::string what = name == "token_embd.weight" ? "token embeddings"
                             : name == "output.weight"   ? "output head"
                                                         : "a matrix the run did not quantize";
    if (written == requested)
        return what + ", stored as " + dtypeName(written) + " (the embeddings type)";
    return what + ", stored as " + dtypeName(written) + ": its rows (K = " + std::to_string(cols) +
           ") are not a multiple of the " + dtypeName(requested) + " block size 32";
}

// "bitstudio (I8 + F16, 3 tensors)": the component types of one layer.
std::string componentSummary(const std::vector<GgufLayoutTensor>& parts)
{
    std::vector<std::string> types;
    for (const auto& p : parts)
        if (std::find(types.begin(), types.end(), dtypeName(p.dtype)) == types.end())
            types.emplace_back(dtypeName(p.dtype));
    std::string s = "bitstudio (";
    for (std::size_t i = 0; i < types.size(); ++i)
        s += (i ? " + " : "") + types[i];
    return s + ", " + std::to_string(parts.size()) + (parts.size() == 1 ? " tensor)" : " tensors)");
}

} // namespace

ExportPlan planFromDecisions(const quant::QuantizedModel& model, const ExportOptions& options,
                             const std::map<std::string, LayerDecision>& decisions, const CancelToken& cancel)
{
    ExportPlan plan;
    plan.format = options.format;
    std::vector<std::string> refitted;
    for (const auto& [name, d] : decisions)
        if (d.action == PlanAction::Refit)
            refitted.push_back(name);
    // exportGguf writes the refit KL key when it measured it: with a text and a tokenizer.
    const bool klMeasured = !refitted.empty() && model.base->tokenizer && !options.evalText.empty();
    GgufWriteOptions w = exportWriteOptions(model, options, refitted, klMeasured ? std::optional<double>(0.0)
                                                                                 : std::nullopt);
    // The tensors exportGguf's hook writes, without their bytes.
    w.tensorHook = [&](const std::string& name,
                       const std::vector<std::int64_t>&) -> std::optional<std::vector<Tensor>> {
        cancel.throwIfRequested();
        const auto it = decisions.find(name);
        if (it == decisions.end())
            return std::nullopt;
        const QuantizedLinear& q = model.layers.at(name);
        const LayerDecision& d = it->second;
        const std::vector<std::int64_t> shape{q.rows, q.cols};
        if (d.action == PlanAction::Refused) // a stand-in keeping the file order; a refused plan has no size
            return std::vector<Tensor>{
                Tensor{name, DType::F32, shape, nullptr, std::size_t(q.rows) * std::size_t(q.cols) * 4, {}}};
        if (options.format == ExportFormat::Bitstudio) {
            std::vector<Tensor> parts = bitstudioComponents(q);
            for (Tensor& p : parts) {
                p.data = nullptr;
                p.keepAlive.reset();
            }
            return parts;
        }
        return std::vector<Tensor>{
            Tensor{name, d.dtype, shape, nullptr, dtypeRowBytes(d.dtype, q.cols) * std::size_t(q.rows), {}}};
    };
    const GgufLayout layout = ggufLayout(*model.base, options.embeddings, w);

    for (std::size_t i = 0; i < layout.tensors.size();) {
        const GgufLayoutTensor& first = layout.tensors[i];
        std::vector<GgufLayoutTensor> parts;
        for (; i < layout.tensors.size() && layout.tensors[i].source == first.source; ++i)
            parts.push_back(layout.tensors[i]);
        ExportPlanRow row;
        row.name = first.source;
        for (const auto& p : parts)
            row.bytes += p.bytes;
        if (const auto it = decisions.find(row.name); it != decisions.end()) {
            const QuantizedLinear& q = model.layers.at(row.name);
            const LayerDecision& d = it->second;
            row.shape = {q.rows, q.cols};
            row.action = d.action;
            row.method = q.method;
            row.storedAs = options.format == ExportFormat::Bitstudio ? componentSummary(parts) : d.storedAs;
            row.reason = d.reason;
            row.remedy = d.remedy;
            if (d.action == PlanAction::Refused)
                row.bytes = 0;
        } else {
            row.shape = first.shape;
            row.storedAs = dtypeName(first.dtype);
            if (first.shape.size() >= 2) {
                row.action = PlanAction::Converted;
                row.reason = convertedReason(row.name, first.dtype, options.embeddings, first.shape.back());
            } else {
                row.action = PlanAction::F32;
                row.reason = row.name == "rope_freqs.weight" ? "Llama 3 RoPE frequency factors, always F32"
                                                             : "a 1-D tensor (norm weights, biases), always F32";
            }
        }
        switch (row.action) {
        case PlanAction::Exact: ++plan.exact; break;
        case PlanAction::Refit: ++plan.refit; break;
        case PlanAction::Refused: ++plan.refused; break;
        default: ++plan.other;
        }
        plan.rows.push_back(std::move(row));
    }
    if (plan.ok()) {
        plan.headerBytes = layout.headerBytes;
        plan.fileBytes = layout.fileBytes;
    }
    return plan;
}

} // namespace detail

ExportPlan planExport(const quant::QuantizedModel& model, const ExportOptions& options, const CancelToken& cancel)
{
    const auto decisions = detail::decideLayers(model, options, false, cancel, {});
    return detail::planFromDecisions(model, options, decisions, cancel);
}

ExportPlan planExport(const quant::QuantizedModel& model, const ExportOptions& options)
{
    const CancelToken never;
    return planExport(model, options, never);
}

} // namespace bq::exporter
