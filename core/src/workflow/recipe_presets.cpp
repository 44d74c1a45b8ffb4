#include "bq/workflow/recipe_presets.h"
#include <stdexcept>

namespace bq::workflow {

namespace {

quant::RecipeRule rule(const std::string& pattern, const std::string& method, nlohmann::json options = {})
{
    quant::RecipeRule r;
    r.pattern = pattern;
    r.method = method;
    if (!options.is_null())
        r.options = std::move(options);
    return r;
}

std::vector<RecipePreset> makePresets()
{
    std::vector<RecipePreset> out;

    quant::Recipe keep = quant::builtinRecipe("arb-rc");
    out.push_back({"keep-embeddings", "1-bit, keep embeddings and head",
                   "ARB-RC on every block linear; token_embd and the output head stay in full precision (the "
                   "usual setting of the 1-bit papers: both are small next to the blocks and very sensitive).",
                   keep});

    quant::Recipe all = quant::builtinRecipe("arb-rc");
    all.keepFp.clear();
    all.rules.push_back(rule("token_embd.weight", "sign"));
    out.push_back({"all-1bit", "All 1-bit",
                   "ARB-RC on every block linear and on the output head, XNOR sign on the embedding (a lookup "
                   "table has no input statistics, so no Hessian-based method applies to it).",
                   all});

    quant::Recipe q1 = quant::builtinRecipe("q1_0");
    q1.unfit = "keep_fp";
    out.push_back({"deployable-q1_0", "Deployable Q1_0",
                   "Sign × one fp16 scale per 128 weights on every block linear: exactly llama.cpp's Q1_0, so the "
                   "export runs in stock llama.cpp without a refit. Matrices whose input width is not a multiple "
                   "of 128 (e.g. SmolLM2's 576) are kept in full precision (F16, or Q8_0 with the export's "
                   "embeddings setting), and the estimate lists them.",
                   q1});

    quant::Recipe mixed = quant::builtinRecipe("arb-rc");
    mixed.rules.push_back(rule("blk.*.attn_v.weight", "gptq", {{"bits", 2}}));
    mixed.rules.push_back(rule("blk.0.*", "gptq", {{"bits", 2}}));
    out.push_back({"mixed-1-2bit", "1-bit + 2-bit for sensitive layers",
                   "ARB-RC everywhere except the value projections and the first block, which get 2-bit GPTQ: "
                   "the layers whose errors the quantization error plots usually show to grow fastest.",
                   mixed});

    out.push_back({"output-align", "Output-align on ffn_down + ARB-RC",
                   "Output-aligned binarization (fits the quantized model's own inputs to the full-precision "
                   "outputs) on every ffn_down, ARB-RC on the other block linears, as the paper does.",
                   quant::builtinRecipe("output-align", "arb-rc")});
    return out;
}

} // namespace

const std::vector<RecipePreset>& recipePresets()
{
    static const std::vector<RecipePreset> presets = makePresets();
    return presets;
}

const RecipePreset& findRecipePreset(const std::string& id)
{
    std::string known;
    for (const RecipePreset& p : recipePresets()) {
        if (p.id == id)
            return p;
        known += (known.empty() ? "" : ", ") + p.id;
    }
    throw std::invalid_argument("unknown recipe preset '" + id + "' (known: " + known + ")");
}

} // namespace bq::workflow
