// End-to-end tests of bitstudio-cli against the independent references in ../shared (llama2.c run.c goldens,
// the llama2.c perplexity figure, the MANIFEST token counts).
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using bqtest::runCli;
using bqtest::sharedPath;

namespace {

std::string s260k() { return sharedPath("models/stories260K/stories260K.bin").string(); }
std::string tok512() { return sharedPath("models/stories260K/tok512.bin").string(); }
std::string golden() { return bqtest::readFile(sharedPath("models/stories260K/reference_greedy_once_upon_a_time_n256.txt")); }

bqtest::ProcessResult greedy(const std::string& model, bool withTokenizer = true)
{
    std::vector<std::string> args{"generate", model, "--temp", "0", "-n", "256", "--prompt", "Once upon a time"};
    if (withTokenizer) {
        args.push_back("--tokenizer");
        args.push_back(tok512());
    }
    return runCli(args);
}

} // namespace

TEST_CASE("generate reproduces llama2.c run.c greedy output for the v0 and v1 layouts", "[cli][golden]")
{
    if (!bqtest::haveShared("generation golden"))
        return;
    const std::string expected = golden();
    auto v0 = greedy(s260k());
    INFO(v0.err);
    REQUIRE(v0.exitCode == 0);
    CHECK(v0.out == expected);
    auto v1 = greedy(sharedPath("models/stories260K/variants/checkpoint_v1.bin").string());
    INFO(v1.err);
    REQUIRE(v1.exitCode == 0);
    CHECK(v1.out == expected);
}

TEST_CASE("the int8 v2 layout matches the golden's first sentence", "[cli][golden]")
{
    if (!bqtest::haveShared("v2 golden"))
        return;
    const std::string expected = golden();
    const std::string firstSentence = expected.substr(0, expected.find('.') + 1);
    REQUIRE(firstSentence == "Once upon a time, there was a little girl named Lily.");
    auto v2 = greedy(sharedPath("models/stories260K/variants/stories260K-q8.bin").string());
    INFO(v2.err);
    REQUIRE(v2.exitCode == 0);
    CHECK(v2.out.substr(0, firstSentence.size()) == firstSentence);
}

TEST_CASE("after conversion to Hugging Face and to GGUF the golden still holds", "[cli][golden]")
{
    if (!bqtest::haveShared("converted goldens"))
        return;
    bqtest::TempDir dir;
    const std::string expected = golden();
    const std::string hf = (dir / "hf").string(), gguf = (dir / "model.gguf").string();
    auto c1 = runCli({"convert", s260k(), hf, "--to", "hf", "--tokenizer", tok512()});
    INFO(c1.err);
    REQUIRE(c1.exitCode == 0);
    auto c2 = runCli({"convert", s260k(), gguf, "--to", "gguf", "--tokenizer", tok512()});
    INFO(c2.err);
    REQUIRE(c2.exitCode == 0);
    auto fromHf = greedy(hf, false);
    INFO(fromHf.err);
    REQUIRE(fromHf.exitCode == 0);
    CHECK(fromHf.out == expected);
    auto fromGguf = greedy(gguf, false);
    INFO(fromGguf.err);
    REQUIRE(fromGguf.exitCode == 0);
    CHECK(fromGguf.out == expected);
    // GGUF -> HF -> GGUF keeps the function too.
    const std::string hf2 = (dir / "hf2").string();
    REQUIRE(runCli({"convert", gguf, hf2, "--to", "hf"}).exitCode == 0);
    auto again = greedy(hf2, false);
    CHECK(again.out == expected);
}

TEST_CASE("perplexity golden: stories260K, docs 0:200 of TinyStories is 4.2157", "[cli][golden]")
{
    if (!bqtest::haveShared("perplexity golden"))
        return;
    auto r = runCli({"ppl", s260k(), "--tokenizer", tok512(), "--text",
                     sharedPath("data/tinystories/tinystories_val.txt").string(), "--mode", "docs", "--docs", "0:200",
                     "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["ppl"].get<double>() == Approx(4.2157).margin(0.001));
    CHECK(j["tokens"].get<long long>() == 19380);
    CHECK(j["nll"].get<double>() == Approx(1.43881).margin(0.0002));
}

TEST_CASE("compare: int8 v2 is close to fp32, and a model against itself gives zero KL", "[cli]")
{
    if (!bqtest::haveShared("compare"))
        return;
    auto r = runCli({"compare", s260k(), sharedPath("models/stories260K/variants/stories260K-q8.bin").string(),
                     "--tokenizer", tok512(), "--text", sharedPath("data/tinystories/tinystories_val.txt").string(),
                     "--mode", "docs", "--docs", "0:20", "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto j = nlohmann::json::parse(r.out);
    // v2 is int8 group-8: close to, but not the same as, fp32.
    CHECK(j["kl"].get<double>() > 0.0);
    CHECK(j["kl"].get<double>() < 0.05);
    CHECK(j["top1_agreement"].get<double>() > 0.9);
    auto self = runCli({"compare", s260k(), s260k(), "--tokenizer", tok512(), "--text",
                        sharedPath("data/tinystories/tinystories_val.txt").string(), "--mode", "docs", "--docs",
                        "0:5", "--json"});
    REQUIRE(self.exitCode == 0);
    const auto js = nlohmann::json::parse(self.out);
    CHECK(js["kl"].get<double>() == Approx(0.0).margin(1e-9));
    CHECK(js["top1_agreement"].get<double>() == 1.0);
}

TEST_CASE("tokenize reproduces the MANIFEST counts and --lines gives one array per line", "[cli]")
{
    if (!bqtest::haveShared("tokenize"))
        return;
    auto r = runCli({"tokenize", "--tokenizer", sharedPath("tokenizers/llama2/tokenizer.model").string(), "--text",
                     sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt").string(), "--count"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(r.out == "341468\n");
    bqtest::TempDir dir;
    const auto text = dir / "t.txt";
    {
        std::ofstream f(text);
        f << "Once upon a time\nthere was\n";
    }
    auto lines = runCli({"tokenize", s260k(), "--tokenizer", tok512(), "--text", text.string(), "--lines"});
    REQUIRE(lines.exitCode == 0);
    const auto j = nlohmann::json::parse(lines.out);
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 2);
    CHECK(j[0].size() >= 3);
    CHECK(j[0][0].get<int>() != 1); // no BOS unless --bos
}

TEST_CASE("every command has --help and bad input fails with a message naming the file", "[cli]")
{
    for (const char* cmd : {"info", "generate", "tokenize", "ppl", "compare", "convert", "bench"}) {
        auto r = runCli({cmd, "--help"});
        INFO(cmd);
        CHECK(r.exitCode == 0);
        CHECK(r.out.find("Usage") != std::string::npos);
    }
    bqtest::TempDir dir;
    const auto bogus = dir / "bogus.bin";
    {
        std::ofstream f(bogus, std::ios::binary);
        f << "not a model at all";
    }
    auto r = runCli({"info", bogus.string()});
    CHECK(r.exitCode != 0);
    CHECK(r.err.find(bogus.string()) != std::string::npos);
    auto missing = runCli({"ppl", (dir / "nope.gguf").string(), "--text", "x.txt"});
    CHECK(missing.exitCode != 0);
    CHECK(missing.err.find("nope.gguf") != std::string::npos);
    auto badDocs = runCli({"ppl", ":demo", "--text", bogus.string(), "--mode", "docs", "--docs", "5:2"});
    CHECK(badDocs.exitCode != 0);
    CHECK(badDocs.err.find("--docs") != std::string::npos);
}

TEST_CASE("the demo model works without ../shared", "[cli]")
{
    auto info = runCli({"info", ":demo", "--json"});
    INFO(info.err);
    REQUIRE(info.exitCode == 0);
    const auto j = nlohmann::json::parse(info.out);
    CHECK(j["architecture"] == "llama");
    CHECK(j["dim"].get<int>() % 128 == 0);
    auto gen = runCli({"generate", ":demo", "--prompt", "Once upon a time", "-n", "40", "--temp", "0"});
    INFO(gen.err);
    REQUIRE(gen.exitCode == 0);
    CHECK(gen.out.rfind("Once upon a time", 0) == 0);
    CHECK(gen.out.size() > std::string("Once upon a time").size() + 10);
}

TEST_CASE("bench times fp32, q1_0 and bitstudio layers of one synthetic model in one run", "[cli][bench]")
{
    const auto r = runCli({"bench", "--synthetic", "ts5m", "--threads", "1", "--backends", "fp32,q1_0,bitstudio",
                           "--repeats", "1", "--prompt-tokens", "16", "--decode-tokens", "4", "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j["rows"].size() == 3);
    const auto& fp32 = j["rows"][0];
    const auto& q1 = j["rows"][1];
    const auto& bits = j["rows"][2];
    for (const auto& row : j["rows"]) {
        CHECK(row["prefill_tok_s"].get<double>() > 0);
        CHECK(row["decode_tok_s"].get<double>() > 0);
    }
    CHECK(q1["backend"] == "q1_0");
    CHECK(bits["note"].get<std::string>().find("bitstudio layout") != std::string::npos);
    // Bytes read per token: Q1_0 is 1.125 bits per weight, the bitstudio sign layers 1 bit + an fp16 per row;
    // both against 32 bits (embedding rows and norms are shared, so the ratio sits a little above 1/32).
    const double f = fp32["weight_bytes_per_token"].get<double>();
    CHECK(q1["weight_bytes_per_token"].get<double>() < f / 20);
    CHECK(bits["weight_bytes_per_token"].get<double>() < f / 20);
    CHECK(j["bandwidth_gbs"].get<double>() > 0.5);
}
