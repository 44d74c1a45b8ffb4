// A recipe JSON file (bitstudio.recipe/1): RecipeError is its documented error for a well-formed but wrong recipe.
#include "fuzz_support.h"

#include "bq/quant/recipe/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = bqfuzz::writeScratch("fuzz.recipe.json", data, size);
    bqfuzz::expectCleanRefusal<bq::quant::RecipeError>([&] { (void)bq::quant::loadRecipeFile(path.string()); });
    return 0;
}
