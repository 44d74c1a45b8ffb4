// Issue 4 end to end: quantize -> run.h5 -> export -> chat on the exported GGUF (packed runtime), on
// stories260K in the bitstudio format (completion template) and on the demo model in the bitstudio and Q1_0
// formats. Greedy replies must equal `generate --temp 0` on the same file and, for the exact bitstudio format,
// `generate` on the run file (the fake-quantized fp32 reference); Ctrl-C (SIGINT) must stop a reply mid-way.
#include "bq/demo/demo_model.h"
#include "support/live_cli.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

using bqtest::runCli;
using bqtest::sharedPath;

namespace {

std::vector<std::string> lines(const std::string& s)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1)
        out.push_back(s.substr(start, nl - start));
    if (start < s.size())
        out.push_back(s.substr(start));
    return out;
}

std::size_t count(const std::string& s, const std::string& what)
{
    std::size_t n = 0;
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
        ++n;
    return n;
}

void writeText(const std::filesystem::path& p, const std::string& text)
{
    std::ofstream f(p, std::ios::binary);
    f << text;
}

void runOk(const std::vector<std::string>& args)
{
    const auto r = runCli(args);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
}

using LiveChat = bqtest::LiveCli;

// A reply is running: Ctrl-C stops it, the session answers /stats, and the end of input ends the chat cleanly.
void checkCtrlCStopsReply(LiveChat& chat, const std::string& firstText)
{
    chat.write("Once upon a time\n");
    REQUIRE(chat.waitFor(0, firstText, 20.0)); // the reply is streaming
    chat.interrupt();
    REQUIRE(chat.waitFor(1, "[reply stopped]", 10.0));
    REQUIRE(chat.waitFor(1, "tok/s", 10.0));
    const std::size_t before = chat.text[1].size();
    chat.write("/stats\n");
    REQUIRE(chat.waitFor(1, "[prompt:", 10.0, before));
    CHECK(count(chat.text[1], "[prompt:") == 2);
    chat.closeInput();
    CHECK(chat.wait(10.0) == 0);
}

// stories260K quantized (4-bit GPTQ codes; ffn_down as two sign planes, `residual`) and exported as bitstudio,
// made once for every test case here. Its greedy story stays close to the fp32 model's.
struct Stories260KExport {
    bqtest::TempDir dir;
    std::string run, gguf;
    Stories260KExport()
    {
        run = (dir / "run.h5").string();
        gguf = (dir / "stories260K-bitstudio.gguf").string();
        writeText(dir / "recipe.json",
                  R"({"version": 1, "defaults": {"method": "gptq", "options": {"bits": 4, "group": 32},
                      "samples": 8, "seqlen": 64, "seed": 1},
                      "rules": [{"match": "blk.*.ffn_down.weight", "method": "residual"}]})");
        const auto calib = sharedPath("data/tinystories/tinystories_val.txt").string();
        runOk({"quantize", sharedPath("models/stories260K/stories260K.bin").string(), "--tokenizer",
              sharedPath("models/stories260K/tok512.bin").string(), "--calib", calib, "--calib-docs", "0:40",
              "--recipe", (dir / "recipe.json").string(), "--run", run, "--threads", "2"});
        runOk({"export", run, "--out", gguf, "--format", "bitstudio"});
    }
};

const Stories260KExport& stories260K()
{
    static const Stories260KExport e;
    return e;
}

// The demo model quantized with --method q1_0 and exported as bitstudio and as Q1_0 (its dims are 128-multiples).
struct DemoExport {
    bqtest::TempDir dir;
    std::string run, bitstudio, q1_0;
    DemoExport()
    {
        run = (dir / "run.h5").string();
        bitstudio = (dir / "demo-bitstudio.gguf").string();
        q1_0 = (dir / "demo-q1_0.gguf").string();
        writeText(dir / "calib.txt", bq::demoText());
        runOk({"quantize", ":demo", "--calib", (dir / "calib.txt").string(), "--method", "q1_0", "--samples", "4",
               "--seqlen", "32", "--run", run, "--threads", "2"});
        runOk({"export", run, "--out", bitstudio, "--format", "bitstudio"});
        runOk({"export", run, "--out", q1_0, "--format", "q1_0"});
    }
};

const DemoExport& demo()
{
    static const DemoExport e;
    return e;
}

std::string generateGreedy(const std::string& model, int steps, const std::string& prompt,
                           const std::string& backend = "auto")
{
    const auto g = runCli({"generate", model, "--temp", "0", "-n", std::to_string(steps), "--prompt", prompt,
                           "--backend", backend});
    INFO(g.err);
    REQUIRE(g.exitCode == 0);
    return g.out;
}

} // namespace

TEST_CASE("chat on stories260K exported as bitstudio: the packed runtime tells a sensible story",
          "[cli][chat][export]")
{
    if (!bqtest::haveShared("stories260K bitstudio export chat"))
        return;
    const Stories260KExport& e = stories260K();
    const auto r = runCli({"chat", e.gguf, "--temp", "0", "-n", "40", "--threads", "2"},
                          "Once upon a time\n/reset\nOnce upon a time\n");
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(r.err.find("template completion") != std::string::npos);
    CHECK(r.err.find(", fp32 ") == std::string::npos); // the packed runtime, not the reference
    const auto out = lines(r.out);
    REQUIRE(out.size() == 2);
    REQUIRE(out[0].size() > 40);
    CHECK(out[1] == out[0]);

    // generate -n counts positions as run.c: BOS + 4 prompt tokens, then the 40 reply tokens.
    const std::string expected = "Once upon a time" + out[0] + "\n";
    CHECK(generateGreedy(e.gguf, 44, "Once upon a time") == expected);
    // With fp32 activations bitstudio is exact: the fake-quantized fp32 reference (the run file) tells the same
    // story as the file on --backend exact.
    CHECK(generateGreedy(e.run, 44, "Once upon a time") == generateGreedy(e.gguf, 44, "Once upon a time", "exact"));
    // ... and so does the file on the fp32 back-end (layers dequantized at load).
    const auto fp32 = runCli({"chat", e.gguf, "--temp", "0", "-n", "40", "--backend", "fp32"}, "Once upon a time\n");
    CHECK("Once upon a time" + fp32.out == generateGreedy(e.gguf, 44, "Once upon a time", "exact"));
    CHECK(fp32.err.find(", fp32 ") != std::string::npos);

    // A sensible reply: its opening follows llama2.c run.c's fp32 greedy story for a good while.
    const std::string golden =
        bqtest::readFile(sharedPath("models/stories260K/reference_greedy_once_upon_a_time_n256.txt"));
    const std::string ours = "Once upon a time" + out[0];
    std::size_t same = 0;
    while (same < ours.size() && same < golden.size() && ours[same] == golden[same])
        ++same;
    INFO("reply: " << out[0] << "\ngolden: " << golden.substr(0, 120));
    CHECK(same >= 50); // "Once upon a time, there was a little girl named Lily."
}

TEST_CASE("Ctrl-C stops a reply on the stories260K bitstudio export", "[cli][chat][export][signal]")
{
    if (!bqtest::haveShared("stories260K bitstudio export Ctrl-C"))
        return;
    // A repetition penalty below 1 favours tokens already seen, so the greedy reply keeps repeating its own words
    // and never produces the end-of-text token: only Ctrl-C stops it.
    LiveChat chat({"chat", stories260K().gguf, "--temp", "0", "-n", "0", "--repeat-penalty", "0.5",
                   "--sliding-window", "--threads", "1"});
    checkCtrlCStopsReply(chat, " time");
}

TEST_CASE("chat on the demo model exported as bitstudio and as Q1_0", "[cli][chat][export]")
{
    const DemoExport& e = demo();
    const std::string input = "Once upon a time\nThe dog\n";
    // Demo greedy replies: BOS + 4 prompt tokens, then 20 reply tokens through position 24.
    const auto reference = generateGreedy(e.run, 24, "Once upon a time");

    const auto bs = runCli({"chat", e.bitstudio, "--temp", "0", "-n", "20"}, input);
    INFO(bs.err);
    REQUIRE(bs.exitCode == 0);
    CHECK(bs.err.find(", fp32 ") == std::string::npos);
    const auto bsOut = lines(bs.out);
    REQUIRE(bsOut.size() == 2);
    CHECK(generateGreedy(e.bitstudio, 24, "Once upon a time") == "Once upon a time" + bsOut[0] + "\n");
    // fp32 activations (exact form): the run file's text.
    CHECK(generateGreedy(e.bitstudio, 24, "Once upon a time", "exact") == reference);
    CHECK(bs.err.find("(25 reused)") != std::string::npos);   // the second turn reuses the first exchange

    const auto q = runCli({"chat", e.q1_0, "--temp", "0", "-n", "20"}, input);
    INFO(q.err);
    REQUIRE(q.exitCode == 0);
    CHECK(q.err.find(", fp32 ") == std::string::npos);
    const auto qOut = lines(q.out);
    REQUIRE(qOut.size() == 2);
    REQUIRE(!qOut[0].empty());
    // The Q1_0 kernels quantize activations to 8 bits: the chat equals generate on the same file and runtime.
    CHECK(generateGreedy(e.q1_0, 24, "Once upon a time") == "Once upon a time" + qOut[0] + "\n");
}

TEST_CASE("Ctrl-C stops a reply on the demo model's Q1_0 export", "[cli][chat][export][signal]")
{
    // Greedy on the demo model repeats itself and never ends a turn: only Ctrl-C stops this reply.
    LiveChat chat({"chat", demo().q1_0, "--temp", "0", "-n", "0", "--sliding-window", "--threads", "1"});
    checkCtrlCStopsReply(chat, ",");
}
