// The Layer lab's core: step recording (QuantizeRequest::recordSteps) changes no result, and the steps it
// records are sound; collectLayerStatistics gives the pipeline's own statistics for a tensor.
#include "bq/demo/demo_model.h"
#include "bq/jobs/job.h"
#include "bq/model/model.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/pipeline/layer_statistics.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/errors.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

using namespace bq;
using namespace bq::quant;
using nlohmann::json;

namespace {

struct Layer {
    MatrixXfR W;
    Eigen::MatrixXd H, Hfp, C;
};

// Weights with a few outlier columns; calibration-like correlated inputs, the quantized stream a little off.
Layer makeLayer(Eigen::Index n, Eigen::Index m, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nw(0.0f, 0.02f);
    std::normal_distribution<double> nd(0.0, 1.0);
    Layer L;
    L.W.resize(n, m);
    for (Eigen::Index k = 0; k < L.W.size(); ++k) L.W.data()[k] = nw(rng);
    for (Eigen::Index j = 0; j < m; j += 29) L.W.col(j) *= 5.0f;
    Eigen::MatrixXd X(384, m), Xq(384, m);
    for (Eigen::Index t = 0; t < X.rows(); ++t) {
        const double shared = nd(rng);
        for (Eigen::Index j = 0; j < m; ++j) {
            X(t, j) = (1.0 + 2.0 * double(j % 7 == 0)) * (nd(rng) + 0.5 * shared);
            Xq(t, j) = X(t, j) + 0.2 * nd(rng);
        }
    }
    L.H = Xq.transpose() * Xq;
    L.Hfp = X.transpose() * X;
    L.C = Xq.transpose() * X;
    return L;
}

QuantizedLinear quantize(const std::string& method, const Layer& L, const json& options, bool record,
                         MethodDiagnostics& diag)
{
    const MethodInfo& info = findMethod(method);
    QuantizeRequest req;
    req.weight = &L.W;
    req.stats = {&L.H, &L.Hfp, &L.C, 384};
    req.options = mergeOptions(info, options);
    req.tensor = "test.weight";
    req.recordSteps = record;
    return info.quantize(req, diag);
}

template <class A, class B>
bool sameBytes(const A& a, const B& b)
{
    return a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(*a.data())) == 0;
}

// Every stored part, bit for bit.
void requireIdentical(const QuantizedLinear& a, const QuantizedLinear& b)
{
    REQUIRE(a.method == b.method);
    REQUIRE(a.rows == b.rows);
    REQUIRE(a.cols == b.cols);
    REQUIRE(a.storageBitsPerWeight == b.storageBitsPerWeight);
    REQUIRE(a.planes.size() == b.planes.size());
    for (std::size_t p = 0; p < a.planes.size(); ++p) {
        const SignPlane &x = a.planes[p], &y = b.planes[p];
        REQUIRE(x.group == y.group);
        REQUIRE(x.mask.kind == y.mask.kind);
        REQUIRE(x.mask.columns == y.mask.columns);
        REQUIRE(sameBytes(x.mask.elements, y.mask.elements));
        REQUIRE(sameBytes(x.signs, y.signs));
        REQUIRE(sameBytes(x.rowScale, y.rowScale));
        REQUIRE(sameBytes(x.colScale, y.colScale));
        REQUIRE(sameBytes(x.mean, y.mean));
    }
    REQUIRE(a.codes.has_value() == b.codes.has_value());
    if (a.codes) {
        REQUIRE(a.codes->bits == b.codes->bits);
        REQUIRE(sameBytes(a.codes->codes, b.codes->codes));
        REQUIRE(sameBytes(a.codes->scale, b.codes->scale));
        REQUIRE(sameBytes(a.codes->zero, b.codes->zero));
    }
    REQUIRE(sameBytes(a.dequantize(), b.dequantize()));
}

void requireNonIncreasing(const std::vector<double>& values)
{
    for (std::size_t t = 1; t < values.size(); ++t) {
        INFO("step " << t << ": " << values[t - 1] << " -> " << values[t]);
        REQUIRE(values[t] <= values[t - 1] * (1 + 1e-12) + 1e-18);
    }
}

// Objectives of the iteration steps (iteration ≥ 0), one list per column range, in order.
std::vector<std::vector<double>> iterationRuns(const std::vector<MethodStep>& steps)
{
    std::vector<std::vector<double>> runs;
    Eigen::Index begin = -1;
    for (const MethodStep& s : steps) {
        if (s.iteration < 0) continue;
        if (s.iteration == 0 || s.columnBegin != begin) runs.emplace_back();
        begin = s.columnBegin;
        runs.back().push_back(s.objective);
    }
    return runs;
}

struct Case {
    std::string method;
    json options;
    bool monotoneIterations; // the method promises non-increasing objectives over its iterations
};

} // namespace

TEST_CASE("recording steps changes no result; every listed method records sound steps", "[quant][steps]")
{
    const Layer L = makeLayer(48, 320, 7); // three blocks, the last one 64 columns wide
    const Layer L128 = makeLayer(48, 256, 8); // q1_0 needs m % 128 == 0
    const std::vector<Case> cases{
        {"sign", json::object(), false},
        {"sign", {{"group", 64}}, false},
        {"residual", json::object(), false},
        {"residual", {{"k", 3}, {"mean", true}, {"refine", 2}}, false},
        {"residual", {{"compensate", true}}, false},
        {"billm", json::object(), false},
        {"arb", json::object(), true},
        {"arb-x", json::object(), true},
        {"arb-rc", json::object(), true},
        {"arb-rc", {{"cgb", false}, {"iterations", 4}}, true},
        {"output-align", {{"amp_gate", "off"}}, true},
        {"output-align", json::object(), true}, // every accepted move is an exact descent, gated or not
        {"gptq", json::object(), false},
        {"gptq", {{"bits", 3}, {"group", 64}}, false},
        {"q1_0", json::object(), false},
        {"q1_0", {{"polish", false}, {"alternations", 3}}, false},
    };
    for (const Case& c : cases) {
        INFO(c.method << " " << c.options.dump());
        const Layer& layer = c.method == "q1_0" ? L128 : L;
        MethodDiagnostics plain, recorded;
        const QuantizedLinear a = quantize(c.method, layer, c.options, false, plain);
        const QuantizedLinear b = quantize(c.method, layer, c.options, true, recorded);
        requireIdentical(a, b);
        REQUIRE(plain.objectiveTrace == recorded.objectiveTrace);
        REQUIRE(plain.salientColumns == recorded.salientColumns);
        REQUIRE(plain.notes == recorded.notes);
        REQUIRE(plain.steps.empty());

        const std::vector<MethodStep>& steps = recorded.steps;
        REQUIRE(steps.size() >= 2);
        const Eigen::Index n = layer.W.rows(), m = layer.W.cols();
        int withObjective = 0;
        for (const MethodStep& s : steps) {
            INFO(s.title << ": " << s.sentence);
            REQUIRE_FALSE(s.title.empty());
            REQUIRE_FALSE(s.sentence.empty());
            REQUIRE(s.objectiveName.empty() == std::isnan(s.objective));
            if (!s.objectiveName.empty()) {
                REQUIRE(std::isfinite(s.objective));
                ++withObjective;
            }
            REQUIRE(0 <= s.columnBegin);
            REQUIRE(s.columnBegin < s.columnEnd);
            REQUIRE(s.columnEnd <= m);
            REQUIRE(s.snapshot.rows() == n); // small layers: every step keeps one
            REQUIRE(s.snapshot.cols() == m);
            REQUIRE(s.snapshot.allFinite());
        }
        REQUIRE(withObjective >= 2);
        // The last step shows the result.
        REQUIRE(sameBytes(steps.back().snapshot, b.dequantize()));
        if (c.monotoneIterations) {
            const auto runs = iterationRuns(steps);
            REQUIRE(runs.size() == 3); // one per block
            for (const auto& run : runs) {
                REQUIRE(run.size() >= 2);
                requireNonIncreasing(run);
            }
        }
    }
}

TEST_CASE("recorded steps: the fixed-point promises of sign, residual and q1_0", "[quant][steps]")
{
    const Layer L = makeLayer(32, 256, 11);
    MethodDiagnostics sign, residual, q1;
    quantize("sign", L, json::object(), true, sign);
    REQUIRE(sign.steps.size() == 2);
    REQUIRE(sign.steps[1].objective < sign.steps[0].objective); // the least-squares scale beats scale 1

    quantize("residual", L, {{"k", 3}}, true, residual); // the greedy fit: each plane lowers the error
    REQUIRE(residual.steps.size() == 3);
    std::vector<double> errors;
    for (const MethodStep& s : residual.steps) errors.push_back(s.objective);
    requireNonIncreasing(errors);
    REQUIRE(errors[2] < errors[0]);

    quantize("q1_0", L, json::object(), true, q1); // the polish never raises the layer objective
    const MethodStep& all = q1.steps[q1.steps.size() - 2];
    const MethodStep& polish = q1.steps.back();
    REQUIRE(all.title == "All blocks");
    REQUIRE(polish.title == "Polish");
    REQUIRE(polish.objectiveName == all.objectiveName);
    REQUIRE(polish.objective <= all.objective);
    // the Hessian step has no objective: nothing is quantized yet
    REQUIRE(q1.steps.front().title == "Hessian");
    REQUIRE(std::isnan(q1.steps.front().objective));
}

TEST_CASE("step snapshots stop at the budget; objectives do not", "[quant][steps]")
{
    // 1024 × 2048 floats = 8 MiB a snapshot: the 64 MiB budget keeps the first eight of gptq's 17 steps.
    Layer L;
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    L.W.resize(1024, 2048);
    for (Eigen::Index k = 0; k < L.W.size(); ++k) L.W.data()[k] = nd(rng);
    L.H = Eigen::MatrixXd::Identity(2048, 2048);
    MethodDiagnostics diag;
    QuantizeRequest req;
    req.weight = &L.W;
    req.stats.gram = &L.H;
    req.options = findMethod("gptq").defaults;
    req.tensor = "big.weight";
    req.recordSteps = true;
    findMethod("gptq").quantize(req, diag);
    REQUIRE(diag.steps.size() == 17); // the Hessian, then 16 blocks of 128 columns
    std::size_t bytes = 0;
    int kept = 0;
    for (const MethodStep& s : diag.steps) {
        bytes += std::size_t(s.snapshot.size()) * sizeof(float);
        kept += s.snapshot.size() ? 1 : 0;
        if (!s.objectiveName.empty())
            REQUIRE(std::isfinite(s.objective));
    }
    REQUIRE(kept == 8);
    REQUIRE(bytes <= kStepSnapshotBudget);
    REQUIRE(diag.steps.front().snapshot.size() > 0);
    REQUIRE(diag.steps.back().snapshot.size() == 0);
}

namespace {

CalibrationSet demoCalibration()
{
    static const auto model = makeDemoModel();
    CalibrationSource src;
    src.text = demoText();
    CalibrationOptions o;
    o.samples = 6;
    o.seqLen = 48;
    return buildCalibration(*model->tokenizer, {src}, o);
}

struct Recorder final : EventSink {
    std::vector<LayerResult> layers;
    void progress(const ProgressEvent&) override {}
    void layerDone(const LayerResult& r) override { layers.push_back(r); }
    void log(LogLevel, std::string_view) override {}
};

} // namespace

TEST_CASE("collectLayerStatistics gives the pipeline's statistics of a tensor", "[quant][steps][pipeline]")
{
    // A gptq run: its result depends on Ĥ to the last bit, and the analysis metrics on Ĥ, H_fp and C.
    QuantizeJobRequest req;
    req.model = makeDemoModel();
    req.modelPath = ":demo";
    req.recipe = builtinRecipe("gptq");
    req.recipe.samples = 6;
    req.recipe.seqLen = 48;
    req.calibration = demoCalibration();
    req.threads = 2;
    Recorder rec;
    CancelToken cancel;
    const QuantizeJobResult run = runQuantization(req, rec, cancel);
    REQUIRE(run.job.status == JobStatus::Completed);
    const Resolution resolution = resolveRecipe(req.recipe, *req.model);

    // Block 0 reads the full-precision embedding: no prefix needed. Block 2 reads the run's quantized blocks.
    const std::vector<std::pair<std::string, const QuantizedModel*>> cases{
        {"blk.0.attn_q.weight", nullptr},
        {"blk.2.ffn_down.weight", run.model.get()},
        {"blk.1.attn_output.weight", run.model.get()}};
    for (const auto& [tensor, prefix] : cases) {
        INFO(tensor);
        std::vector<std::pair<int, int>> progress;
        const auto onProgress = [&](int done, int total) { progress.emplace_back(done, total); };
        const LayerGrams grams =
            collectLayerStatistics(*req.model, *req.calibration, tensor, prefix, cancel, onProgress, 1);
        REQUIRE(grams.tokens == 6 * 48);
        REQUIRE(!progress.empty());
        REQUIRE(progress.back().first == progress.back().second);

        const ResolvedTensor* rt = resolution.find(tensor);
        REQUIRE(rt);
        const MatrixXfR W = Eigen::Map<const MatrixXfR>(req.model->tensor(tensor).toFloat().data(), rt->rows, rt->cols);
        QuantizeRequest q;
        q.weight = &W;
        q.stats = grams.statistics();
        q.options = rt->options;
        q.tensor = tensor;
        MethodDiagnostics diag;
        const QuantizedLinear mine = rt->methodInfo->quantize(q, diag);
        REQUIRE(sameBytes(mine.dequantize(), run.model->layers.at(tensor).dequantize()));

        AnalysisOptions options;
        options.percdamp = req.recipe.damping;
        LayerResult analysed;
        packLayerResult(analyzeLayer(W, mine.dequantize(), q.stats, &diag, options), analysed);
        const LayerResult* pipeline = nullptr;
        for (const LayerResult& r : rec.layers)
            if (r.tensor == tensor) pipeline = &r;
        REQUIRE(pipeline);
        REQUIRE(analysed.metrics.count("output.cumulative_rel_error") == 1);
        for (const auto& [key, value] : analysed.metrics) {
            INFO(key);
            REQUIRE(pipeline->metrics.count(key) == 1);
            const double theirs = pipeline->metrics.at(key);
            REQUIRE(((std::isnan(value) && std::isnan(theirs)) || value == theirs));
        }
    }

    // Without a prefix on a later block, the quantized stream is the full-precision one.
    const LayerGrams fp = collectLayerStatistics(*req.model, *req.calibration, "blk.1.attn_q.weight", nullptr, cancel);
    REQUIRE((fp.gram.array() == fp.gramFp.array()).all());
    REQUIRE((fp.gram - fp.crossGram).cwiseAbs().maxCoeff() <= 1e-4 * fp.gram.cwiseAbs().maxCoeff());
    const LayerGrams head =
        collectLayerStatistics(*req.model, *req.calibration, "output.weight", run.model.get(), cancel);
    REQUIRE(head.gram.rows() == req.model->config.dim);
    REQUIRE_THROWS_AS(collectLayerStatistics(*req.model, *req.calibration, "token_embd.weight", nullptr, cancel),
                      std::invalid_argument);
    CancelToken stop;
    stop.request();
    REQUIRE_THROWS_AS(collectLayerStatistics(*req.model, *req.calibration, "blk.3.ffn_up.weight", nullptr, stop),
                      Cancelled);
}
