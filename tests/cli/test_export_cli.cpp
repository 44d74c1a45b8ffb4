// Exported GGUF files of all three formats run in ppl, compare and generate: the demo model (dims 128 and 384,
// so Q1_0 and Q4_0 apply) quantized with --method q1_0, exported as q1_0, q4_0 and bitstudio with f32
// embeddings, then compared against its own run file (the fake-quantized fp32 reference).
//
// Expected figures: every export holds the run's weights exactly, so
//   --backend fp32 (weights dequantized, same fp32 transformer)      KL = 0 and identical perplexity, bit for bit;
//   bitstudio on --backend exact (fp32 activations, exact weights)  KL < 1e-9 (float summation order only);
//   q1_0 / q4_0 / bitstudio on the packed runtime                    KL < 1e-4: their kernels quantize activations
//     to 8 bits per 32- or 128-block (relative error ~ 1/254 per block); measured ~1e-6 on this text.
#include "bq/demo/demo_model.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using bqtest::runCli;
using nlohmann::json;

namespace {

void writeText(const std::filesystem::path& p, const std::string& text)
{
    std::ofstream f(p, std::ios::binary);
    f << text;
}

json runJson(const std::vector<std::string>& args)
{
    const auto r = runCli(args);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
}

std::string generated(const std::vector<std::string>& args)
{
    const auto r = runCli(args);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return r.out;
}

} // namespace

TEST_CASE("exported q1_0, q4_0 and bitstudio files run in ppl, compare and generate like their run file",
          "[cli][export]")
{
    bqtest::TempDir dir;
    const std::string calib = (dir / "calib.txt").string(), run = (dir / "run.h5").string();
    writeText(calib, bq::demoText());
    // The evaluation text: the demo's own text, a few thousand characters of it.
    const std::string text = (dir / "eval.txt").string();
    writeText(text, bq::demoText().substr(0, 3000));
    const auto q = runCli({"quantize", ":demo", "--calib", calib, "--method", "q1_0", "--samples", "4", "--seqlen",
                           "32", "--seed", "3", "--run", run, "--threads", "2"});
    INFO(q.err);
    REQUIRE(q.exitCode == 0);

    const std::vector<std::string> eval{"--text", text, "--ctx", "64", "--json", "--threads", "2"};
    auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    const json runPpl = runJson(with({"ppl", run}, eval));
    const std::vector<std::string> greedy{"--temp", "0", "-n", "30", "--prompt", "Once upon a time", "--threads", "2"};
    const std::string runText = generated(with({"generate", run}, greedy));
    REQUIRE(runText.rfind("Once upon a time", 0) == 0);
    REQUIRE(runText.size() > std::string("Once upon a time\n").size());

    for (const char* format : {"q1_0", "q4_0", "bitstudio"}) {
        INFO("format " << format);
        {
            const std::string gguf = (dir / (std::string(format) + ".gguf")).string();
            const auto e = runCli({"export", run, "--out", gguf, "--format", format, "--embeddings", "f32"});
            INFO(e.err);
            REQUIRE(e.exitCode == 0);

            // The reference runtime on the dequantized file: the same model bit for bit.
            const json exact = runJson(with({"compare", run, gguf, "--backend", "fp32"}, eval));
            CHECK(exact["kl"].get<double>() == 0.0);
            CHECK(exact["top1_agreement"].get<double>() == 1.0);
            CHECK(exact["b"]["ppl"].get<double>() == runPpl["ppl"].get<double>());
            CHECK(exact["tokens"].get<long long>() == runPpl["tokens"].get<long long>());
            CHECK(generated(with({"generate", gguf, "--backend", "fp32"}, greedy)) == runText);

            // The default back-end: the packed runtime.
            const json packed = runJson(with({"compare", run, gguf}, eval));
            const json ppl = runJson(with({"ppl", gguf}, eval));
            INFO(format << ": KL " << packed["kl"].get<double>() << ", ppl " << ppl["ppl"].get<double>() << " vs "
                        << runPpl["ppl"].get<double>());
            CHECK(ppl["ppl"].get<double>() == Approx(packed["b"]["ppl"].get<double>()).epsilon(1e-12));
            CHECK(packed["kl"].get<double>() < 1e-4);
            CHECK(packed["kl"].get<double>() > 0.0); // int8 activations: not the fp32 reference in disguise
            CHECK(ppl["ppl"].get<double>() == Approx(runPpl["ppl"].get<double>()).epsilon(1e-3));
            CHECK(packed["top1_agreement"].get<double>() > 0.99);
            const auto g = runCli(with({"generate", gguf}, greedy));
            INFO(g.err);
            REQUIRE(g.exitCode == 0);
            CHECK(g.err.find("fp32, 2 threads") == std::string::npos); // not the reference runtime
            CHECK(g.out.rfind("Once upon a time", 0) == 0);
            if (std::string(format) == "bitstudio") { // the exact form: the run's numbers up to summation order
                const json fp32Act = runJson(with({"compare", run, gguf, "--backend", "exact"}, eval));
                CHECK(fp32Act["kl"].get<double>() < 1e-9);
                CHECK(fp32Act["b"]["ppl"].get<double>() == Approx(runPpl["ppl"].get<double>()).epsilon(1e-7));
                CHECK(generated(with({"generate", gguf, "--backend", "exact"}, greedy)) == runText);
            }
        }
    }
}

TEST_CASE("a run file on --backend packed runs the bitstudio kernels: the same text as its bitstudio export",
          "[cli][export]")
{
    bqtest::TempDir dir;
    const std::string calib = (dir / "calib.txt").string(), run = (dir / "run.h5").string();
    writeText(calib, bq::demoText());
    // Two sign planes per row (residual) on every layer: a layout only the bitstudio format holds exactly.
    const auto q = runCli({"quantize", ":demo", "--calib", calib, "--method", "residual", "--samples", "4",
                           "--seqlen", "32", "--run", run, "--threads", "2"});
    INFO(q.err);
    REQUIRE(q.exitCode == 0);
    const std::string gguf = (dir / "bs.gguf").string();
    REQUIRE(runCli({"export", run, "--out", gguf, "--format", "bitstudio"}).exitCode == 0);
    const std::vector<std::string> greedy{"generate", "--temp", "0", "-n", "30", "--prompt", "The dog"};
    auto gen = [&](const std::string& model, const std::string& backend) {
        std::vector<std::string> a = greedy;
        a.insert(a.begin() + 1, model);
        a.insert(a.end(), {"--backend", backend});
        const auto r = runCli(a);
        INFO(r.err);
        REQUIRE(r.exitCode == 0);
        return r;
    };
    const auto packedRun = gen(run, "packed"), packedFile = gen(gguf, "auto"), reference = gen(run, "auto");
    const auto exactRun = gen(run, "exact"), exactFile = gen(gguf, "exact");
    CHECK(packedRun.out == packedFile.out); // int8 activations, the same layers
    CHECK(exactRun.out == exactFile.out);
    CHECK(exactRun.out == reference.out); // fp32 activations: the fake-quantized reference's text
    CHECK(packedRun.out.rfind("The dog", 0) == 0);
    CHECK(packedRun.err.find("fp32, ") == std::string::npos);
    CHECK(reference.err.find("fp32, ") != std::string::npos);
    // Q1_0 cannot hold two sign planes: the q1_0 export is refused, naming a tensor.
    const auto refused = runCli({"export", run, "--out", (dir / "q.gguf").string(), "--format", "q1_0"});
    CHECK(refused.exitCode != 0);
    CHECK(refused.err.find("blk.") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "q.gguf"));
    // An unknown back-end is refused by the option parser.
    const auto bad = runCli({"generate", run, "--prompt", "x", "--backend", "gpu"});
    CHECK(bad.exitCode != 0);
    CHECK(bad.err.find("--backend") != std::string::npos);
}
