// The Run page's report: every per-layer result and per-block residual-stream metric of the shown run, as CSV
// (one table: a "kind" column says layer or block; metric columns in metricKeys() order, then any other key
// alphabetically; empty cells where a row has no value; numbers with 17 significant digits, so they read back
// exactly) or JSON ({"schema": "bitstudio.run-report/1", "run": {...}, "layers": [...], "blocks": [...]}; NaN
// becomes null). Written atomically (bq::writeFileAtomically).
#pragma once
#include "bq/jobs/events.h"
#include "widgets/run_view.h"
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace studio {

std::string runReportCsv(const std::vector<bq::LayerResult>& layers, const BlockMetrics& blocks);
// `run`: what identifies the run (name, run file, model, recipe); stored as is.
nlohmann::json runReportJson(const std::vector<bq::LayerResult>& layers, const BlockMetrics& blocks,
                             const nlohmann::json& run);
// JSON for a ".json" path, CSV otherwise. Throws std::runtime_error naming the path when it cannot be written.
void writeRunReport(const std::filesystem::path& path, const std::vector<bq::LayerResult>& layers,
                    const BlockMetrics& blocks, const nlohmann::json& run);

} // namespace studio
