// Longer pipeline runs: the true_sequential / recollect_down switches on the demo model, and real runs on
// stories260K (../shared) evaluated with the per-document perplexity protocol.
#include "bq/demo/demo_model.h"
#include "bq/eval/perplexity.h"
#include "bq/formats/model_loader.h"
#include "bq/model/model.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/runtime/fp32_model.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>

using namespace bq;
using namespace bq::quant;

namespace {

CalibrationSet demoCalibration(int samples, int seqLen)
{
    static const auto model = makeDemoModel();
    CalibrationSource src;
    src.text = demoText();
    CalibrationOptions o;
    o.samples = samples;
    o.seqLen = seqLen;
    return buildCalibration(*model->tokenizer, {src}, o);
}

QuantizeJobRequest demoRequest(const std::string& method, int samples, int seqLen)
{
    QuantizeJobRequest req;
    req.model = makeDemoModel();
    req.recipe = builtinRecipe(method);
    req.recipe.samples = samples;
    req.recipe.seqLen = seqLen;
    req.recipe.analysis = "light";
    req.calibration = demoCalibration(samples, seqLen);
    req.threads = 2;
    return req;
}

bool same(const QuantizedModel& a, const QuantizedModel& b, const std::string& n)
{
    return a.layers.at(n).dequantize() == b.layers.at(n).dequantize();
}

} // namespace

TEST_CASE("true_sequential and recollect_down change exactly the layers whose inputs they change", "[quant][pipeline]")
{
    NullSink sink;
    CancelToken none;
    const QuantizeJobResult base = runQuantization(demoRequest("q1_0", 6, 48), sink, none);
    QuantizeJobRequest seq = demoRequest("q1_0", 6, 48);
    seq.recipe.trueSequential = true;
    const QuantizeJobResult sequential = runQuantization(seq, sink, none);
    REQUIRE(base.job.status == JobStatus::Completed);
    REQUIRE(sequential.job.status == JobStatus::Completed);
    // Block 0: q/k/v see the same (FP-sibling) Gram; o, gate/up, down see quantized siblings.
    REQUIRE(same(*base.model, *sequential.model, "blk.0.attn_q.weight"));
    REQUIRE(same(*base.model, *sequential.model, "blk.0.attn_v.weight"));
    REQUIRE_FALSE(same(*base.model, *sequential.model, "blk.0.attn_output.weight"));
    REQUIRE_FALSE(same(*base.model, *sequential.model, "blk.0.ffn_down.weight"));

    // output-align re-collects the down-projection's statistics after gate/up are quantized (default on).
    QuantizeJobRequest oa = demoRequest("output-align", 4, 32);
    const QuantizeJobResult on = runQuantization(oa, sink, none);
    oa.recipe.recollectDown = false;
    const QuantizeJobResult off = runQuantization(oa, sink, none);
    REQUIRE(on.job.status == JobStatus::Completed);
    REQUIRE(off.job.status == JobStatus::Completed);
    REQUIRE(on.model->layers.at("blk.0.ffn_down.weight").method == "output-align");
    REQUIRE(same(*on.model, *off.model, "blk.0.ffn_up.weight"));
    REQUIRE_FALSE(same(*on.model, *off.model, "blk.0.ffn_down.weight"));
}

TEST_CASE("stories260K: sign, arb-rc and output-align runs, evaluated per document", "[quant][pipeline][shared]")
{
    if (!bqtest::haveShared("stories260K quantization"))
        return;
    LoadOptions load;
    load.tokenizerPath = bqtest::sharedPath("models/stories260K/tok512.bin");
    const auto model = loadModel(bqtest::sharedPath("models/stories260K/stories260K.bin"), load);
    const std::string text = bqtest::readFile(bqtest::sharedPath("data/tinystories/tinystories_val.txt"));
    CalibrationSource src;
    src.text = text;
    src.docBegin = 0;
    src.docEnd = 500;
    CalibrationOptions co;
    co.samples = 32;
    co.seqLen = 128;
    const CalibrationSet calib = buildCalibration(*model->tokenizer, {src}, co);

    PerplexityRequest pr;
    pr.text = text;
    pr.mode = PerplexityMode::Docs;
    pr.docBegin = 800;
    pr.docEnd = 900;
    auto ppl = [&](const WeightOverrides& overrides) {
        NullSink sink;
        CancelToken none;
        PerplexityResult r;
        const JobResult j = evaluatePerplexity(*makeFp32Model(model, 2, overrides), pr, r, sink, none);
        REQUIRE(j.status == JobStatus::Completed);
        return r.ppl;
    };
    const double fp = ppl({});
    std::map<std::string, double> result;
    for (const std::string method : {"sign", "arb-rc", "output-align"}) {
        QuantizeJobRequest req;
        req.model = model;
        req.recipe = builtinRecipe(method);
        req.recipe.samples = co.samples;
        req.recipe.seqLen = co.seqLen;
        req.recipe.analysis = "light";
        req.calibration = calib;
        req.threads = 2;
        NullSink sink;
        CancelToken none;
        const QuantizeJobResult q = runQuantization(req, sink, none);
        INFO(method << ": " << q.job.message);
        REQUIRE(q.job.status == JobStatus::Completed);
        REQUIRE(q.model->layers.size() == 35);
        result[method] = ppl(q.model->fakeQuantOverrides());
        WARN(method << ": ppl " << result[method] << " (FP " << fp << "), " << q.seconds << " s");
    }
    // methods.md §4: on tiny models expect output-align ≤ arb-rc ≪ sign, all far above FP.
    REQUIRE(fp < result["output-align"]);
    REQUIRE(result["arb-rc"] < result["sign"] / 5);
    REQUIRE(result["output-align"] < result["arb-rc"] * 1.05);
}
