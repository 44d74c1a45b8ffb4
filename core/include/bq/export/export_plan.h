// What an export would write, decided before anything is written (issue 9): one row per tensor of the output
// file — every quantized layer (exact in the format, refitted, or refused and why) and every other tensor (stored
// as ExportOptions::embeddings, F16 where Q8_0 cannot hold the rows, or F32 for 1-D tensors) — with its bytes,
// and the size of the whole file. exportGguf (export_gguf.h) makes the same decisions through the same code and
// writes exactly this file: plan.fileBytes equals the written file's size.
//
// One row per tensor of the model: a quantized layer in the bitstudio layout is one row whose bytes sum its
// component tensors (bitstudio_gguf.h); rows follow the file's tensor order (rope_freqs, token_embd, blocks,
// output_norm, output; a tied output head is not written).
#pragma once
#include "bq/export/export_gguf.h"
#include "bq/jobs/job.h"
#include "bq/model/tensor.h"
#include <cstdint>
#include <string>
#include <vector>

namespace bq::quant {
struct QuantizedModel;
}

namespace bq::exporter {

enum class PlanAction : std::uint8_t {
    Exact,     // a quantized layer held exactly by the format
    Refit,     // a quantized layer the format cannot hold, converted to Q1_0 (ExportOptions::refit)
    Refused,   // a quantized layer the format cannot hold: the export fails naming it
    Converted, // a matrix the run did not quantize: ExportOptions::embeddings (F16 where Q8_0 cannot hold a row)
    F32,       // a 1-D tensor (norms, biases, RoPE factors)
};
const char* planActionName(PlanAction action) noexcept; // "exact", "refit", "refused", "converted", "f32"

struct ExportPlanRow {
    std::string name;                // canonical tensor name
    std::vector<std::int64_t> shape; // outermost first
    PlanAction action = PlanAction::Exact;
    std::string method;              // the quantization method (quantized layers), else ""
    std::string storedAs;            // "Q1_0", "Q4_0", "bitstudio (I8 + F16, 2 tensors)", "F16", "Q8_0", "F32"
    std::string reason;              // why this action, in words (refused: what the format cannot hold)
    std::string remedy;              // refused only: what would make it exportable ("Use --refit ...")
    std::uint64_t bytes = 0;         // data bytes in the file, without alignment padding; 0 when refused
};

struct ExportPlan {
    ExportFormat format = ExportFormat::Q1_0;
    std::vector<ExportPlanRow> rows;
    int exact = 0, refit = 0, refused = 0, other = 0; // rows per action (other: Converted and F32)
    // The file, when nothing is refused (all 0 otherwise): header + metadata + tensor infos padded to the
    // alignment, and the whole file with every tensor aligned. With a refit and an ExportOptions::evalText the
    // plan counts the refit-KL metadata key; if that measurement then fails the file is up to one alignment
    // unit smaller (the key is left out).
    std::uint64_t headerBytes = 0, fileBytes = 0;

    bool ok() const noexcept { return refused == 0; }
    // "cannot export as q1_0: tensor X: <reason>. <remedy>" for one refusal; for several, every refused tensor
    // on its own line, then each distinct remedy once. "" when ok().
    std::string refusalMessage() const;
};

// Decides every tensor (packing each quantized layer to check it, as exportGguf does; seconds on a large model)
// and computes the file size. Throws for a request no tensor can fix: std::invalid_argument for bad options
// (embeddings type, refit with another format), UnsupportedModel for a layer the base model does not have or
// whose shape differs, std::logic_error for an invalid layer; bq::Cancelled when `cancel` is set (checked per
// tensor).
ExportPlan planExport(const quant::QuantizedModel& model, const ExportOptions& options);
ExportPlan planExport(const quant::QuantizedModel& model, const ExportOptions& options, const CancelToken& cancel);

} // namespace bq::exporter
