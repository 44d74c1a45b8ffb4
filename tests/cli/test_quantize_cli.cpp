// bitstudio-cli quantize / recipe end to end on the built-in demo model, and the other commands opening the
// run file and the --out directory as MODEL.
#include "bq/demo/demo_model.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using bqtest::runCli;
using nlohmann::json;

namespace {

std::vector<json> jsonLines(const std::string& out)
{
    std::vector<json> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty())
            lines.push_back(json::parse(line)); // throws (fails the test) on a non-JSON line
    return lines;
}

void writeText(const std::filesystem::path& p, const std::string& text)
{
    std::ofstream f(p, std::ios::binary);
    f << text;
}

} // namespace

TEST_CASE("recipe prints the resolution and the estimate", "[cli][quant]")
{
    auto r = runCli({"recipe", ":demo", "--method", "q1_0", "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const json j = json::parse(r.out);
    REQUIRE(j["tensors"].size() == 30);
    REQUIRE(j["tensors"][0]["tensor"] == "token_embd.weight");
    REQUIRE(j["tensors"][0]["decided_by"] == "keep_fp");
    REQUIRE(j["tensors"][1]["method"] == "q1_0");
    REQUIRE(j["estimate"]["bits_per_weight_quantized"].get<double>() == Approx(1.125));

    auto text = runCli({"recipe", ":demo", "--method", "output-align"});
    REQUIRE(text.exitCode == 0);
    REQUIRE_THAT(text.out, Catch::Contains("rule 1: blk.*.ffn_down.weight"));
    REQUIRE_THAT(text.out, Catch::Contains("peak memory"));

    bqtest::TempDir dir;
    writeText(dir / "bad.json", R"({"version": 1, "rules": [{"match": "blk.*", "method": "xnor"}]})");
    auto bad = runCli({"recipe", ":demo", "--recipe", (dir / "bad.json").string()});
    REQUIRE(bad.exitCode == 1);
    REQUIRE_THAT(bad.err, Catch::Contains("rule 1: method: unknown quantization method 'xnor'"));
    auto both = runCli({"recipe", ":demo"});
    REQUIRE(both.exitCode == 1);
    REQUIRE_THAT(both.err, Catch::Contains("--recipe FILE or --method M"));
}

TEST_CASE("quantize writes a run file and an HF directory that ppl, info and compare open", "[cli][quant]")
{
    bqtest::TempDir dir;
    const auto calib = dir / "calib.txt";
    writeText(calib, bq::demoText());
    const std::string run = (dir / "run.h5").string(), out = (dir / "out").string();
    writeText(dir / "recipe.json", R"({"version": 1, "defaults": {"method": "sign", "samples": 4, "seqlen": 32},
                                      "rules": [{"match": "blk.1.*", "keep_fp": true}]})");
    auto q = runCli({"quantize", ":demo", "--calib", calib.string(), "--recipe", (dir / "recipe.json").string(),
                     "--seed", "7", "--run", run, "--out", out, "--json", "--threads", "2"});
    INFO(q.err);
    REQUIRE(q.exitCode == 0);
    const auto events = jsonLines(q.out);
    int layers = 0, kept = 0;
    std::vector<int> blocks; // block events, after each block's last layer, never for the all-FP block 1
    int lastLayerBlock = -1;
    for (const json& e : events) {
        if (e["event"] == "layer") {
            ++layers;
            lastLayerBlock = e["block"].get<int>();
            if (e["method"] == "fp")
                ++kept;
            REQUIRE_FALSE(e["metrics"].contains("residual.rel_mse"));
        }
        if (e["event"] == "block") {
            REQUIRE(e["block"] == lastLayerBlock);
            REQUIRE(e["metrics"]["residual.rel_mse"].get<double>() > 0);
            REQUIRE(e["metrics"].contains("residual.mean_cosine"));
            REQUIRE(e["metrics"].contains("token_sim.normalized_mean"));
            REQUIRE(e["seconds"].get<double>() >= 0);
            blocks.push_back(e["block"].get<int>());
        }
    }
    REQUIRE(layers == 28);
    REQUIRE(kept == 7);
    REQUIRE(blocks == std::vector<int>{0, 2, 3});
    const json& result = events.back();
    REQUIRE(result["event"] == "result");
    REQUIRE(result["status"] == "completed");
    REQUIRE(result["quantized_tensors"] == 21);
    REQUIRE_THAT(result["calibration"].get<std::string>(), Catch::Contains("4 × 32 tokens"));
    REQUIRE_THAT(result["calibration"].get<std::string>(), Catch::Contains("seed 7"));
    REQUIRE(std::filesystem::exists(std::filesystem::path(out) / "config.json"));
    REQUIRE(std::filesystem::exists(std::filesystem::path(out) / "bitstudio_run.json"));

    // The run file and the HF directory are the same fake-quantized model (the HF copy stores q/k rows in
    // rotate-half order, so RoPE rounds differently: equal to ~1e-7); it differs from the FP model.
    auto ppl = [&](const std::string& model) {
        auto r = runCli({"ppl", model, "--text", calib.string(), "--mode", "docs", "--docs", "0:20", "--json"});
        INFO(r.err);
        REQUIRE(r.exitCode == 0);
        return json::parse(r.out)["ppl"].get<double>();
    };
    const double fromRun = ppl(run), fromDir = ppl(out), fp = ppl(":demo");
    REQUIRE(fromRun == Approx(fromDir).epsilon(1e-6));
    REQUIRE(fromRun != fp);
    auto info = runCli({"info", run});
    INFO(info.err);
    REQUIRE(info.exitCode == 0);
    auto cmp = runCli({"compare", ":demo", run, "--text", calib.string(), "--mode", "docs", "--docs", "0:5", "--json"});
    INFO(cmp.err);
    REQUIRE(cmp.exitCode == 0);

    // Resuming a completed run replays every block and ends with the same model.
    auto again = runCli({"quantize", ":demo", "--calib", calib.string(), "--recipe", (dir / "recipe.json").string(),
                         "--seed", "7", "--run", run, "--resume", "--json"});
    INFO(again.err);
    REQUIRE(again.exitCode == 0);
    const auto replayed = jsonLines(again.out);
    REQUIRE(replayed.back()["resumed_blocks"] == 4);
    // The replayed blocks send their stored metrics again.
    auto blockMetrics = [](const std::vector<json>& lines) {
        std::vector<json> metrics;
        for (const json& e : lines)
            if (e["event"] == "block")
                metrics.push_back(e["metrics"]);
        return metrics;
    };
    REQUIRE(blockMetrics(replayed) == blockMetrics(events));
    REQUIRE(ppl(run) == fromRun);
    // Another seed does not match the run file's calibration fingerprint.
    auto mismatch = runCli({"quantize", ":demo", "--calib", calib.string(), "--recipe", (dir / "recipe.json").string(),
                            "--seed", "8", "--run", run, "--resume"});
    REQUIRE(mismatch.exitCode == 1);
    REQUIRE_THAT(mismatch.err, Catch::Contains("calibration fingerprint differs"));
}

TEST_CASE("quantize without calibration text is refused", "[cli][quant]")
{
    bqtest::TempDir dir;
    auto r = runCli({"quantize", ":demo", "--method", "sign", "--run", (dir / "r.h5").string()});
    REQUIRE(r.exitCode == 1);
    REQUIRE_THAT(r.err, Catch::Contains("--calib FILE"));
}
