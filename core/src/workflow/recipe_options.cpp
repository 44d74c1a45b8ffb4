#include "bq/workflow/recipe_options.h"
#include "bq/quant/calibration/calibration.h"
#include <cctype>
#include <stdexcept>

namespace bq::workflow {

void applyRecipeOverrides(quant::Recipe& recipe, const RecipeOverrides& o)
{
    if (!o.method.empty()) {
        recipe = quant::builtinRecipe(o.method, o.companion);
        if (o.quantizeEmbeddings)
            recipe.keepFp.clear();
    }
    if (o.samples > 0)
        recipe.samples = o.samples;
    if (o.seqLen > 0)
        recipe.seqLen = o.seqLen;
    if (o.seed)
        recipe.seed = *o.seed;
    if (!o.sampling.empty())
        recipe.sampling = quant::calibrationSamplingName(quant::parseCalibrationSampling(o.sampling));
    if (!o.unfit.empty()) {
        if (o.unfit != "refuse" && o.unfit != "keep_fp")
            throw std::invalid_argument("--unfit: expected refuse or keep_fp, got '" + o.unfit + "'");
        recipe.unfit = o.unfit;
    }
    if (!o.analysis.empty()) {
        if (o.analysis != "full" && o.analysis != "light")
            throw std::invalid_argument("--analysis: expected full or light, got '" + o.analysis + "'");
        recipe.analysis = o.analysis;
    }
}

namespace {

// A non-negative decimal integer that fits an int, the whole of `digits`.
std::optional<int> parseIndex(const std::string& digits)
{
    if (digits.empty() || digits.size() > 9)
        return std::nullopt;
    int value = 0;
    for (char c : digits) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

} // namespace

DocumentRange parseRange(const std::string& text, const std::string& option)
{
    const auto colon = text.find(':');
    const std::optional<int> begin = colon == std::string::npos ? std::nullopt : parseIndex(text.substr(0, colon));
    const std::string endText = colon == std::string::npos ? "" : text.substr(colon + 1);
    const std::optional<int> end = endText.empty() ? std::optional<int>(-1) : parseIndex(endText);
    if (!begin || !end || (*end >= 0 && *end <= *begin))
        throw std::invalid_argument(option + ": expected a range A:B with 0 ≤ A < B (or A: to the end), got '" + text +
                                    "'");
    return {*begin, *end};
}

} // namespace bq::workflow
