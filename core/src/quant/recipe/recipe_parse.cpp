// Recipes as JSON: parseRecipe / loadRecipeFile (every problem at once, as a RecipeError), Recipe::toJson and the
// built-in recipe of `--method`.
#include "bq/quant/methods/method.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include "bq/tokenizer/pcre2_regex.h"
#include <fstream>
#include <set>
#include <sstream>

namespace bq::quant {

using nlohmann::json;

namespace {

std::string joinIssues(const std::string& origin, const std::vector<RecipeIssue>& issues)
{
    std::string s = origin + ": " + std::to_string(issues.size()) + " problem(s)";
    for (const auto& i : issues) {
        s += "\n  ";
        if (i.rule > 0)
            s += "rule " + std::to_string(i.rule) + ": ";
        s += i.message;
    }
    return s;
}

const std::set<std::string> kDefaultKeys{"method",  "options", "block_size", "damping",         "samples",
                                         "seqlen",  "seed",    "sampling",   "keep_fp",         "true_sequential",
                                         "recollect_down", "analysis", "unfit"};

} // namespace

RecipeError::RecipeError(std::string origin, std::vector<RecipeIssue> issues)
    : std::runtime_error(joinIssues(origin, issues)), m_issues(std::move(issues))
{
}

json Recipe::toJson() const
{
    json d{{"method", method},          {"options", options},         {"block_size", blockSize},
           {"damping", damping},        {"samples", samples},         {"seqlen", seqLen},
           {"seed", seed},              {"sampling", sampling},       {"keep_fp", keepFp},
           {"true_sequential", trueSequential}, {"recollect_down", recollectDown}, {"analysis", analysis}};
    if (unfit != "refuse") // written only when set, so recipes (and their fingerprints) from before stay the same
        d["unfit"] = unfit;
    json r = json::array();
    for (const auto& rule : rules) {
        json jr;
        jr["match"] = rule.regex ? json{{"regex", rule.pattern}} : json(rule.pattern);
        if (rule.method)
            jr["method"] = *rule.method;
        if (!rule.options.empty())
            jr["options"] = rule.options;
        if (rule.keepFp)
            jr["keep_fp"] = *rule.keepFp;
        r.push_back(jr);
    }
    json o = json::object();
    for (const auto& [name, ov] : overrides) {
        json jo = json::object();
        if (ov.method)
            jo["method"] = *ov.method;
        if (!ov.options.empty())
            jo["options"] = ov.options;
        if (ov.keepFp)
            jo["keep_fp"] = *ov.keepFp;
        o[name] = jo;
    }
    return json{{"version", version}, {"defaults", d}, {"rules", r}, {"overrides", o}};
}

Recipe parseRecipe(const json& j, const std::string& origin)
{
    std::vector<RecipeIssue> issues;
    Recipe r;
    auto bad = [&](int rule, std::string msg) { issues.push_back({rule, std::move(msg)}); };
    auto checkMethod = [&](int rule, const std::string& id, const std::string& where) {
        try {
            findMethod(id);
        } catch (const std::exception& e) {
            bad(rule, where + ": " + e.what());
        }
    };
    if (!j.is_object())
        throw RecipeError(origin, {{0, "the recipe must be a JSON object"}});
    for (const auto& [key, value] : j.items())
        if (key != "version" && key != "defaults" && key != "rules" && key != "overrides" && key != "schema")
            bad(0, "unknown top-level key \"" + key + "\" (expected version, defaults, rules, overrides)");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
        bad(0, "\"version\" must be 1 (this build reads recipe version 1)");
    try {
        if (j.contains("defaults")) {
            const json& d = j["defaults"];
            if (!d.is_object())
                bad(0, "\"defaults\" must be an object");
            else {
                for (const auto& [key, value] : d.items())
                    if (!kDefaultKeys.count(key))
                        bad(0, "defaults: unknown key \"" + key + "\"");
                if (d.contains("method")) {
                    r.method = d["method"].get<std::string>();
                    checkMethod(0, r.method, "defaults.method");
                }
                if (d.contains("options")) {
                    if (!d["options"].is_object())
                        bad(0, "defaults.options must be an object");
                    else
                        r.options = d["options"];
                }
                if (d.contains("block_size"))
                    r.blockSize = d["block_size"].get<int>();
                if (d.contains("damping"))
                    r.damping = d["damping"].get<double>();
                if (d.contains("samples"))
                    r.samples = d["samples"].get<int>();
                if (d.contains("seqlen"))
                    r.seqLen = d["seqlen"].get<int>();
                if (d.contains("seed"))
                    r.seed = d["seed"].get<std::uint64_t>();
                if (d.contains("sampling")) {
                    r.sampling = d["sampling"].get<std::string>();
                    if (r.sampling != "concat" && r.sampling != "documents")
                        bad(0, "defaults.sampling must be \"concat\" or \"documents\"");
                }
                if (d.contains("keep_fp"))
                    r.keepFp = d["keep_fp"].get<std::vector<std::string>>();
                if (d.contains("true_sequential"))
                    r.trueSequential = d["true_sequential"].get<bool>();
                if (d.contains("recollect_down"))
                    r.recollectDown = d["recollect_down"].get<bool>();
                if (d.contains("analysis")) {
                    r.analysis = d["analysis"].get<std::string>();
                    if (r.analysis != "full" && r.analysis != "light")
                        bad(0, "defaults.analysis must be \"full\" or \"light\"");
                }
                if (d.contains("unfit")) {
                    r.unfit = d["unfit"].get<std::string>();
                    if (r.unfit != "refuse" && r.unfit != "keep_fp")
                        bad(0, "defaults.unfit must be \"refuse\" or \"keep_fp\"");
                }
                if (r.blockSize <= 0 || r.damping < 0 || r.samples <= 0 || r.seqLen < 2)
                    bad(0, "defaults: block_size > 0, damping ≥ 0, samples > 0 and seqlen ≥ 2 are required");
            }
        }
    } catch (const json::exception& e) {
        bad(0, std::string("defaults: wrong value type (") + e.what() + ")");
    }
    if (j.contains("rules")) {
        if (!j["rules"].is_array())
            bad(0, "\"rules\" must be an array");
        else {
            int index = 0;
            for (const json& jr : j["rules"]) {
                ++index;
                try {
                    RecipeRule rule;
                    if (!jr.is_object() || !jr.contains("match")) {
                        bad(index, "a rule must be an object with \"match\"");
                        continue;
                    }
                    for (const auto& [key, value] : jr.items())
                        if (key != "match" && key != "method" && key != "options" && key != "keep_fp")
                            bad(index, "unknown key \"" + key + "\" (expected match, method, options, keep_fp)");
                    const json& m = jr["match"];
                    if (m.is_string()) {
                        rule.pattern = m.get<std::string>();
                        if (rule.pattern.rfind("re:", 0) == 0) {
                            rule.pattern = rule.pattern.substr(3);
                            rule.regex = true;
                        }
                    } else if (m.is_object() && m.contains("regex") && m.size() == 1) {
                        rule.pattern = m["regex"].get<std::string>();
                        rule.regex = true;
                    } else {
                        bad(index, "\"match\" must be a glob string or {\"regex\": \"...\"}");
                        continue;
                    }
                    if (rule.regex) {
                        try {
                            Pcre2Regex test(rule.pattern);
                        } catch (const std::invalid_argument& e) {
                            bad(index, "invalid regex \"" + rule.pattern + "\": " + e.what());
                        }
                    }
                    if (jr.contains("method")) {
                        rule.method = jr["method"].get<std::string>();
                        checkMethod(index, *rule.method, "method");
                    }
                    if (jr.contains("options")) {
                        if (!jr["options"].is_object())
                            bad(index, "\"options\" must be an object");
                        else
                            rule.options = jr["options"];
                    }
                    if (jr.contains("keep_fp"))
                        rule.keepFp = jr["keep_fp"].get<bool>();
                    if (!rule.method && rule.options.empty() && !rule.keepFp)
                        bad(index, "the rule sets nothing (give method, options or keep_fp)");
                    r.rules.push_back(std::move(rule));
                } catch (const json::exception& e) {
                    bad(index, std::string("wrong value type (") + e.what() + ")");
                }
            }
        }
    }
    if (j.contains("overrides")) {
        if (!j["overrides"].is_object())
            bad(0, "\"overrides\" must be an object {tensor: {method, options, keep_fp}}");
        else {
            for (const auto& [name, jo] : j["overrides"].items()) {
                try {
                    RecipeOverride ov;
                    if (!jo.is_object()) {
                        bad(-1, "override " + name + ": must be an object");
                        continue;
                    }
                    for (const auto& [key, value] : jo.items())
                        if (key != "method" && key != "options" && key != "keep_fp")
                            bad(-1, "override " + name + ": unknown key \"" + key + "\"");
                    if (jo.contains("method")) {
                        ov.method = jo["method"].get<std::string>();
                        checkMethod(-1, *ov.method, "override " + name);
                    }
                    if (jo.contains("options"))
                        ov.options = jo["options"];
                    if (jo.contains("keep_fp"))
                        ov.keepFp = jo["keep_fp"].get<bool>();
                    r.overrides[name] = std::move(ov);
                } catch (const json::exception& e) {
                    bad(-1, "override " + name + ": wrong value type (" + e.what() + ")");
                }
            }
        }
    }
    if (!issues.empty())
        throw RecipeError(origin, std::move(issues));
    return r;
}

Recipe loadRecipeFile(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw std::runtime_error(path + ": cannot open the recipe file");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string text = ss.str();
    checkJsonDepth(text, path, "recipe");
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(path, "recipe JSON", std::string("valid JSON (") + e.what() + ")",
                          std::int64_t(e.byte));
    }
    return parseRecipe(j, path);
}

Recipe builtinRecipe(const std::string& method, const std::string& companion)
{
    findMethod(method); // throws listing the known ids
    Recipe r;
    if (method == "output-align") {
        findMethod(companion);
        r.method = companion;
        RecipeRule rule;
        rule.pattern = "blk.*.ffn_down.weight";
        rule.method = "output-align";
        r.rules.push_back(rule);
    } else {
        r.method = method;
    }
    return r;
}

} // namespace bq::quant
