// The recipe overrides and document ranges both front ends take (workflow/recipe_options.h).
#include "bq/workflow/recipe_options.h"
#include <catch2/catch.hpp>

using namespace bq;

TEST_CASE("recipe overrides: a built-in recipe, then the calibration settings", "[workflow][recipe]")
{
    quant::Recipe recipe;
    recipe.method = "sign";
    recipe.samples = 7;
    workflow::applyRecipeOverrides(recipe, {});
    CHECK(recipe.method == "sign");
    CHECK(recipe.samples == 7);

    workflow::RecipeOverrides o;
    o.method = "output-align";
    o.companion = "billm";
    o.samples = 4;
    o.seqLen = 32;
    o.seed = 9;
    o.sampling = "documents";
    workflow::applyRecipeOverrides(recipe, o);
    CHECK(recipe.method == "billm");
    REQUIRE(recipe.rules.size() == 1);
    CHECK(recipe.rules[0].method == "output-align");
    CHECK(recipe.keepFp == quant::Recipe().keepFp);
    CHECK(recipe.samples == 4);
    CHECK(recipe.seqLen == 32);
    CHECK(recipe.seed == 9);
    CHECK(recipe.sampling == "documents");

    o.quantizeEmbeddings = true;
    workflow::applyRecipeOverrides(recipe, o);
    CHECK(recipe.keepFp.empty());

    o.sampling = "shuffled";
    CHECK_THROWS(workflow::applyRecipeOverrides(recipe, o));
    o.method = "xnor";
    CHECK_THROWS_WITH(workflow::applyRecipeOverrides(recipe, o), Catch::Contains("known:"));
}

TEST_CASE("document ranges: A:B with 0 <= A < B, or A: to the end", "[workflow]")
{
    CHECK(workflow::parseRange("0:200", "--docs").begin == 0);
    CHECK(workflow::parseRange("0:200", "--docs").end == 200);
    CHECK(workflow::parseRange("800:1000", "--docs").begin == 800);
    CHECK(workflow::parseRange("5:", "--docs").end == -1);
    for (const char* bad : {"5:2", "3:3", ":200", "-1:4", "0:x", "7", "", "1:2:3", "0:99999999999", " 1:2"}) {
        INFO(bad);
        CHECK_THROWS_WITH(workflow::parseRange(bad, "--calib-docs"),
                          Catch::Contains("--calib-docs") && Catch::Contains("0 ≤ A < B") &&
                              Catch::Contains(std::string("'") + bad + "'"));
    }
}
