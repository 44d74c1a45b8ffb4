// Deployable export of a quantized model to GGUF (issue 4).
//
//   q1_0       llama.cpp Q1_0 (type 41) for every quantized layer; only layers whose values are exactly
//              ±fp16 d per 128-block (QuantizedLinear::isExactQ1_0 and anything else that decodes to the same
//              values) are accepted; others are refused, or refitted with refit = true (ggml_blocks.h) and the
//              refit's cost reported as KL(exact fake-quantized ‖ exported) on a short text. Every quantized
//              layer needs K % 128 = 0, else the export is refused naming the tensor and K.
//   q4_0       llama.cpp Q4_0 (type 2) as an exact container: accepted when every 32-block is d·(q − 8) for one
//              fp16 d (sign × scale: q = 9 / 7), else refused naming the tensor, row and block.
//   bitstudio  every method exactly, as component tensors of standard types (bitstudio_gguf.h).
//
// Everything else (token_embd, output, layers the run did not quantize) is stored as options.embeddings
// (F16, Q8_0 — F16 for rows not a multiple of 32 — or F32); 1-D tensors as F32. The file carries the
// llama.cpp architecture keys, tensor names and tokenizer (convert.h writeGguf) plus bitstudio.recipe,
// bitstudio.run.{model_fingerprint, calibration_fingerprint, file}, bitstudio.export.{format, refit} and
// bitstudio.quantizer.version. It is written to a temporary file and renamed; nothing is left on failure.
#pragma once
#include "bq/jobs/job.h"
#include "bq/model/tensor.h"
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bq::quant {
struct QuantizedModel;
}

namespace bq::exporter {

enum class ExportFormat : std::uint8_t { Q1_0, Q4_0, Bitstudio };
const char* exportFormatName(ExportFormat f) noexcept; // "q1_0", "q4_0", "bitstudio"
std::optional<ExportFormat> parseExportFormat(std::string_view name) noexcept;

struct ExportOptions {
    ExportFormat format = ExportFormat::Q1_0;
    DType embeddings = DType::F16; // F16, Q8_0 or F32
    bool refit = false;            // q1_0 only: convert layers Q1_0 cannot hold (never silently)
    // The refit cost measurement: text (empty: not measured; the CLI passes the demo text by default), window
    // length and character budget.
    std::string evalText;
    int evalCtx = 128;
    std::size_t evalMaxChars = 4000;
    std::string name; // general.name; default: the base model's
    std::uint32_t alignment = 64;
    // An existing file at the path is replaced only when it is a previous bitstudio GGUF, or with force
    // (writeGguf, convert.h); checked before any work.
    bool force = false;
};

struct ExportReport {
    std::uint64_t fileBytes = 0;
    double seconds = 0;
    int quantizedTensors = 0;             // written in the requested format
    std::vector<std::string> refitted;    // layers converted by the refit
    double refitKl = -1;                  // mean KL(exact ‖ refit) in nats, < 0 when not measured
    double refitTop1 = -1;                // top-1 agreement of the two
    std::int64_t refitTokens = 0;         // positions the KL was measured on
    std::string refitNote;                // why it was not measured, when so
};

// Job contract: Failed with a message naming every refused tensor and the reason (ExportPlan::refusalMessage:
// the decisions are exactly planExport's, export_plan.h); Cancelled when cancel is set (checked per tensor);
// outputs = {path} on success.
JobResult exportGguf(const quant::QuantizedModel& model, const std::filesystem::path& path,
                     const ExportOptions& options, ExportReport& report, EventSink& sink, const CancelToken& cancel);

} // namespace bq::exporter
