// Quantization recipes: which method (and options) every weight matrix of a model gets, and why.
//
// Format (versioned JSON; every field optional except "version"):
//   { "version": 1,
//     "defaults": { "method": "arb-rc", "options": {...}, "block_size": 128, "damping": 0.01,
//                   "samples": 128, "seqlen": 2048, "seed": 0, "sampling": "concat",
//                   "keep_fp": ["token_embd.weight", "output.weight"],
//                   "true_sequential": false, "recollect_down": true, "analysis": "full" },
//     "rules": [ { "match": "blk.*.ffn_down.weight", "method": "output-align", "options": {...} },
//                { "match": { "regex": "blk\\.(0|1)\\.attn_v\\.weight" }, "method": "gptq", "options": {"bits": 2} },
//                { "match": "blk.0.*", "keep_fp": true } ],
//     "overrides": { "blk.3.ffn_up.weight": { "method": "sign", "options": {...} } } }
//
// Resolution for each weight matrix, in order: keep_fp list → "keep_fp"; else defaults → "default"; then every
// matching rule in file order, LAST match wins → "rule k: <pattern>" (k counts from 1); then an override →
// "override". A rule or override without "method" keeps the method decided so far and merges its options
// into the options so far; one with a method starts from that method's defaults. Globs: `*` any run of
// characters (dots included), `?` one character; the whole name must match. "re:..." is a regex shorthand.
// block_size and damping reach a method only through its own options of those meanings (see resolveRecipe).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::quant {

struct MethodInfo;

struct RecipeIssue {
    int rule = -1; // 1-based rule index, 0 = defaults / top level, -1 = an override or not rule-specific
    std::string message;
};

// All problems found at once, so a front end can mark each faulty rule.
class RecipeError : public std::runtime_error {
public:
    RecipeError(std::string origin, std::vector<RecipeIssue> issues);
    const std::vector<RecipeIssue>& issues() const noexcept { return m_issues; }

private:
    std::vector<RecipeIssue> m_issues;
};

struct RecipeRule {
    std::string pattern;  // glob or regex text
    bool regex = false;
    std::optional<std::string> method;
    nlohmann::json options = nlohmann::json::object();
    std::optional<bool> keepFp;
    std::string label() const; // "blk.*.ffn_down.weight" or "regex blk\.0\..*"
    bool matches(const std::string& tensor) const;
    // The pattern compiled once, for matching many names (matches() compiles a regex on every call).
    std::function<bool(const std::string&)> matcher() const;
};

struct RecipeOverride {
    std::optional<std::string> method;
    nlohmann::json options = nlohmann::json::object();
    std::optional<bool> keepFp;
};

struct Recipe {
    int version = 1;
    std::string method = "arb-rc";
    nlohmann::json options = nlohmann::json::object();
    int blockSize = 128;
    double damping = 0.01;
    int samples = 128;
    int seqLen = 2048;
    std::uint64_t seed = 0;
    std::string sampling = "concat";
    std::vector<std::string> keepFp{"token_embd.weight", "output.weight"};
    bool trueSequential = false;
    bool recollectDown = true;
    std::string analysis = "full"; // "full": FP stream always (cumulative metrics); "light": only when needed
    // A matrix whose method cannot take its shape (q1_0 on 576 input columns): "refuse" (a RecipeError naming it)
    // or "keep_fp" (kept in full precision, said in its decidedBy and in one warning).
    std::string unfit = "refuse";
    std::vector<RecipeRule> rules;
    std::map<std::string, RecipeOverride> overrides;

    nlohmann::json toJson() const;
};

// Throws RecipeError listing every problem (unknown keys, wrong types, unknown methods, bad regexes).
Recipe parseRecipe(const nlohmann::json& j, const std::string& origin = "recipe");
Recipe loadRecipeFile(const std::string& path); // FormatError-style messages naming the file
// The built-in recipe of `--method M`: M on every block linear; for "output-align", output-align on
// blk.*.ffn_down.weight and `companion` (default arb-rc) elsewhere, as the paper does.
Recipe builtinRecipe(const std::string& method, const std::string& companion = "arb-rc");

struct ResolvedTensor {
    std::string tensor;
    int block = -1;               // -1 for token_embd / output
    std::int64_t rows = 0, cols = 0;
    bool keepFp = false;
    std::string method;           // "" when kept in full precision
    const MethodInfo* methodInfo = nullptr; // the method's registry entry (methodRegistry()); null when kept
    nlohmann::json options;       // merged with the method's defaults
    std::string decidedBy;        // "default", "rule 2: blk.*.ffn_down.weight", "override", "keep_fp"
    double bitsPerWeight = 16;    // the method's estimate; 16 for kept tensors (stored as F16)
    bool needsGram = false, needsTwoStreams = false;
};

struct Resolution {
    std::vector<ResolvedTensor> tensors; // model order: token_embd, blocks, output
    std::vector<std::string> warnings;   // e.g. a rule that matches nothing
    const ResolvedTensor* find(const std::string& tensor) const;
    bool anyTwoStreams() const;
};

// The weight matrices a recipe can address: token_embd.weight, blk.N.{attn_q,attn_k,attn_v,attn_output,
// ffn_gate,ffn_up,ffn_down}.weight, output.weight (also when tied to the embeddings).
struct WeightMatrix {
    std::string tensor;
    int block;
    std::int64_t rows, cols;
};
std::vector<WeightMatrix> recipeTensors(const Model& model);

// Resolves every weight matrix; throws RecipeError when a tensor's method cannot take its shape (naming the
// tensor, the rule and a suggestion), when options are unknown to the method, or when token_embd.weight gets
// a method that needs calibration statistics (an embedding has no input Gram).
Resolution resolveRecipe(const Recipe& recipe, const Model& model);

struct Estimate {
    std::int64_t quantizedWeights = 0, keptWeights = 0, otherParams = 0;
    double quantizedBits = 0;          // Σ bits over quantized matrices (full count: scales, means, bitmaps)
    double outputBytes = 0;            // quantized bits/8 + kept matrices at F16 + norms/biases at F32
    double bitsPerWeightQuantized = 0; // full bits per weight over the quantized matrices
    double bitsPerWeightOverall = 0;   // all parameters (kept matrices at 16, norms at 32)
    // Peak memory of the quantization run, bytes, with its parts.
    //   model   the loaded model + fp32 copies of the current block (FP and Ŵ) and of the embedding
    //   stream  hidden states of every calibration token (quantized stream; FP input and output streams)
    //   gram    the current block's float64 Grams (Ĥ; H_fp, C) + a re-collected site's fresh ones
    //   scratch per worker: block-forward buffers, the site inputs of one sequence, its float32 chunk Grams
    //   method  working memory of the layers quantized at once (one per worker): Hessian factors, the
    //           method's own buffers, the analysis products, the result being built
    //   result  every finished layer's parameters as held in memory (QuantizedLinear::residentBytes)
    //   base    the process itself (code, shared libraries, allocator: 12.5 MiB measured for bitstudio-cli)
    //           and, when a run file is written, the HDF5 library's caches and the calibration text (12 MiB
    //           measured on stories260K with 500 TinyStories documents)
    double modelBytes = 0, streamBytes = 0, gramBytes = 0, scratchBytes = 0, methodBytes = 0, resultBytes = 0,
           baseBytes = 0, peakBytes = 0;
    int streams = 1;
    nlohmann::json toJson() const;
};

Estimate estimateRun(const Recipe& recipe, const Resolution& resolution, const Model& model, int threads = 1,
                     bool writesRunFile = true);

// In-memory bytes per weight of the QuantizedLinear the tensor's method will return (its MethodInfo::
// residentBytesPerWeight hook); 0 for kept tensors. E.g. arb-rc with CGB holds 12 bytes per weight (an int8 sign
// matrix and a uint8 element mask per plane). A quantized tensor needs methodInfo (std::logic_error otherwise).
double residentBytesPerWeight(const ResolvedTensor& tensor);

// Peak working memory of one layer job, bytes: the job's copy of W, the dequantized Ŵ and the result, plus the
// larger of the method's own working memory (MethodInfo::workingBytes) and the analysis that follows it.
double layerWorkingBytes(const ResolvedTensor& tensor);

} // namespace bq::quant
