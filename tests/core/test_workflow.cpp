// The layer both front ends share (core/workflow): presets, the equivalent command line, model specs.
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/workflow/open_model.h"
#include "bq/workflow/quantize_setup.h"
#include "bq/workflow/recipe_presets.h"
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
