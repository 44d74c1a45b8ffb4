// Resolution: the rules of a recipe applied to every weight matrix of a model (recipe.h, "Resolution").
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/tokenizer/pcre2_regex.h"
#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace bq::quant {

using nlohmann::json;

namespace {

bool globMatch(const char* p, const char* s)
{
    // Iterative wildcard match with backtracking to the last '*'.
    const char *star = nullptr, *retry = nullptr;
    while (*s) {
        if (*p == '*') {
            star = p++;
            retry = s;
        } else if (*p == '?' || *p == *s) {
            ++p;
            ++s;
        } else if (star) {
            p = star + 1;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*')
        ++p;
    return *p == 0;
}

} // namespace

std::string RecipeRule::label() const { return regex ? "regex " + pattern : pattern; }

bool RecipeRule::matches(const std::string& tensor) const { return matcher()(tensor); }

std::function<bool(const std::string&)> RecipeRule::matcher() const
{
    if (regex) {
        auto compiled = std::make_shared<const Pcre2Regex>(pattern);
        return [compiled](const std::string& tensor) { return compiled->matchesWhole(tensor); };
    }
    return [glob = pattern](const std::string& tensor) { return globMatch(glob.c_str(), tensor.c_str()); };
}

const ResolvedTensor* Resolution::find(const std::string& tensor) const
{
    for (const auto& t : tensors)
        if (t.tensor == tensor)
            return &t;
    return nullptr;
}

bool Resolution::anyTwoStreams() const
{
    for (const auto& t : tensors)
        if (!t.keepFp && t.needsTwoStreams)
            return true;
    return false;
}

std::vector<WeightMatrix> recipeTensors(const Model& model)
{
    const ModelConfig& c = model.config;
    std::vector<WeightMatrix> out;
    out.push_back({"token_embd.weight", -1, c.vocabSize, c.dim});
    for (int l = 0; l < c.nLayers; ++l)
        for (const char* part : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
            const Tensor& t = model.tensor(blockTensorName(l, part));
            out.push_back({t.name, l, t.rows(), t.cols()});
        }
    out.push_back({"output.weight", -1, c.vocabSize, c.dim});
    return out;
}

namespace {

// Passes the recipe's block size and damping to a method through its own option of that meaning, when the
// method has one and the recipe did not set it explicitly.
void applyGlobalOptions(const MethodInfo& m, const Recipe& r, json& options)
{
    if (!m.defaults.is_object())
        return;
    for (const char* key : {"block_size", "blocksize", "block"})
        if (m.defaults.contains(key) && !options.contains(key) && m.defaults[key].is_number())
            options[key] = r.blockSize;
    for (const char* key : {"damping", "percdamp", "damp"})
        if (m.defaults.contains(key) && !options.contains(key) && m.defaults[key].is_number())
            options[key] = r.damping;
}

} // namespace

Resolution resolveRecipe(const Recipe& recipe, const Model& model)
{
    Resolution res;
    std::vector<RecipeIssue> issues;
    std::vector<int> ruleHits(recipe.rules.size(), 0);
    std::vector<std::function<bool(const std::string&)>> ruleMatches;
    for (const RecipeRule& rule : recipe.rules)
        ruleMatches.push_back(rule.matcher());
    std::set<std::string> names;
    std::map<std::string, int> keptUnfit; // method -> matrices kept because it cannot take their shape
    for (const WeightMatrix& w : recipeTensors(model)) {
        names.insert(w.tensor);
        ResolvedTensor t;
        t.tensor = w.tensor;
        t.block = w.block;
        t.rows = w.rows;
        t.cols = w.cols;
        bool keep = std::find(recipe.keepFp.begin(), recipe.keepFp.end(), w.tensor) != recipe.keepFp.end();
        std::string method = recipe.method;
        json options = recipe.options;
        std::string decidedBy = keep ? "keep_fp" : "default";
        int decidingRule = 0;
        auto apply = [&](const std::optional<std::string>& m, const json& opts, const std::optional<bool>& k,
                         const std::string& by, int ruleIndex) {
            if (k)
                keep = *k;
            if (m) {
                method = *m;
                options = opts;
                if (!k)
                    keep = false; // naming a method for a tensor means: quantize it
            } else if (!opts.empty()) {
                options.merge_patch(opts);
            }
            decidedBy = by;
            decidingRule = ruleIndex;
        };
        for (std::size_t i = 0; i < recipe.rules.size(); ++i) {
            const RecipeRule& rule = recipe.rules[i];
            if (!ruleMatches[i](w.tensor))
                continue;
            ++ruleHits[i];
            apply(rule.method, rule.options, rule.keepFp, "rule " + std::to_string(i + 1) + ": " + rule.label(),
                  int(i + 1));
        }
        if (auto it = recipe.overrides.find(w.tensor); it != recipe.overrides.end())
            apply(it->second.method, it->second.options, it->second.keepFp, "override", -1);
        t.decidedBy = decidedBy;
        t.keepFp = keep;
        if (!keep) {
            const std::string where = decidingRule > 0 ? "rule " + std::to_string(decidingRule)
                                      : decidedBy == "override" ? "override " + w.tensor
                                                                : "defaults";
            try {
                const MethodInfo& m = findMethod(method);
                json merged = mergeOptions(m, options);
                applyGlobalOptions(m, recipe, merged);
                const std::string why = m.unsupportedReason ? m.unsupportedReason(w.rows, w.cols, merged) : "";
                if (!why.empty() && recipe.unfit == "keep_fp") {
                    t.keepFp = true;
                    // The reason's first clause ("q1_0 needs ... 128 (m = 576)"); the refusal says the rest.
                    const std::size_t clause = why.find("): ");
                    t.decidedBy = decidedBy + "; kept in full precision (unfit: " +
                                  (clause == std::string::npos ? why : why.substr(0, clause + 1)) + ")";
                    t.bitsPerWeight = 16;
                    ++keptUnfit[method];
                    res.tensors.push_back(std::move(t));
                    continue;
                }
                if (!why.empty()) {
                    issues.push_back({decidingRule > 0 ? decidingRule : -1,
                                      w.tensor + " [" + std::to_string(w.rows) + " x " + std::to_string(w.cols) +
                                          "]: method " + method + " (from " + where + ") cannot take it: " + why +
                                          ". Suggestion: add a rule or override routing " + w.tensor +
                                          " to another method (e.g. arb-rc or sign), keep it in full precision "
                                          "(\"keep_fp\": true), or keep every matrix the method cannot take "
                                          "(\"unfit\": \"keep_fp\" in the recipe defaults; CLI --unfit keep_fp)"});
                } else if (m.needsGram && w.tensor == "token_embd.weight") {
                    issues.push_back({decidingRule > 0 ? decidingRule : -1,
                                      "token_embd.weight: method " + method + " (from " + where +
                                          ") needs an input Gram, which an embedding table does not have. "
                                          "Suggestion: keep it in full precision or use a data-free method "
                                          "(sign, rtn1, svid, ternary)"});
                }
                t.method = method;
                t.methodInfo = &m;
                t.options = merged;
                t.needsGram = m.needsGram;
                t.needsTwoStreams = m.needsTwoStreams;
                t.bitsPerWeight = m.estimateBits ? m.estimateBits(w.rows, w.cols, merged) : 0.0;
            } catch (const std::exception& e) {
                issues.push_back({decidingRule > 0 ? decidingRule : -1, w.tensor + " (from " + where + "): " + e.what()});
            }
        } else {
            t.bitsPerWeight = 16;
        }
        res.tensors.push_back(std::move(t));
    }
    for (const auto& [method, count] : keptUnfit)
        res.warnings.push_back(std::to_string(count) + " weight matri" + (count == 1 ? "x" : "ces") +
                               " kept in full precision because " + method +
                               " cannot take their shape (recipe \"unfit\": \"keep_fp\"; see decided_by)");
    for (std::size_t i = 0; i < recipe.rules.size(); ++i)
        if (ruleHits[i] == 0)
            res.warnings.push_back("rule " + std::to_string(i + 1) + " (" + recipe.rules[i].label() +
                                   ") matches no weight matrix of this model");
    for (const auto& [name, ov] : recipe.overrides)
        if (!names.count(name))
            issues.push_back({-1, "override \"" + name + "\" names no weight matrix of this model (e.g. " +
                                      "blk.0.ffn_down.weight)"});
    if (!issues.empty())
        throw RecipeError("recipe for " + model.sourcePath, std::move(issues));
    return res;
}

} // namespace bq::quant
