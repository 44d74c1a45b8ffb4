// What both front ends change in a recipe before a run (the CLI's --method, --samples, … and the studio's run
// settings), and the document ranges they take as "A:B", so the two apply and check them the same way.
#pragma once
#include "bq/quant/recipe/recipe.h"
#include <cstdint>
#include <optional>
#include <string>

namespace bq::workflow {

struct RecipeOverrides {
    // When set, the recipe is replaced by the built-in one of this method (quant::builtinRecipe): the method on
    // every block linear; for output-align, output-align on ffn_down and `companion` elsewhere.
    std::string method;
    std::string companion = "arb-rc";
    bool quantizeEmbeddings = false; // with `method`: token_embd / output quantized too (keep_fp emptied)
    // Calibration; 0, empty or unset keep the recipe's own value.
    int samples = 0;
    int seqLen = 0;
    std::optional<std::uint64_t> seed;
    std::string sampling; // "concat" | "documents" (throws std::invalid_argument otherwise)
    std::string unfit;    // "refuse" | "keep_fp" (quant::Recipe::unfit; throws std::invalid_argument otherwise)
    std::string analysis; // "full" | "light" (quant::Recipe::analysis; throws std::invalid_argument otherwise)
};

// Throws what builtinRecipe throws for an unknown method (listing the known ids).
void applyRecipeOverrides(quant::Recipe& recipe, const RecipeOverrides& overrides);

// Documents [begin, end) of a text; end = -1: to the last one.
struct DocumentRange {
    int begin = 0;
    int end = -1;
};

// "A:B" with 0 ≤ A < B, or "A:" (from A to the end). Throws std::invalid_argument naming `option` (e.g.
// "--docs: expected a range A:B with 0 ≤ A < B (or A: to the end), got '5:2'").
DocumentRange parseRange(const std::string& text, const std::string& option);

} // namespace bq::workflow
