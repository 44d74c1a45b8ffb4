// Built-in starting points for a recipe, the studio's "Presets" menu (architecture.md §13). Each is an ordinary
// Recipe: applying one replaces the recipe, and every rule stays visible and editable afterwards.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <string>
#include <vector>

namespace bq::workflow {

struct RecipePreset {
    std::string id;          // stable name: "keep-embeddings", "all-1bit", "deployable-q1_0", ...
    std::string title;       // menu text
    std::string description; // tooltip: what it does and why
    quant::Recipe recipe;
};

// In menu order. Recipes use the defaults of every method (options from the method registry).
const std::vector<RecipePreset>& recipePresets();
// Throws std::invalid_argument listing the known ids.
const RecipePreset& findRecipePreset(const std::string& id);

} // namespace bq::workflow
