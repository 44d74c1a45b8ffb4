// The CLI on a real model, SmolLM2-135M-Instruct (Q4_1 GGUF from packaging/fetch-models.sh): info, greedy generate
// against llama.cpp's ids, chat with the model's own template, perplexity on a WikiText-2 slice against
// llama.cpp's logits. Skips without the model (fails in CI: bqtest::haveSmolLM2).
//
// The golden figures come from llama.cpp (packaging/peer_reference.sh: llama.cpp built from node-llama-cpp 3.22.1's
// source tree, run through packaging/peer_reference/llama_logits.cpp on the model's weights dequantized to F32 by
// llama-quantize), not from bitstudio.
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using bqtest::runCli;

namespace {

std::string model() { return bqtest::smollm2Path().string(); }

} // namespace

TEST_CASE("info on SmolLM2-135M-Instruct shows the architecture, dimensions and tokenizer", "[cli][smollm2]")
{
    if (!bqtest::haveSmolLM2("info on SmolLM2"))
        return;
    const auto r = runCli({"info", model()});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK_THAT(r.out, Catch::Contains("architecture: llama"));
    CHECK_THAT(r.out, Catch::Contains("dim 576, hidden 1536, layers 30, heads 9/3 (head dim 64)"));
    CHECK_THAT(r.out, Catch::Contains("vocab:        49152"));
    CHECK_THAT(r.out, Catch::Contains("theta 100000"));
    CHECK_THAT(r.out, Catch::Contains("tied embeddings: yes"));
    CHECK_THAT(r.out, Catch::Contains("tokenizer:    bpe-byte-level, 49152 tokens, bos 1, eos 2"));
    CHECK_THAT(r.out, Catch::Contains("tokenizer.ggml.pre = smollm"));
    CHECK_THAT(r.out, Catch::Contains("chat:         template chatml, default system prompt \"You are a helpful AI "
                                      "assistant named SmolLM, trained by Hugging Face\""));
}

TEST_CASE("greedy generate on SmolLM2 equals llama.cpp's 32 tokens", "[cli][smollm2]")
{
    if (!bqtest::haveSmolLM2("generate on SmolLM2"))
        return;
    bqtest::TempDir dir;
    const auto r = runCli({"generate", model(), "--prompt", "The capital of France is", "--temp", "0", "-n", "37",
                           "--threads", "2", "--backend", "fp32", "--ids", (dir / "ids.json").string()});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto ids = nlohmann::json::parse(bqtest::readFile(dir / "ids.json"));
    // llama.cpp: the prompt as its tokenizer encodes it (no BOS: add_bos_token is false) and its greedy tokens.
    CHECK(ids["prompt"] == nlohmann::json({504, 3575, 282, 4649, 314}));
    // llama.cpp's 30th token is 2 (<|im_end|>, the EOS), where generate stops.
    const std::vector<int> golden{7042, 30, 198, 198, 504, 2988, 314, 42, 216, 34, 32, 33, 40, 29, 32,
                                  33,   29, 34,  34,  216, 33,  34,  42,  33, 34,  42, 37, 35, 30};
    CHECK(ids["generated"] == nlohmann::json(golden));
    CHECK(r.out.rfind("The capital of France is Paris.\n\nThe answer is:", 0) == 0);
}

TEST_CASE("chat on SmolLM2 uses its template with the default system prompt and answers", "[cli][smollm2]")
{
    if (!bqtest::haveSmolLM2("chat on SmolLM2"))
        return;
    const auto r = runCli({"chat", model(), "--temp", "0", "-n", "40", "--threads", "2", "--backend", "fp32"},
                          "What is the capital of France?\n");
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK_THAT(r.err, Catch::Contains("template chatml (with the model's default system prompt)"));
    // 37 prompt tokens: the default system turn, the user turn and the generation prompt; the reply ends at <|im_end|>.
    // llama.cpp (F32 weights) gives the same 7 tokens, then <|im_end|>.
    CHECK_THAT(r.err, Catch::Contains("prompt: 37 tokens"));
    CHECK(r.out == "The capital of France is Paris.\n");
}

TEST_CASE("perplexity of SmolLM2 on a WikiText-2 slice equals the value from llama.cpp's logits", "[cli][smollm2]")
{
    if (!bqtest::haveSmolLM2("ppl on SmolLM2") || !bqtest::haveShared("WikiText-2"))
        return;
    // The slice packaging/peer_reference.sh scores: the first 1200 bytes of line 8 of the test file (the first paragraph), one window
    // of all its tokens.
    const std::string text = bqtest::readFile(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt"));
    std::size_t start = 0;
    for (int line = 1; line < 8; ++line)
        start = text.find('\n', start) + 1;
    const std::string slice = text.substr(start, std::min<std::size_t>(1200, text.find('\n', start) - start + 1));
    bqtest::TempDir dir;
    { std::ofstream(dir / "slice.txt", std::ios::binary) << slice; }
    // 212 tokens; llama.cpp's logits give a perplexity of 40.433568 over the 211 predicted tokens.
    constexpr int kSliceTokens = 212;
    const auto r = runCli({"ppl", model(), "--text", (dir / "slice.txt").string(), "--ctx", std::to_string(kSliceTokens),
                           "--threads", "2", "--backend", "fp32", "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["tokens"] == kSliceTokens - 1);
    CHECK(j["ppl"].get<double>() == Approx(40.433568).epsilon(1e-4));
}

TEST_CASE("tokenize --decode and chat --render read their JSON inputs strictly", "[cli]")
{
    bqtest::TempDir dir;
    const auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir / name, std::ios::binary) << text;
        return (dir / name).string();
    };
    const auto enc = runCli({"tokenize", ":demo", "--text", write("t.txt", "Once upon a time\nthere was"), "--lines"});
    REQUIRE(enc.exitCode == 0);
    const auto dec = runCli({"tokenize", ":demo", "--text", write("ids.json", enc.out), "--decode"});
    REQUIRE(dec.exitCode == 0);
    CHECK(nlohmann::json::parse(dec.out) == nlohmann::json({"Once upon a time", "there was"}));

    const auto badId = runCli({"tokenize", ":demo", "--text", write("bad.json", "[[1, 2], [3, 999999]]"), "--decode"});
    CHECK(badId.exitCode != 0);
    CHECK_THAT(badId.err, Catch::Contains("bad.json") && Catch::Contains("[1][1]") && Catch::Contains("token id"));
    const auto notJson = runCli({"tokenize", ":demo", "--text", write("nj.json", "1 2 3"), "--decode"});
    CHECK(notJson.exitCode != 0);
    CHECK_THAT(notJson.err, Catch::Contains("nj.json"));

    const auto role = runCli({"chat", ":demo", "--template", "chatml", "--render",
                              write("m.json", R"([{"role":"user","content":"a"},{"role":"tool","content":"b"}])")});
    CHECK(role.exitCode != 0);
    CHECK_THAT(role.err, Catch::Contains("m.json") && Catch::Contains("[1].role") && Catch::Contains("tool"));
    const auto ok = runCli({"chat", ":demo", "--template", "chatml", "--render",
                            write("ok.json", R"([{"role":"user","content":"a"}])")});
    REQUIRE(ok.exitCode == 0);
    CHECK(ok.out == "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n");
}
