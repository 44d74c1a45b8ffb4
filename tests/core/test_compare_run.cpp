// Compare stored in the run (issue 9): compareRun of the FP base vs the quantized model, in memory and exported,
// and writeRunEval storing it in a finished run without touching its status or layers.
#include "bq/demo/demo_model.h"
#include "bq/export/export_gguf.h"
#include "bq/model/model.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/quant/run/run_file.h"
#include "bq/workflow/compare_run.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <cmath>

using namespace bq;
namespace fs = std::filesystem;

namespace {

// The demo model quantized with q1_0 on 4 windows of 32 tokens, into `run`.
std::shared_ptr<quant::QuantizedModel> quantizeDemo(const fs::path& run)
{
    quant::QuantizeJobRequest request;
    request.model = makeDemoModel();
    request.modelPath = ":demo";
    request.recipe = quant::builtinRecipe("q1_0");
    request.recipe.samples = 4;
    request.recipe.seqLen = 32;
    request.recipe.analysis = "light";
    request.calibrationSources = {{{}, demoText(), 0, -1}};
    request.runPath = run;
    request.threads = 2;
    NullSink sink;
    CancelToken cancel;
    const quant::QuantizeJobResult r = quant::runQuantization(request, sink, cancel);
    INFO(r.job.message);
    REQUIRE(r.job.status == JobStatus::Completed);
    return r.model;
}

workflow::CompareRunRequest demoRequest()
{
    workflow::CompareRunRequest request;
    request.eval.text = demoText().substr(0, 3000);
    request.eval.ctx = 64;
    request.textName = "demo text";
    request.open.threads = 2;
    return request;
}

} // namespace

TEST_CASE("compareRun compares the in-memory and the exported model and stores the result in the run",
          "[workflow][compare]")
{
    bqtest::TempDir dir;
    const fs::path run = dir / "run.h5";
    const auto qm = quantizeDemo(run);
    const auto layersBefore = quant::RunFileReader(run).layers().size();

    NullSink sink;
    CancelToken cancel;
    workflow::CompareRunResult memory;
    JobResult r = workflow::compareRun(*qm, demoRequest(), memory, sink, cancel);
    INFO(r.message);
    REQUIRE(r.status == JobStatus::Completed);
    const CompareResult& c = memory.compare;
    CHECK(std::isfinite(c.kl));
    CHECK(c.kl > 0);
    CHECK(c.top1Agreement > 0);
    CHECK(c.top1Agreement <= 1);
    CHECK(c.a.tokens > 100);
    CHECK(c.a.tokens == c.b.tokens);
    CHECK(c.b.ppl > 1);
    CHECK(memory.protocol == "windows of 64 tokens");
    CHECK(memory.storedIn == run);
    CHECK_THAT(r.message, Catch::Contains("stored in"));

    // Stored as given, the run otherwise untouched.
    {
        const quant::RunFileReader reader(run);
        CHECK(reader.header().status == quant::RunStatus::Completed);
        CHECK(reader.layers().size() == layersBefore);
        const auto eval = reader.finalEval();
        REQUIRE(eval);
        CHECK((*eval)["kind"] == "compare");
        CHECK((*eval)["kl"].get<double>() == c.kl);
        CHECK((*eval)["top1_agreement"].get<double>() == c.top1Agreement);
        CHECK((*eval)["ppl_fp"].get<double>() == c.a.ppl);
        CHECK((*eval)["ppl_quantized"].get<double>() == c.b.ppl);
        CHECK((*eval)["tokens"].get<std::int64_t>() == c.a.tokens);
        CHECK((*eval)["text"] == "demo text");
        CHECK((*eval)["quantized_source"] == "memory");
        CHECK((*eval)["protocol"] == "windows of 64 tokens");
        CHECK(*eval == memory.eval);
    }
    // The run still opens as a quantized model (and would still resume).
    CHECK(quant::RunFileReader(run).loadQuantizedModel(workflow::runFileModelOpener()).layers.size() ==
          qm->layers.size());

    // The exported q1_0 file on the packed runtime: close to the fake-quantized reference, and it replaces /eval.
    const fs::path gguf = dir / "demo-q1_0.gguf";
    exporter::ExportReport report;
    REQUIRE(exporter::exportGguf(*qm, gguf, {}, report, sink, cancel).status == JobStatus::Completed);
    workflow::CompareRunRequest request = demoRequest();
    request.exported = gguf;
    workflow::CompareRunResult exported;
    r = workflow::compareRun(*qm, request, exported, sink, cancel);
    INFO(r.message);
    REQUIRE(r.status == JobStatus::Completed);
    CHECK(std::isfinite(exported.compare.kl));
    CHECK(exported.compare.a.ppl == c.a.ppl);
    CHECK(std::fabs(exported.compare.b.ppl - c.b.ppl) < 0.05 * c.b.ppl);
    CHECK_THAT(exported.modelQuantized, Catch::Contains("demo-q1_0.gguf") && Catch::Contains("q1_0"));
    const auto eval = quant::RunFileReader(run).finalEval();
    REQUIRE(eval);
    CHECK((*eval)["quantized_source"] == "exported");
    CHECK((*eval)["exported_file"] == gguf.string());

    // Documents mode over a range, not stored.
    request = demoRequest();
    request.eval.mode = PerplexityMode::Docs;
    request.eval.docBegin = 2;
    request.eval.docEnd = 8;
    request.store = false;
    workflow::CompareRunResult docs;
    r = workflow::compareRun(*qm, request, docs, sink, cancel);
    REQUIRE(r.status == JobStatus::Completed);
    CHECK(docs.compare.a.sequences > 0);
    CHECK(docs.compare.a.sequences <= 6);
    CHECK(docs.protocol == "documents 2..8 (each ≤ 64 tokens)");
    CHECK(docs.storedIn.empty());
    CHECK((*quant::RunFileReader(run).finalEval())["quantized_source"] == "exported");
}

TEST_CASE("compareRun cancels, and refuses to store into a running run", "[workflow][compare]")
{
    bqtest::TempDir dir;
    const fs::path run = dir / "run.h5";
    const auto qm = quantizeDemo(run);
    NullSink sink;
    CancelToken cancel;
    cancel.request();
    workflow::CompareRunResult result;
    CHECK(workflow::compareRun(*qm, demoRequest(), result, sink, cancel).status == JobStatus::Cancelled);
    CHECK_FALSE(quant::RunFileReader(run).finalEval());

    // A run marked running (a job may be writing it): the figures come back, the store is refused.
    {
        auto writer = quant::RunFileWriter::openForResume(run, {});
        writer.close();
    }
    CancelToken go;
    const JobResult r = workflow::compareRun(*qm, demoRequest(), result, sink, go);
    CHECK(r.status == JobStatus::Failed);
    CHECK_THAT(r.message, Catch::Contains("KL") && Catch::Contains("not stored") && Catch::Contains("running"));
    CHECK(std::isfinite(result.compare.kl));
    CHECK(result.storedIn.empty());
    CHECK_FALSE(quant::RunFileReader(run).finalEval());
    CHECK_THROWS_WITH(quant::writeRunEval(run, {{"kl", 1.0}}), Catch::Contains("running"));
    CHECK_THROWS(quant::writeRunEval(dir / "missing.h5", {{"kl", 1.0}}));
}
