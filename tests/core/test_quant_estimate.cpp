// The peak-memory estimate (recipe.h estimateRun) against the sizes it claims to count: each method's result as
// held in memory (QuantizedLinear::residentBytes), the results of a whole run, and the buffers of the parts.
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include <catch2/catch.hpp>
#include <random>

using namespace bq;
using namespace bq::quant;

namespace {

CalibrationSet randomTokens(int vocab, int samples, int seqLen)
{
    CalibrationSet set;
    set.samples = samples;
    set.seqLen = seqLen;
    std::mt19937_64 rng(7);
    set.tokens.resize(std::size_t(samples) * std::size_t(seqLen));
    for (std::int32_t& t : set.tokens)
        t = std::int32_t(uniformBelow(rng, std::uint64_t(vocab)));
    set.windowStarts.assign(std::size_t(samples), 0);
    set.windowDocs.assign(std::size_t(samples), -1);
    set.description = "random ids";
    set.sampling = {{"sampling", "random-ids"}};
    return set;
}

} // namespace

TEST_CASE("estimate: resident bytes per weight equal each method's result in memory", "[quant][recipe][estimate]")
{
    const Eigen::Index n = 96, m = 256, tokens = 600;
    std::mt19937_64 rng(3);
    std::normal_distribution<float> g(0.0f, 1.0f);
    MatrixXfR w(n, m), x(tokens, m);
    for (Eigen::Index k = 0; k < w.size(); ++k)
        w.data()[k] = g(rng);
    for (Eigen::Index k = 0; k < x.size(); ++k)
        x.data()[k] = g(rng);
    const Eigen::MatrixXd h = (x.transpose() * x).cast<double>();
    const std::vector<std::pair<std::string, nlohmann::json>> cases = {
        {"sign", {}},        {"rtn1", {}},     {"ternary", {}},  {"residual", {}},      {"residual", {{"k", 3}}},
        {"billm", {}},       {"arb", {}},      {"arb-x", {}},    {"arb-rc", {}},        {"arb-rc", {{"cgb", false}}},
        {"svid", {}},        {"output-align", {}}, {"gptq", {}}, {"q1_0", {}}};
    for (const auto& [id, overrides] : cases) {
        INFO(id << " " << overrides.dump());
        const MethodInfo& info = findMethod(id);
        ResolvedTensor t;
        t.tensor = "blk.0.ffn_up.weight";
        t.rows = n;
        t.cols = m;
        t.method = id;
        t.methodInfo = &info;
        t.options = mergeOptions(info, overrides);
        t.needsGram = info.needsGram;
        t.needsTwoStreams = info.needsTwoStreams;
        QuantizeRequest req;
        req.weight = &w;
        req.stats.gram = &h;
        req.stats.gramFp = &h;
        req.stats.crossGram = &h;
        req.stats.tokens = tokens;
        req.options = t.options;
        req.tensor = t.tensor;
        MethodDiagnostics diag;
        const QuantizedLinear q = info.quantize(req, diag);
        const double actual = double(q.residentBytes()) / double(n * m);
        CHECK(residentBytesPerWeight(t) == Approx(actual).epsilon(0.01));
    }
    ResolvedTensor kept;
    kept.keepFp = true;
    kept.rows = n;
    kept.cols = m;
    CHECK(residentBytesPerWeight(kept) == 0.0);
}

TEST_CASE("estimate: memory parts of a run are the buffers they claim to count", "[quant][recipe][estimate]")
{
    const SyntheticShape& shape = syntheticShape("stories260k"); // dim 64, hidden 172, 5 blocks, GQA 8/4
    const int samples = 4, seqLen = 32, threads = 2;
    QuantizeJobRequest req;
    req.model = makeSyntheticModel(shape);
    req.modelPath = ":synthetic";
    req.recipe = builtinRecipe("output-align"); // output-align on ffn_down (re-collected), arb-rc elsewhere
    req.recipe.samples = samples;
    req.recipe.seqLen = seqLen;
    req.calibration = randomTokens(shape.config.vocabSize, samples, seqLen);
    req.threads = threads;
    NullSink sink;
    CancelToken cancel;
    const QuantizeJobResult r = runQuantization(req, sink, cancel);
    REQUIRE(r.job.status == JobStatus::Completed);
    const Estimate& e = r.estimate;
    const ModelConfig& c = shape.config;
    const double d = c.dim, q = c.qDim(), kv = c.kvDim(), hid = c.hiddenDim, T = seqLen;

    // Results: every layer's parameters, kept to the end of the run.
    double resident = 0;
    for (const auto& [name, layer] : r.model->layers)
        resident += double(layer.residentBytes());
    CHECK(e.resultBytes == Approx(resident).epsilon(0.01));

    // Streams: the quantized stream and the FP input and output streams, fp32.
    CHECK(e.streamBytes == 3.0 * samples * T * d * 4.0);
    // Grams: Ĥ, H_fp, C in float64 for the four sites, plus the re-collected Ĥ and C of ffn_down.
    const double squares = d * d + q * q + d * d + hid * hid;
    CHECK(e.gramBytes == 8.0 * (3.0 * squares + 2.0 * hid * hid));
    // Scratch per worker: the block forward's buffers (x̂b, q, k, v, att, hb, hb2), one sequence's site inputs
    // and residual copy, for both streams, and the float32 chunk Grams of one sequence.
    const double forward = 4.0 * T * (std::max(d, q) + q + kv + kv + q + hid + hid);
    const double inputs = 4.0 * T * (d + q + d + hid) + 4.0 * T * d;
    CHECK(e.scratchBytes == Approx(threads * (2.0 * (forward + inputs) + 4.0 * 3.0 * squares)).epsilon(1e-12));
    // Method: the two largest layer jobs of a block run at once; each holds at least the Hessian work (four
    // m × m float64 matrices) and its result.
    const Resolution& res = r.resolution;
    const ResolvedTensor* down = res.find("blk.0.ffn_down.weight");
    const ResolvedTensor* up = res.find("blk.0.ffn_up.weight");
    REQUIRE(down);
    REQUIRE(up);
    CHECK(down->methodInfo == &findMethod("output-align"));
    CHECK(res.find("token_embd.weight")->methodInfo == nullptr); // kept
    CHECK(layerWorkingBytes(*down) >= 4.0 * 8.0 * hid * hid + residentBytesPerWeight(*down) * d * hid);
    CHECK(e.methodBytes == Approx(layerWorkingBytes(*down) + layerWorkingBytes(*up)).epsilon(1e-12));
    CHECK(e.baseBytes == 12.5 * 1048576.0); // no run file in this run
    CHECK(e.peakBytes == Approx(e.modelBytes + e.streamBytes + e.gramBytes + e.scratchBytes + e.methodBytes +
                                e.resultBytes + e.baseBytes)
                             .epsilon(1e-12));
}

TEST_CASE("estimate: a layer's sizes come from its method's hooks", "[quant][recipe][estimate]")
{
    MethodInfo method;
    method.id = "made-up";
    method.residentBytesPerWeight = [](Eigen::Index, Eigen::Index, const nlohmann::json&) { return 2.5; };
    method.workingBytes = [](Eigen::Index, Eigen::Index, const nlohmann::json&) { return 1e12; };
    ResolvedTensor t;
    t.tensor = "blk.0.attn_q.weight";
    t.rows = 10;
    t.cols = 20;
    t.method = method.id;
    t.methodInfo = &method;
    CHECK(residentBytesPerWeight(t) == 2.5);
    // W and Ŵ (float32) and the result, plus the larger of the method's working memory and the analysis
    CHECK(layerWorkingBytes(t) == 4.0 * 200 + 4.0 * 200 + 2.5 * 200 + 1e12);
    t.methodInfo = nullptr;
    CHECK_THROWS_AS(residentBytesPerWeight(t), std::logic_error);
}
