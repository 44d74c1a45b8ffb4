// ts5m (dims 256 / 768: Q1_0 and Q4_0 apply) quantized with --method q1_0 and exported as q1_0, q4_0 and
// bitstudio with the default F16 embeddings; ppl, compare and generate on each file against the run file.
//
// Tolerances: the exports hold the quantized layers exactly, but the embedding table (and the tied head) is
// stored as F16, so even the fp32 back-end differs from the run file by fp16 rounding of the embeddings
// (measured KL ~5e-7); the bitstudio kernels with --backend exact keep fp32 activations (same ~5e-7); the
// Q1_0 / Q4_0 kernels and the default bitstudio ones quantize activations to 8 bits per 32 or 128 values
// (measured KL ~1e-3 / ~2e-3 nats on this text).
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using bqtest::runCli;
using bqtest::sharedPath;
using nlohmann::json;

namespace {

json runJson(const std::vector<std::string>& args)
{
    const auto r = runCli(args);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
}

} // namespace

TEST_CASE("ts5m exported as q1_0, q4_0 and bitstudio: ppl, compare and generate against the run file",
          "[cli][export][slow]")
{
    if (!bqtest::haveShared("ts5m export"))
        return;
    bqtest::TempDir dir;
    const std::string run = (dir / "run.h5").string();
    const std::string tokenizer = sharedPath("models/stories260K/tok512.bin").string();
    const std::string val = sharedPath("data/tinystories/tinystories_val.txt").string();
    // Held-out text: chunks 800 and later were not trained on; a few thousand characters of them.
    const std::string all = bqtest::readFile(val);
    std::size_t start = 0;
    for (int doc = 0; doc < 900 && start != std::string::npos; ++doc)
        start = all.find("\n\n", start + 1);
    REQUIRE(start != std::string::npos);
    const std::string text = (dir / "eval.txt").string();
    {
        std::ofstream f(text, std::ios::binary);
        f << all.substr(start + 2, 6000);
    }
    const auto q = runCli({"quantize", sharedPath("models/ts5m/ts5m.bin").string(), "--tokenizer", tokenizer,
                           "--calib", val, "--calib-docs", "0:40", "--method", "q1_0", "--samples", "4", "--seqlen",
                           "64", "--seed", "5", "--run", run, "--threads", "2"});
    INFO(q.err);
    REQUIRE(q.exitCode == 0);

    const std::vector<std::string> eval{"--text", text, "--ctx", "128", "--json", "--threads", "2"};
    auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    const json runPpl = runJson(with({"ppl", run}, eval));
    const auto runGen = runCli({"generate", run, "--temp", "0", "-n", "40", "--prompt", "Once upon a time"});
    REQUIRE(runGen.exitCode == 0);

    for (const char* format : {"q1_0", "q4_0", "bitstudio"}) {
        INFO("format " << format);
        const std::string gguf = (dir / (std::string(format) + ".gguf")).string();
        const auto e = runCli({"export", run, "--out", gguf, "--format", format});
        INFO(e.err);
        REQUIRE(e.exitCode == 0);
        const bool bitstudio = std::string(format) == "bitstudio";

        const json fp32 = runJson(with({"compare", run, gguf, "--backend", "fp32"}, eval));
        const json packed = runJson(with({"compare", run, gguf}, eval));
        const json ppl = runJson(with({"ppl", gguf}, eval));
        WARN(format << ": KL(run || exported) packed " << packed["kl"].get<double>() << " (top-1 "
                    << packed["top1_agreement"].get<double>() << "), fp32 back-end " << fp32["kl"].get<double>()
                    << "; ppl " << ppl["ppl"].get<double>() << " vs run " << runPpl["ppl"].get<double>() << " over "
                    << ppl["tokens"].get<long long>() << " tokens");
        CHECK(fp32["kl"].get<double>() < 1e-5); // fp16 embeddings only
        CHECK(fp32["top1_agreement"].get<double>() > 0.99);
        CHECK(packed["kl"].get<double>() < 1e-2);
        CHECK(packed["kl"].get<double>() > 1e-7); // int8 activations: not the run's fp32 arithmetic
        CHECK(packed["top1_agreement"].get<double>() > 0.9);
        CHECK(ppl["ppl"].get<double>() == Approx(packed["b"]["ppl"].get<double>()).epsilon(1e-12));
        CHECK(ppl["ppl"].get<double>() == Approx(runPpl["ppl"].get<double>()).epsilon(2e-2));
        if (bitstudio) { // the exact form: the run's numbers up to the fp16 embeddings
            const json exact = runJson(with({"compare", run, gguf, "--backend", "exact"}, eval));
            CHECK(exact["kl"].get<double>() < 1e-5);
            CHECK(exact["top1_agreement"].get<double>() > 0.99);
            CHECK(exact["b"]["ppl"].get<double>() == Approx(runPpl["ppl"].get<double>()).epsilon(1e-4));
        }

        const auto g = runCli({"generate", gguf, "--temp", "0", "-n", "40", "--prompt", "Once upon a time"});
        INFO(g.err);
        REQUIRE(g.exitCode == 0);
        CHECK(g.out.rfind("Once upon a time", 0) == 0);
        CHECK(g.out.size() > runGen.out.size() / 2);
        CHECK(g.err.find("; fp32, ") == std::string::npos);
    }
}
