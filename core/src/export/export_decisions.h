// What planExport and exportGguf share, so the plan and the written file cannot disagree: the checks of a
// request, the decision for every quantized layer (exact / refit / refused and why, with the packed bytes when
// exporting), the file's metadata, and the plan rows built from the GGUF layout.
#pragma once
#include "bq/export/export_plan.h"
#include "bq/formats/convert.h"
#include "bq/model/quantized_linear.h"
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bq::exporter::detail {

struct LayerDecision {
    PlanAction action = PlanAction::Exact; // Exact, Refit or Refused
    std::string storedAs, reason, remedy;
    DType dtype = DType::Q1_0;             // q1_0 / q4_0: the block type written
    std::vector<std::byte> bytes;          // q1_0 / q4_0: the packed rows (only when asked to keep them)
    std::optional<QuantizedLinear> refit;  // Refit: the layer as written
};

// Checks the options and every layer against the base model (the exceptions planExport documents) and decides
// each layer, in name order. keepBytes: keep the packed rows for writing. progress(done, total) after each layer.
std::map<std::string, LayerDecision> decideLayers(const quant::QuantizedModel& model, const ExportOptions& options,
                                                  bool keepBytes, const CancelToken& cancel,
                                                  const std::function<void(int done, int total)>& progress);

// The metadata exportGguf writes besides writeGguf's own keys; refitKl: the bitstudio.export.refit_kl value
// (nullopt: not measured, key left out).
GgufWriteOptions exportWriteOptions(const quant::QuantizedModel& model, const ExportOptions& options,
                                    const std::vector<std::string>& refitted, std::optional<double> refitKl);

// The plan for decided layers: the layout of the file they give (writeGguf's order, types and sizes) turned
// into rows, the counts and, when nothing is refused, the sizes.
ExportPlan planFromDecisions(const quant::QuantizedModel& model, const ExportOptions& options,
                             const std::map<std::string, LayerDecision>& decisions, const CancelToken& cancel);

} // namespace bq::exporter::detail
