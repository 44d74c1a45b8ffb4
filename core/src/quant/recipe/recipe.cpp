#include "bq/quant/recipe/recipe.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/methods/method.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
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

const std::set<std::string> kDefaultKeys{"method",  "options", "block_size", "damping",         "samples",
                                         "seqlen",  "seed",    "sampling",   "keep_fp",         "true_sequential",
                                         "recollect_down", "analysis"};

} // namespace

RecipeError::RecipeError(std::string origin, std::vector<RecipeIssue> issues)
    : std::runtime_error(joinIssues(origin, issues)), m_issues(std::move(issues))
{
}

std::string RecipeRule::label() const { return regex ? "regex " + pattern : pattern; }

bool RecipeRule::matches(const std::string& tensor) const
{
    if (regex)
        return std::regex_match(tensor, std::regex(pattern, std::regex::ECMAScript));
    return globMatch(pattern.c_str(), tensor.c_str());
}

json Recipe::toJson() const
{
    json d{{"method", method},          {"options", options},         {"block_size", blockSize},
           {"damping", damping},        {"samples", samples},         {"seqlen", seqLen},
           {"seed", seed},              {"sampling", sampling},       {"keep_fp", keepFp},
           {"true_sequential", trueSequential}, {"recollect_down", recollectDown}, {"analysis", analysis}};
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
                            std::regex test(rule.pattern, std::regex::ECMAScript);
                        } catch (const std::regex_error& e) {
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
    json j;
    try {
        j = json::parse(ss.str());
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
    std::set<std::string> names;
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
            if (!rule.matches(w.tensor))
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
                if (!why.empty()) {
                    issues.push_back({decidingRule > 0 ? decidingRule : -1,
                                      w.tensor + " [" + std::to_string(w.rows) + " x " + std::to_string(w.cols) +
                                          "]: method " + method + " (from " + where + ") cannot take it: " + why +
                                          ". Suggestion: add a rule or override routing " + w.tensor +
                                          " to another method (e.g. arb-rc or sign), or keep it in full precision "
                                          "(\"keep_fp\": true)"});
                } else if (m.needsGram && w.tensor == "token_embd.weight") {
                    issues.push_back({decidingRule > 0 ? decidingRule : -1,
                                      "token_embd.weight: method " + method + " (from " + where +
                                          ") needs an input Gram, which an embedding table does not have. "
                                          "Suggestion: keep it in full precision or use a data-free method "
                                          "(sign, rtn1, svid, ternary)"});
                }
                t.method = method;
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

json Estimate::toJson() const
{
    return json{{"quantized_weights", quantizedWeights},
                {"kept_weights", keptWeights},
                {"other_params", otherParams},
                {"output_bytes", outputBytes},
                {"bits_per_weight_quantized", bitsPerWeightQuantized},
                {"bits_per_weight_overall", bitsPerWeightOverall},
                {"memory",
                 {{"model_bytes", modelBytes},
                  {"stream_bytes", streamBytes},
                  {"streams", streams},
                  {"gram_bytes", gramBytes},
                  {"scratch_bytes", scratchBytes},
                  {"method_bytes", methodBytes},
                  {"base_bytes", baseBytes},
                  {"result_bytes", resultBytes},
                  {"peak_bytes", peakBytes}}}};
}

namespace {

bool isBinaryFamily(const std::string& id)
{
    return id == "billm" || id == "arb" || id == "arb-x" || id == "arb-rc" || id == "output-align";
}

// Scale groups per row for a method's "group" option (an integer column count, "row" or "tensor").
double groupsPerRow(const nlohmann::json& options, const char* key, double cols)
{
    if (options.is_object() && options.contains(key) && options[key].is_number_integer()) {
        const double g = double(options[key].get<std::int64_t>());
        return g > 0 ? std::ceil(cols / g) : 1.0;
    }
    return 1.0;
}

int intOption(const nlohmann::json& options, const char* key, int fallback)
{
    if (options.is_object() && options.contains(key) && options[key].is_number_integer())
        return options[key].get<int>();
    return fallback;
}

bool flagOption(const nlohmann::json& options, const char* key, bool fallback)
{
    if (options.is_object() && options.contains(key) && options[key].is_boolean())
        return options[key].get<bool>();
    return fallback;
}

} // namespace

double residentBytesPerWeight(const ResolvedTensor& t)
{
    if (t.keepFp || t.rows <= 0 || t.cols <= 0)
        return 0.0;
    const double n = double(t.rows), m = double(t.cols);
    const std::string& id = t.method;
    if (isBinaryFamily(id)) {
        // binary_family.cpp planeLayout: zones SalientSparse (2 planes), SalientDense (2, CGB only), Sparse,
        // Dense (1 each); every plane has an element mask except SalientSparse without CGB (a column mask).
        const bool cgb = id != "billm" && flagOption(t.options, "cgb", true);
        const double planes = cgb ? 6 : 4, elementMasks = cgb ? 6 : 2, columnMasks = cgb ? 0 : 2;
        const bool mean = id == "billm" || id == "arb" || id == "arb-x";
        const bool colScale = id == "arb-rc" || id == "output-align";
        const double groups = std::ceil(m / 128.0);
        return planes + elementMasks + columnMasks / n + 4.0 * groups / m * (planes + (mean ? (cgb ? 4 : 3) : 0)) +
               (colScale ? 4.0 * planes / n : 0.0);
    }
    if (id == "rtn1" || id == "gptq" || id == "ternary") // codes + scale and zero per group
        return 1.0 + 8.0 * groupsPerRow(t.options, "group", m) / m;
    if (id == "residual") {
        const double k = intOption(t.options, "k", 2);
        const double scales = flagOption(t.options, "mean", false) ? 2.0 : 1.0;
        return k * (1.0 + 4.0 * scales * groupsPerRow(t.options, "group", m) / m);
    }
    if (id == "q1_0")
        return 1.0 + 4.0 * std::ceil(m / 128.0) / m;
    if (id == "svid")
        return 1.0 + 4.0 / m + 4.0 / n;
    return 1.0 + 4.0 * groupsPerRow(t.options, "group", m) / m; // sign and any one-plane method
}

double layerWorkingBytes(const ResolvedTensor& t)
{
    if (t.keepFp)
        return 0.0;
    const double n = double(t.rows), m = double(t.cols), nm = n * m;
    // The job's own copy of W, the dequantized Ŵ and the result being built live through the whole job.
    const double held = 4.0 * nm + 4.0 * nm + residentBytesPerWeight(t) * nm;
    double method = 4.0 * nm; // the method's working copy of W
    if (t.needsGram)
        method += 4.0 * 8.0 * m * m; // prepareHessian: H, its undamped copy, the reversed factor, U
    if (t.method == "output-align")
        method += 8.0 * nm + 8.0 * n * n + 4.0 * nm; // G = W Cᵀ, the AMP product W̃ Gᵀ, the target W̃
    // Analysis after the method: W, Ŵ and W − Ŵ in float64 and one n × m product (outputErrors); the
    // singular values need one float64 copy and the smaller Gram.
    const double small = std::min(n, m);
    const double analysis = 4.0 * 8.0 * nm + 8.0 * small * small;
    return held + std::max(method, analysis);
}

Estimate estimateRun(const Recipe& recipe, const Resolution& resolution, const Model& model, int threads,
                     bool writesRunFile)
{
    Estimate e;
    const ModelConfig& c = model.config;
    std::int64_t matrixParams = 0;
    for (const ResolvedTensor& t : resolution.tensors) {
        const std::int64_t n = t.rows * t.cols;
        if (t.tensor == "output.weight" && c.tiedEmbeddings && t.keepFp)
            continue; // tied head kept: shares token_embd's storage
        matrixParams += n;
        if (t.keepFp) {
            e.keptWeights += n;
        } else {
            e.quantizedWeights += n;
            e.quantizedBits += t.bitsPerWeight * double(n);
        }
    }
    std::int64_t all = 0;
    for (const auto& [name, tensor] : model.tensors)
        all += tensor.numel();
    // Everything that is not an addressable matrix: norms, biases (a separate output head counts above).
    std::int64_t embedAndBlocks = 0;
    for (const ResolvedTensor& t : resolution.tensors)
        if (t.tensor != "output.weight")
            embedAndBlocks += t.rows * t.cols;
    const bool separateHead = model.find("output.weight") != nullptr;
    e.otherParams = all - embedAndBlocks - (separateHead ? std::int64_t(c.vocabSize) * c.dim : 0);
    e.outputBytes = e.quantizedBits / 8 + double(e.keptWeights) * 2 + double(e.otherParams) * 4;
    e.bitsPerWeightQuantized = e.quantizedWeights ? e.quantizedBits / double(e.quantizedWeights) : 0;
    const double totalParams = double(matrixParams + e.otherParams);
    e.bitsPerWeightOverall = totalParams > 0 ? e.outputBytes * 8 / totalParams : 0;

    // Memory (parts documented in recipe.h). Every part is a buffer the pipeline really allocates; the sizes
    // follow pipeline.cpp, block_forward.cpp and the methods.
    for (const auto& [name, tensor] : model.tensors)
        e.modelBytes += double(tensor.nbytes);
    const double perBlockF32 = 4.0 * double(2 * c.qDim() * c.dim + 2 * c.kvDim() * c.dim + 3 * c.hiddenDim * c.dim);
    e.modelBytes += 2 * perBlockF32 + 4.0 * double(c.vocabSize) * c.dim; // FP block + Ŵ copies, embedding
    const bool twoStreams = recipe.analysis == "full" || resolution.anyTwoStreams();
    e.streams = twoStreams ? 2 : 1;
    const double stream = double(recipe.samples) * recipe.seqLen * c.dim * 4.0;
    e.streamBytes = stream * (twoStreams ? 3 : 1); // quantized, FP input, FP output
    const double grams = twoStreams ? 3 : 1;       // Ĥ, H_fp, C
    const double d = c.dim, q = c.qDim(), h = c.hiddenDim, kv = c.kvDim();
    const double siteSquares = d * d + q * q + d * d + h * h; // the four input sites of a block
    e.gramBytes = 8.0 * siteSquares * grams;
    // A re-collection builds Ĥ (and C) of one site while the block's first ones are still alive.
    bool downTwoStreams = false;
    for (const ResolvedTensor& t : resolution.tensors)
        if (t.tensor.find("ffn_down") != std::string::npos && t.needsTwoStreams)
            downTwoStreams = true;
    if (recipe.trueSequential)
        e.gramBytes += 8.0 * std::max({q * q, d * d, h * h}) * (twoStreams ? 2 : 1);
    else if (recipe.recollectDown && downTwoStreams)
        e.gramBytes += 8.0 * h * h * (twoStreams ? 2 : 1);
    const double T = recipe.seqLen;
    const double forwardScratch = 4.0 * T * (std::max(d, q) + 2 * q + 2 * kv + 2 * h); // BlockScratch
    const double siteInputs = 4.0 * T * (d + q + d + h);                            // Slot::inQ / inF
    const double perThread = (forwardScratch + siteInputs + 4.0 * T * d) * (twoStreams ? 2 : 1) +
                             4.0 * grams * siteSquares; // + the float32 chunk Grams of one sequence
    const int workers = std::max(1, threads);
    e.scratchBytes = perThread * workers;
    // Layers of a block run `workers` at a time, largest first: the largest working sets of one block.
    std::vector<double> jobs;
    for (const ResolvedTensor& t : resolution.tensors)
        if (!t.keepFp && t.block == 0)
            jobs.push_back(layerWorkingBytes(t));
    std::sort(jobs.begin(), jobs.end(), std::greater<>());
    for (std::size_t i = 0; i < jobs.size() && i < std::size_t(workers); ++i)
        e.methodBytes += jobs[i];
    for (const ResolvedTensor& t : resolution.tensors)
        if (!t.keepFp && t.block < 0) // embedding or head: quantized alone
            e.methodBytes = std::max(e.methodBytes, layerWorkingBytes(t));
    for (const ResolvedTensor& t : resolution.tensors)
        e.resultBytes += residentBytesPerWeight(t) * double(t.rows) * double(t.cols);
    e.baseBytes = (12.5 + (writesRunFile ? 12.0 : 0.0)) * 1048576.0;
    e.peakBytes = e.modelBytes + e.streamBytes + e.gramBytes + e.scratchBytes + e.methodBytes + e.resultBytes +
                  e.baseBytes;
    return e;
}

} // namespace bq::quant
