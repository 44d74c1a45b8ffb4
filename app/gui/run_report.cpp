#include "gui/run_report.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/util/atomic_file.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace studio {

namespace {

// metricKeys() first, then every other key that occurs, alphabetically.
std::vector<std::string> metricColumns(const std::vector<bq::LayerResult>& layers, const BlockMetrics& blocks)
{
    std::vector<std::string> columns = bq::quant::metricKeys();
    std::set<std::string> extra;
    const auto collect = [&](const std::map<std::string, double>& metrics) {
        for (const auto& entry : metrics)
            if (std::find(columns.begin(), columns.end(), entry.first) == columns.end())
                extra.insert(entry.first);
    };
    for (const bq::LayerResult& r : layers)
        collect(r.metrics);
    for (const auto& entry : blocks)
        collect(entry.second);
    columns.insert(columns.end(), extra.begin(), extra.end());
    return columns;
}

std::string number(double v)
{
    if (std::isnan(v))
        return "nan";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.17g", v);
    return buffer;
}

std::string csvField(const std::string& s)
{
    if (s.find_first_of(",\"\n\r") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string metricCells(const std::vector<std::string>& columns, const std::map<std::string, double>& metrics)
{
    std::string line;
    for (const std::string& key : columns) {
        line += ',';
        const auto it = metrics.find(key);
        if (it != metrics.end())
            line += number(it->second);
    }
    return line;
}

nlohmann::json metricObject(const std::map<std::string, double>& metrics)
{
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, v] : metrics)
        out[key] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    return out;
}

} // namespace

std::string runReportCsv(const std::vector<bq::LayerResult>& layers, const BlockMetrics& blocks)
{
    const std::vector<std::string> columns = metricColumns(layers, blocks);
    std::string out = "kind,name,block,method,decided_by,bits_per_weight,seconds";
    for (const std::string& key : columns)
        out += ',' + csvField(key);
    out += '\n';
    for (const bq::LayerResult& r : layers)
        out += "layer," + csvField(r.tensor) + ',' + std::to_string(r.block) + ',' + csvField(r.method) + ',' +
               csvField(r.decidedBy) + ',' + number(r.bitsPerWeight) + ',' + number(r.seconds) +
               metricCells(columns, r.metrics) + '\n';
    for (const auto& [block, metrics] : blocks)
        out += "block,blk." + std::to_string(block) + ',' + std::to_string(block) + ",,,," +
               metricCells(columns, metrics) + '\n';
    return out;
}

nlohmann::json runReportJson(const std::vector<bq::LayerResult>& layers, const BlockMetrics& blocks,
                             const nlohmann::json& run)
{
    nlohmann::json out{{"schema", "bitstudio.run-report/1"}, {"run", run}};
    nlohmann::json& layerList = out["layers"] = nlohmann::json::array();
    for (const bq::LayerResult& r : layers)
        layerList.push_back({{"tensor", r.tensor},
                             {"block", r.block},
                             {"method", r.method},
                             {"decided_by", r.decidedBy},
                             {"bits_per_weight", r.bitsPerWeight},
                             {"seconds", r.seconds},
                             {"metrics", metricObject(r.metrics)}});
    nlohmann::json& blockList = out["blocks"] = nlohmann::json::array();
    for (const auto& [block, metrics] : blocks)
        blockList.push_back({{"block", block}, {"metrics", metricObject(metrics)}});
    return out;
}

void writeRunReport(const std::filesystem::path& path, const std::vector<bq::LayerResult>& layers,
                    const BlockMetrics& blocks, const nlohmann::json& run)
{
    if (path.extension() == ".json")
        bq::writeFileAtomically(path, runReportJson(layers, blocks, run).dump(2) + "\n");
    else
        bq::writeFileAtomically(path, runReportCsv(layers, blocks));
}

} // namespace studio
