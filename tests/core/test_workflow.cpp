// The layer both front ends share (core/workflow): presets, the equivalent command line, model specs.
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/workflow/recipe_options.h"
#include "bq/workflow/open_model.h"
#include "bq/workflow/quantize_setup.h"
#include "bq/workflow/recipe_presets.h"
#include "bq/workflow/resume_check.h"
#include "bq/quant/pipeline/pipeline.h"
#include <fstream>
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <set>

using namespace bq;

TEST_CASE("every recipe preset resolves on the demo model and does what its title says", "[workflow][recipe]")
{
    const auto model = makeDemoModel();
    std::set<std::string> ids;
    for (const workflow::RecipePreset& p : workflow::recipePresets()) {
        INFO(p.id);
        CHECK(ids.insert(p.id).second);
        CHECK_FALSE(p.title.empty());
        CHECK(p.description.size() > 40);
        const quant::Resolution res = quant::resolveRecipe(p.recipe, *model);
        const quant::ResolvedTensor* embd = res.find("token_embd.weight");
        const quant::ResolvedTensor* down = res.find("blk.0.ffn_down.weight");
        const quant::ResolvedTensor* v1 = res.find("blk.1.attn_v.weight");
        REQUIRE(embd);
        REQUIRE(down);
        REQUIRE(v1);
        if (p.id == "keep-embeddings") {
            CHECK(embd->keepFp);
            CHECK(down->method == "arb-rc");
        } else if (p.id == "all-1bit") {
            CHECK(embd->method == "sign");
            CHECK_FALSE(res.find("output.weight")->keepFp);
            for (const auto& t : res.tensors)
                CHECK_FALSE(t.keepFp); // every matrix quantized (the demo's 128-wide rows make ARB-RC ~3 bpw)
        } else if (p.id == "deployable-q1_0") {
            CHECK(down->method == "q1_0");
            CHECK(embd->keepFp);
        } else if (p.id == "mixed-1-2bit") {
            CHECK(v1->method == "gptq");
            CHECK(down->method == "gptq"); // block 0
            CHECK(res.find("blk.1.ffn_down.weight")->method == "arb-rc");
        } else if (p.id == "output-align") {
            CHECK(down->method == "output-align");
            CHECK(v1->method == "arb-rc");
        }
    }
    CHECK(ids.size() == 5);
    CHECK(&workflow::findRecipePreset("all-1bit") == &workflow::recipePresets()[1]);
    CHECK_THROWS_WITH(workflow::findRecipePreset("nope"), Catch::Contains("keep-embeddings"));
}

TEST_CASE("q1_0 on 576-wide matrices (SmolLM2's dims): refused by name, or kept in full precision and said so",
          "[workflow][recipe]")
{
    // SmolLM2-135M's dims with 2 blocks and a small vocabulary: every matrix but ffn_down has 576 input columns.
    SyntheticShape shape = syntheticShape("smollm2-135m");
    shape.config.nLayers = 2;
    shape.config.vocabSize = 512;
    const auto model = makeSyntheticModel(shape);

    quant::Recipe recipe = quant::builtinRecipe("q1_0");
    try {
        quant::resolveRecipe(recipe, *model);
        FAIL("q1_0 on 576 input columns resolved");
    } catch (const quant::RecipeError& e) {
        CHECK(e.issues().size() == 12); // q, k, v, o, gate, up of 2 blocks
        CHECK_THAT(e.what(), Catch::Contains("blk.0.attn_q.weight [576 x 576]") &&
                                 Catch::Contains("multiple of 128 (m = 576)") && Catch::Contains("--unfit keep_fp"));
        CHECK_THAT(e.what(), !Catch::Contains("ffn_down"));
    }

    workflow::RecipeOverrides overrides;
    overrides.unfit = "keep_fp";
    workflow::applyRecipeOverrides(recipe, overrides);
    CHECK(recipe.toJson()["defaults"]["unfit"] == "keep_fp");
    CHECK(quant::parseRecipe(recipe.toJson()).unfit == "keep_fp");
    CHECK_FALSE(quant::builtinRecipe("q1_0").toJson()["defaults"].contains("unfit")); // old recipes unchanged
    overrides.analysis = "light";
    workflow::applyRecipeOverrides(recipe, overrides);
    CHECK(recipe.analysis == "light");
    overrides.analysis = "some";
    CHECK_THROWS_WITH(workflow::applyRecipeOverrides(recipe, overrides), Catch::Contains("full or light"));
    overrides.analysis.clear();
    overrides.unfit = "skip";
    CHECK_THROWS_WITH(workflow::applyRecipeOverrides(recipe, overrides), Catch::Contains("refuse or keep_fp"));

    const quant::Resolution res = quant::resolveRecipe(recipe, *model);
    const quant::ResolvedTensor* q = res.find("blk.1.attn_q.weight");
    const quant::ResolvedTensor* gate = res.find("blk.1.ffn_gate.weight");
    const quant::ResolvedTensor* down = res.find("blk.1.ffn_down.weight");
    REQUIRE((q && gate && down));
    CHECK(q->keepFp);
    CHECK(gate->keepFp);
    CHECK_THAT(q->decidedBy, Catch::Contains("kept in full precision (unfit: q1_0 needs the input dimension"));
    CHECK(q->bitsPerWeight == 16);
    CHECK(down->method == "q1_0"); // 1536 input columns: 12 blocks of 128
    CHECK(down->bitsPerWeight == 1.125);
    REQUIRE(res.warnings.size() == 1);
    CHECK(res.warnings[0] == "12 weight matrices kept in full precision because q1_0 cannot take their shape "
                             "(recipe \"unfit\": \"keep_fp\"; see decided_by)");

    // The estimate counts the kept matrices at 16 bits and only the two ffn_down as quantized.
    const quant::Estimate est = quant::estimateRun(recipe, res, *model);
    CHECK(est.quantizedWeights == 2 * 576 * 1536);
    CHECK(est.bitsPerWeightQuantized == Approx(1.125));

    // The deployable preset keeps what Q1_0 cannot hold.
    CHECK(workflow::findRecipePreset("deployable-q1_0").recipe.unfit == "keep_fp");
}

TEST_CASE("the command line of a setup quotes what a shell would split and refuses per-file ranges",
          "[workflow][cli]")
{
    workflow::QuantizeSetup s;
    s.modelSpec = ":demo";
    s.recipePath = "/tmp/my recipe.json";
    s.runPath = "/tmp/run.h5";
    s.threads = 2;
    quant::CalibrationSource a;
    a.path = "/data/it's.txt";
    a.docBegin = 0;
    a.docEnd = 500;
    s.calibration = {a};
    CHECK(workflow::quantizeCommandLine(s) ==
          "bitstudio-cli quantize :demo --calib '/data/it'\\''s.txt' --calib-docs 0:500 "
          "--recipe '/tmp/my recipe.json' --run /tmp/run.h5 --threads 2");
    CHECK(workflow::quantizeCommandLine(s, true).ends_with(" --resume"));
    quant::CalibrationSource b = a;
    b.path = "/data/b.txt";
    b.docEnd = 100;
    s.calibration.push_back(b);
    CHECK_THROWS_WITH(workflow::quantizeCommandLine(s), Catch::Contains("/data/b.txt"));
}

TEST_CASE("model specs: the demo, a missing file, a run file that names another run file", "[workflow][open]")
{
    const auto demo = workflow::openModel(":demo");
    CHECK(demo->sourcePath == ":demo");
    CHECK(workflow::isRunFileSpec("x/run.h5"));
    CHECK_FALSE(workflow::isRunFileSpec("model.gguf"));
    CHECK_THROWS_WITH(workflow::openModel("/nonexistent/model.gguf"), Catch::Contains("/nonexistent/model.gguf"));
    const auto opener = workflow::runFileModelOpener();
    CHECK_THROWS_WITH(opener("/tmp/other.h5", ""), Catch::Contains("another run file"));
    CHECK(opener(":demo", "")->config.dim == demo->config.dim);
}

namespace {

// Cancels the run after its first finished block.
class CancelAfterBlock final : public bq::EventSink {
public:
    explicit CancelAfterBlock(bq::CancelToken& cancel) : m_cancel(cancel) {}
    void progress(const bq::ProgressEvent&) override {}
    void layerDone(const bq::LayerResult&) override {}
    void blockDone(const bq::BlockResult&) override { m_cancel.request(); }
    void log(bq::LogLevel, std::string_view) override {}

private:
    bq::CancelToken& m_cancel;
};

} // namespace

TEST_CASE("checkResume says what Resume would do: nothing yet, resumable, which field differs, complete",
          "[workflow][resume]")
{
    bqtest::TempDir dir;
    const auto model = makeDemoModel();
    workflow::QuantizeSetup setup;
    setup.modelSpec = ":demo";
    setup.recipe = quant::builtinRecipe("sign");
    setup.recipe.samples = 2;
    setup.recipe.seqLen = 16;
    setup.recipe.analysis = "light";
    quant::CalibrationSource text;
    text.path = ":demo text";
    text.text = demoText();
    setup.calibration = {text};
    setup.runPath = dir / "run.h5";
    setup.threads = 1;
    bq::CancelToken none;
    quant::CalibrationOptions o;
    o.samples = 2;
    o.seqLen = 16;
    const quant::CalibrationSet calibration = quant::buildCalibration(*model->tokenizer, setup.calibration, o);

    auto status = workflow::checkResume(setup.runPath, model, calibration, setup.recipe, none);
    CHECK(status.state == workflow::ResumeStatus::State::NoRunFile);

    bq::CancelToken cancel;
    CancelAfterBlock sink(cancel);
    const auto cancelled = quant::runQuantization(workflow::quantizeRequest(setup, model, false), sink, cancel);
    REQUIRE(cancelled.job.status == bq::JobStatus::Cancelled);
    status = workflow::checkResume(setup.runPath, model, calibration, setup.recipe, none);
    CHECK(status.canResume());
    CHECK(status.finishedBlocks >= 1);
    CHECK(status.finishedBlocks < model->config.nLayers);

    quant::Recipe other = setup.recipe;
    other.method = "rtn1";
    status = workflow::checkResume(setup.runPath, model, calibration, other, none);
    CHECK(status.state == workflow::ResumeStatus::State::Mismatch);
    CHECK(status.differingFields == std::vector<std::string>{"recipe"});
    CHECK_THAT(status.message, Catch::Contains("recipe"));

    bq::NullSink quiet;
    const auto resumed = quant::runQuantization(workflow::quantizeRequest(setup, model, true), quiet, none);
    REQUIRE(resumed.job.status == bq::JobStatus::Completed);
    status = workflow::checkResume(setup.runPath, model, calibration, setup.recipe, none);
    CHECK(status.state == workflow::ResumeStatus::State::Complete);

    std::ofstream(dir / "garbage.h5") << "not HDF5";
    status = workflow::checkResume(dir / "garbage.h5", model, calibration, setup.recipe, none);
    CHECK(status.state == workflow::ResumeStatus::State::Unreadable);
    CHECK_THAT(status.message, Catch::Contains("garbage.h5"));
}
