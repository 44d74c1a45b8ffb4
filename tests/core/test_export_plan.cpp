// planExport (issue 9): one row per tensor of the output file with its action, reason and bytes, and the file
// size, equal to what exportGguf writes for every format and embeddings type; refusals listed in full.
#include "bq/demo/demo_model.h"
#include "bq/export/export_gguf.h"
#include "bq/export/export_plan.h"
#include "bq/formats/gguf_file.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/quantized_model.h"
#include "bq/util/errors.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <algorithm>

using namespace bq;
using namespace bq::quant;
namespace ex = bq::exporter;
namespace fs = std::filesystem;

namespace {

const char* kLinear[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

// Every linear layer of `base` quantized with a calibration-free method (sign: exact Q1_0 and Q4_0 at group
// 128; residual: two sign planes, which neither block type holds).
QuantizedModel quantizeAll(std::shared_ptr<const Model> base, const std::string& method,
                           const nlohmann::json& options = nlohmann::json::object())
{
    QuantizedModel qm;
    qm.base = base;
    qm.recipe = {{"defaults", {{"method", method}}}};
    const MethodInfo& info = findMethod(method);
    for (int l = 0; l < base->config.nLayers; ++l)
        for (const char* part : kLinear) {
            const std::string name = blockTensorName(l, part);
            const Tensor& t = base->tensor(name);
            const std::vector<float> v = t.toFloat();
            const MatrixXfR w = Eigen::Map<const MatrixXfR>(v.data(), t.rows(), t.cols());
            QuantizeRequest request;
            request.weight = &w;
            request.options = mergeOptions(info, options);
            request.tensor = name;
            MethodDiagnostics diagnostics;
            qm.layers.emplace(name, info.quantize(request, diagnostics));
        }
    return qm;
}

JobResult exportTo(const QuantizedModel& qm, const fs::path& out, const ex::ExportOptions& options)
{
    NullSink sink;
    CancelToken cancel;
    ex::ExportReport report;
    return ex::exportGguf(qm, out, options, report, sink, cancel);
}

const ex::ExportPlanRow& rowOf(const ex::ExportPlan& plan, const std::string& name)
{
    const auto it = std::find_if(plan.rows.begin(), plan.rows.end(), [&](const auto& r) { return r.name == name; });
    REQUIRE(it != plan.rows.end());
    return *it;
}

} // namespace

TEST_CASE("the plan's file size is the written file's size for every format and embeddings type", "[export][plan]")
{
    bqtest::TempDir dir;
    const QuantizedModel qm = quantizeAll(makeDemoModel(), "sign");
    for (const auto format : {ex::ExportFormat::Q1_0, ex::ExportFormat::Q4_0, ex::ExportFormat::Bitstudio})
        for (const DType embeddings : {DType::F16, DType::Q8_0, DType::F32}) {
            ex::ExportOptions options;
            options.format = format;
            options.embeddings = embeddings;
            INFO(ex::exportFormatName(format) << " embeddings " << dtypeName(embeddings));
            const ex::ExportPlan plan = ex::planExport(qm, options);
            REQUIRE(plan.ok());
            CHECK(plan.refusalMessage().empty());
            CHECK(plan.exact == int(qm.layers.size()));
            CHECK(plan.refit == 0);
            // Every tensor of the model is one row (the demo model does not tie its output head).
            CHECK(plan.rows.size() == qm.base->tensors.size());
            CHECK(plan.exact + plan.other == int(plan.rows.size()));
            std::uint64_t data = 0;
            for (const auto& row : plan.rows) {
                CHECK(row.bytes > 0);
                CHECK_FALSE(row.reason.empty());
                data += row.bytes;
            }
            CHECK(plan.headerBytes > 0);
            CHECK(plan.headerBytes % options.alignment == 0);
            CHECK(plan.fileBytes >= plan.headerBytes + data);
            CHECK(plan.fileBytes < plan.headerBytes + data + plan.rows.size() * 3 * options.alignment);

            const fs::path out = dir / (std::string(ex::exportFormatName(format)) + dtypeName(embeddings) + ".gguf");
            const JobResult r = exportTo(qm, out, options);
            INFO(r.message);
            REQUIRE(r.status == JobStatus::Completed);
            CHECK(fs::file_size(out) == plan.fileBytes);
            CHECK(GgufFile::open(out)->dataStart() == plan.headerBytes);

            const auto& q = rowOf(plan, "blk.1.ffn_down.weight");
            CHECK(q.action == ex::PlanAction::Exact);
            CHECK(q.method == "sign");
            CHECK(q.shape == std::vector<std::int64_t>{qm.layers.at("blk.1.ffn_down.weight").rows,
                                                        qm.layers.at("blk.1.ffn_down.weight").cols});
            const auto& embd = rowOf(plan, "token_embd.weight");
            CHECK(embd.action == ex::PlanAction::Converted);
            CHECK(embd.storedAs == dtypeName(embeddings));
            CHECK(rowOf(plan, "output_norm.weight").action == ex::PlanAction::F32);
            CHECK(rowOf(plan, "output_norm.weight").bytes == 4 * std::uint64_t(qm.base->config.dim));
            if (format == ex::ExportFormat::Q1_0) {
                CHECK(q.storedAs == "Q1_0");
                CHECK(q.bytes == std::uint64_t(q.shape[0] * q.shape[1] / 128 * 18));
            }
            if (format == ex::ExportFormat::Bitstudio) {
                // The layer's components (signs, scales) are one row; the file holds them as separate tensors.
                CHECK_THAT(q.storedAs, Catch::StartsWith("bitstudio (") && Catch::Contains("2 tensors"));
                auto f = GgufFile::open(out);
                CHECK(f->tensorInfos().size() == plan.rows.size() + qm.layers.size());
            }
        }
}

TEST_CASE("the plan lists every refused tensor with its reason and the export names them all", "[export][plan]")
{
    bqtest::TempDir dir;
    const QuantizedModel qm = quantizeAll(makeDemoModel(), "residual");
    ex::ExportOptions options;
    const ex::ExportPlan plan = ex::planExport(qm, options);
    CHECK_FALSE(plan.ok());
    CHECK(plan.refused == int(qm.layers.size()));
    CHECK(plan.fileBytes == 0);
    const auto& row = rowOf(plan, "blk.2.attn_v.weight");
    CHECK(row.action == ex::PlanAction::Refused);
    CHECK(row.bytes == 0);
    CHECK_THAT(row.reason, Catch::Contains("residual") && Catch::Contains("2 sign planes"));
    CHECK_THAT(row.remedy, Catch::Contains("--refit") && Catch::Contains("bitstudio"));
    CHECK(rowOf(plan, "token_embd.weight").action == ex::PlanAction::Converted);

    const JobResult r = exportTo(qm, dir / "refused.gguf", options);
    CHECK(r.status == JobStatus::Failed);
    CHECK(r.message == plan.refusalMessage());
    for (const auto& [name, q] : qm.layers)
        CHECK_THAT(r.message, Catch::Contains(name + ": method residual"));
    // The remedy once, not once per tensor.
    const std::string remedy = row.remedy;
    CHECK(r.message.find(remedy) == r.message.rfind(remedy));
    CHECK_FALSE(fs::exists(dir / "refused.gguf"));

    // With the refit every layer is converted; the plan counts the refit-KL key when a text is given.
    options.refit = true;
    options.evalText = demoText();
    options.evalMaxChars = 1500;
    const ex::ExportPlan refit = ex::planExport(qm, options);
    REQUIRE(refit.ok());
    CHECK(refit.refit == int(qm.layers.size()));
    CHECK(rowOf(refit, "blk.2.attn_v.weight").storedAs == "Q1_0");
    CHECK_THAT(rowOf(refit, "blk.2.attn_v.weight").reason, Catch::Contains("refitted"));
    const JobResult w = exportTo(qm, dir / "refit.gguf", options);
    INFO(w.message);
    REQUIRE(w.status == JobStatus::Completed);
    CHECK(fs::file_size(dir / "refit.gguf") == refit.fileBytes);
    CHECK(GgufFile::open(dir / "refit.gguf")->getFloat("bitstudio.export.refit_kl").has_value());

    // Q4_0 cannot hold two planes either.
    options.refit = false;
    options.format = ex::ExportFormat::Q4_0;
    const ex::ExportPlan q4 = ex::planExport(qm, options);
    CHECK(q4.refused == int(qm.layers.size()));
    CHECK_THAT(q4.refusalMessage(), Catch::StartsWith("cannot export as q4_0: 28 tensors are refused:") &&
                                        Catch::Contains("--format bitstudio"));
}

TEST_CASE("the plan explains widths a block type cannot hold and the Q8_0 fallback", "[export][plan]")
{
    bqtest::TempDir dir;
    // stories260K's shape: K = 64 (attention) and 172 (ffn_down).
    const QuantizedModel qm = quantizeAll(makeSyntheticModel(syntheticShape("stories260k")), "sign");
    ex::ExportOptions options;
    const ex::ExportPlan q1 = ex::planExport(qm, options);
    CHECK(q1.refused == int(qm.layers.size()));
    CHECK_THAT(rowOf(q1, "blk.0.attn_k.weight").reason, Catch::Contains("K = 64") && Catch::Contains("128"));
    CHECK_THAT(rowOf(q1, "blk.4.ffn_down.weight").reason, Catch::Contains("K = 172"));
    CHECK_THAT(rowOf(q1, "blk.4.ffn_down.weight").remedy, Catch::Contains("any width"));

    // Q4_0 holds K = 64 (sign × scale), not K = 172.
    options.format = ex::ExportFormat::Q4_0;
    const ex::ExportPlan q4 = ex::planExport(qm, options);
    CHECK(rowOf(q4, "blk.0.attn_k.weight").action == ex::PlanAction::Exact);
    CHECK(rowOf(q4, "blk.0.ffn_down.weight").action == ex::PlanAction::Refused);
    CHECK(q4.refused == qm.base->config.nLayers);

    // The bitstudio layout holds any width; Q8_0 embeddings fall back to F16 where K % 32 != 0.
    options.format = ex::ExportFormat::Bitstudio;
    options.embeddings = DType::Q8_0;
    const ex::ExportPlan bs = ex::planExport(qm, options);
    REQUIRE(bs.ok());
    CHECK(rowOf(bs, "token_embd.weight").storedAs == "Q8_0");
    const JobResult r = exportTo(qm, dir / "bs.gguf", options);
    REQUIRE(r.status == JobStatus::Completed);
    CHECK(fs::file_size(dir / "bs.gguf") == bs.fileBytes);

    // A model whose only quantized layer is attn_q keeps ffn_down as a converted matrix: F16, and why.
    QuantizedModel one;
    one.base = qm.base;
    one.layers.emplace("blk.0.attn_q.weight", qm.layers.at("blk.0.attn_q.weight"));
    const ex::ExportPlan partial = ex::planExport(one, options);
    const auto& down = rowOf(partial, "blk.0.ffn_down.weight");
    CHECK(down.action == ex::PlanAction::Converted);
    CHECK(down.storedAs == "F16");
    CHECK_THAT(down.reason, Catch::Contains("K = 172") && Catch::Contains("Q8_0"));
    REQUIRE(exportTo(one, dir / "one.gguf", options).status == JobStatus::Completed);
    CHECK(fs::file_size(dir / "one.gguf") == partial.fileBytes);
}

TEST_CASE("planExport rejects bad options and stops when cancelled", "[export][plan]")
{
    const QuantizedModel qm = quantizeAll(makeDemoModel(), "sign");
    ex::ExportOptions options;
    options.format = ex::ExportFormat::Q4_0;
    options.refit = true;
    CHECK_THROWS_AS(ex::planExport(qm, options), std::invalid_argument);
    options = {};
    options.embeddings = DType::Q4_0;
    CHECK_THROWS_AS(ex::planExport(qm, options), std::invalid_argument);

    CancelToken cancel;
    cancel.request();
    CHECK_THROWS_AS(ex::planExport(qm, ex::ExportOptions{}, cancel), Cancelled);
}
