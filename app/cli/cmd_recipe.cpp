// `bitstudio-cli recipe MODEL (--recipe FILE | --method M) [--json]`: which method every weight matrix gets,
// which rule decided it, and the size / bits / memory estimate, before anything runs.
#include "bq/quant/methods/method.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/recipe_options.h"
#include <algorithm>
#include <cstdio>
#include <thread>

namespace bqcli {

void addRecipeOptions(CLI::App& cmd, RecipeOptions& o)
{
    auto* recipe = cmd.add_option("--recipe", o.recipeFile, "Recipe JSON file (see README, \"Recipe format\")");
    std::string ids;
    for (const auto& m : bq::quant::methodRegistry())
        ids += (ids.empty() ? "" : ", ") + m.id;
    auto* method = cmd.add_option("--method", o.overrides.method,
                                  "Built-in recipe: this method on every block linear (" + ids + ")");
    recipe->excludes(method);
    method->excludes(recipe);
    cmd.add_option("--companion", o.overrides.companion, "With --method output-align: the method of the other layers")
        ->capture_default_str();
    cmd.add_flag("--quantize-embeddings", o.overrides.quantizeEmbeddings,
                 "With --method: also quantize token_embd/output (default: kept in full precision)");
    cmd.add_option("--unfit", o.overrides.unfit,
                   "A matrix whose method cannot take its shape (e.g. q1_0 on 576 input columns): refuse (default) "
                   "or keep_fp (kept in full precision, listed in the estimate)")
        ->check(CLI::IsMember({"refuse", "keep_fp"}));
    cmd.add_option("--analysis", o.overrides.analysis,
                   "full (default: the full-precision stream always runs, for the cumulative error metrics) or light "
                   "(only when a method needs it: about half the block forwards)")
        ->check(CLI::IsMember({"full", "light"}));
}

bq::quant::Recipe loadRecipe(const RecipeOptions& o)
{
    if (o.recipeFile.empty() == o.overrides.method.empty())
        throw std::runtime_error("give exactly one of --recipe FILE or --method M");
    bq::quant::Recipe r = o.recipeFile.empty() ? bq::quant::Recipe{} : bq::quant::loadRecipeFile(o.recipeFile);
    bq::workflow::applyRecipeOverrides(r, o.overrides);
    return r;
}

nlohmann::json resolutionJson(const bq::quant::Resolution& res, const bq::quant::Estimate& est)
{
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : res.tensors)
        tensors.push_back({{"tensor", t.tensor},
                           {"block", t.block},
                           {"rows", t.rows},
                           {"cols", t.cols},
                           {"keep_fp", t.keepFp},
                           {"method", t.keepFp ? "fp16" : t.method},
                           {"options", t.options.is_null() ? nlohmann::json::object() : t.options},
                           {"decided_by", t.decidedBy},
                           {"bits_per_weight", t.bitsPerWeight}});
    return {{"tensors", tensors}, {"warnings", res.warnings}, {"estimate", est.toJson()}};
}

void printResolution(const bq::Model& model, const bq::quant::Resolution& res, const bq::quant::Estimate& est)
{
    std::printf("%-28s %-13s %-13s %8s  %s\n", "tensor", "shape", "method", "bits/w", "decided by");
    for (const auto& t : res.tensors) {
        const std::string shape = std::to_string(t.rows) + "x" + std::to_string(t.cols);
        std::printf("%-28s %-13s %-13s %8.3f  %s\n", t.tensor.c_str(), shape.c_str(),
                    t.keepFp ? "fp16 (kept)" : t.method.c_str(), t.bitsPerWeight, t.decidedBy.c_str());
    }
    for (const auto& w : res.warnings)
        std::printf("warning: %s\n", w.c_str());
    auto mib = [](double b) { return b / (1024.0 * 1024.0); };
    std::printf("\nestimate for %s:\n", model.sourcePath.c_str());
    int matrices = 0;
    for (const auto& t : res.tensors)
        matrices += t.keepFp ? 0 : 1;
    std::printf("  quantized weights   %lld in %d matrices, %.4f bits/weight (full count: scales, means, bitmaps)\n",
                static_cast<long long>(est.quantizedWeights), matrices, est.bitsPerWeightQuantized);
    std::printf("  kept weights        %lld (counted as F16), other parameters %lld (F32)\n",
                static_cast<long long>(est.keptWeights), static_cast<long long>(est.otherParams));
    std::printf("  output size         %.0f bytes (%.2f MiB), %.4f bits per parameter overall\n", est.outputBytes,
                mib(est.outputBytes), est.bitsPerWeightOverall);
    std::printf("  peak memory         %.1f MiB (model %.1f, %d stream(s) %.1f, Grams %.1f, scratch %.1f, layer jobs "
                "%.1f, results %.1f, process %.1f)\n",
                mib(est.peakBytes), mib(est.modelBytes), est.streams, mib(est.streamBytes), mib(est.gramBytes),
                mib(est.scratchBytes), mib(est.methodBytes), mib(est.resultBytes), mib(est.baseBytes));
}

void registerRecipe(CLI::App& app)
{
    struct Opts {
        std::string model;
        ModelOptions modelOptions;
        RecipeOptions recipe;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("recipe", "Resolve a recipe for a model: method per tensor, deciding rule, estimate");
    cmd->add_option("MODEL", o->model, "Model file, Hugging Face directory, or :demo")->required();
    addRecipeOptions(*cmd, o->recipe);
    cmd->add_option("--samples", o->recipe.overrides.samples, "Calibration samples (overrides the recipe)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--seqlen", o->recipe.overrides.seqLen, "Calibration window length (overrides the recipe)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", o->json, "Print one JSON object");
    addModelOptions(*cmd, o->modelOptions);
    cmd->callback([o] {
        const bq::quant::Recipe recipe = loadRecipe(o->recipe);
        ModelOptions mo = o->modelOptions;
        auto model = openModel(o->model, mo);
        const bq::quant::Resolution res = bq::quant::resolveRecipe(recipe, *model);
        const int threads = o->modelOptions.threads > 0 ? o->modelOptions.threads
                                                          : int(std::max(1u, std::thread::hardware_concurrency()));
        const bq::quant::Estimate est = bq::quant::estimateRun(recipe, res, *model, threads);
        if (o->json) {
            nlohmann::json j = resolutionJson(res, est);
            j["recipe"] = recipe.toJson();
            printJson(j);
        } else {
            printResolution(*model, res, est);
        }
    });
}

} // namespace bqcli
