// Options `quantize` and `recipe` share: where the recipe comes from and what to print about it.
#pragma once
#include "bq/model/model.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/workflow/recipe_options.h"
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace bqcli {

struct RecipeOptions {
    std::string recipeFile; // --recipe FILE
    // --method M, --companion M, --quantize-embeddings (addRecipeOptions); --samples, --seqlen, … (the command)
    bq::workflow::RecipeOverrides overrides;
};
void addRecipeOptions(CLI::App& cmd, RecipeOptions& options);
// The recipe from --recipe or --method (exactly one is required), with the overrides applied.
bq::quant::Recipe loadRecipe(const RecipeOptions& options);

// The resolution table and the estimate as text (stdout) or as one JSON object.
void printResolution(const bq::Model& model, const bq::quant::Resolution& res, const bq::quant::Estimate& est);
nlohmann::json resolutionJson(const bq::quant::Resolution& res, const bq::quant::Estimate& est);

} // namespace bqcli
