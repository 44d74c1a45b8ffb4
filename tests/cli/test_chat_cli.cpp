// End to end: `bitstudio-cli chat` with piped stdin on the demo model and stories260K (completion template).
// The greedy replies are checked against `generate` and the llama2.c run.c golden; Ctrl-C is checked by
// sending SIGINT to a running chat.
#include "support/live_cli.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fcntl.h>
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

using LiveChat = bqtest::LiveCli;

} // namespace

TEST_CASE("chat on the demo model: greedy replies continue the text exactly as generate does", "[cli][chat]")
{
    const auto r = runCli({"chat", ":demo", "--temp", "0", "-n", "20", "--threads", "1"},
                          "Once upon a time\n/stats\n\nThe dog\n/quit\nnever read\n");
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 2); // two replies; the prompt marker is only shown on a terminal
    CHECK(count(r.err, "[prompt:") == 3); // after each reply and for /stats
    CHECK(r.err.find("template completion") != std::string::npos);

    // The first reply is the greedy continuation: generate -n counts positions as run.c does (BOS + 4 prompt
    // tokens, then 20 sampled tokens through position 24).
    const auto g = runCli({"generate", ":demo", "--temp", "0", "-n", "24", "--prompt", "Once upon a time"});
    REQUIRE(g.exitCode == 0);
    CHECK(g.out == "Once upon a time" + out[0] + "\n");
    // The second turn reuses the whole first exchange (5 prompt + 20 reply positions).
    CHECK(r.err.find("(25 reused)") != std::string::npos);
}

TEST_CASE("chat exits cleanly at end of input and rejects an unknown template", "[cli][chat]")
{
    const auto eof = runCli({"chat", ":demo", "--temp", "0", "-n", "5", "--system", "Stories.", "--template", "plain"},
                            "Hello");
    INFO(eof.err);
    CHECK(eof.exitCode == 0);
    CHECK(lines(eof.out).size() == 1);
    const auto empty = runCli({"chat", ":demo"}, "");
    CHECK(empty.exitCode == 0);
    CHECK(empty.out.empty());
    const auto bad = runCli({"chat", ":demo", "--template", "jinja"}, "Hi\n");
    CHECK(bad.exitCode == 1);
    CHECK(bad.err.find("unknown template") != std::string::npos);
    CHECK(bad.err.find("llama3") != std::string::npos);
}

TEST_CASE("chat refuses a turn that does not fit the context, then goes on", "[cli][chat]")
{
    const auto r = runCli({"chat", ":demo", "--temp", "0", "-n", "4", "--context", "12"},
                          "Once upon a time there was a little girl who lived in a house\nOnce\n");
    INFO(r.err);
    CHECK(r.exitCode == 0);
    CHECK(r.err.find("error: the conversation needs") != std::string::npos);
    CHECK(count(r.err, "[prompt:") == 1); // the short message got its reply
    const auto slide = runCli({"chat", ":demo", "--temp", "0", "-n", "8", "--context", "24", "--sliding-window"},
                              "Once upon a time\nThe dog ran.\nShe smiled.\nThey played.\n");
    INFO(slide.err);
    CHECK(slide.exitCode == 0);
    CHECK(count(slide.err, "[prompt:") == 4);
    CHECK(slide.err.find("sliding window: dropped") != std::string::npos);
}

TEST_CASE("Ctrl-C stops a reply, the chat goes on, and two Ctrl-C at the prompt quit", "[cli][chat][signal]")
{
    // Greedy on the demo model repeats itself and never ends a turn: only Ctrl-C stops this reply.
    LiveChat chat({"chat", ":demo", "--temp", "0", "-n", "0", "--sliding-window", "--threads", "1"});
    chat.write("Once upon a time\n");
    REQUIRE(chat.waitFor(0, ",", 10.0)); // the reply is streaming
    chat.interrupt();
    REQUIRE(chat.waitFor(1, "[reply stopped]", 5.0));
    REQUIRE(chat.waitFor(1, "tok/s", 5.0));
    // The session is usable: /stats answers with the stopped reply's figures.
    const std::size_t before = chat.text[1].size();
    chat.write("/stats\n");
    REQUIRE(chat.waitFor(1, "[prompt:", 5.0, before));
    CHECK(count(chat.text[1], "[prompt:") == 2);
    // At the prompt: the first Ctrl-C warns (repeat until it lands inside the blocking read), the next quits.
    bool warned = false;
    for (int i = 0; i < 50 && !warned; ++i) {
        chat.interrupt();
        warned = chat.waitFor(1, "Ctrl-C again", 0.2);
    }
    REQUIRE(warned);
    chat.interrupt();
    CHECK(chat.wait(5.0) == 0);
}

TEST_CASE("chat on stories260K continues the story as llama2.c run.c does", "[cli][chat]")
{
    if (!bqtest::haveShared("stories260K chat"))
        return;
    const std::string model = sharedPath("models/stories260K/stories260K.bin").string();
    const std::string tok = sharedPath("models/stories260K/tok512.bin").string();
    const auto r = runCli({"chat", model, "--tokenizer", tok, "--temp", "0", "-n", "40"},
                          "Once upon a time\n/reset\nOnce upon a time\n");
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 2); // 40 greedy tokens stay on the golden's first line
    const std::string golden =
        bqtest::readFile(sharedPath("models/stories260K/reference_greedy_once_upon_a_time_n256.txt"));
    REQUIRE(!out[0].empty());
    // run.c's greedy continuation; a reply is one line, so compare up to the first newline of the golden.
    CHECK(golden.rfind("Once upon a time" + out[0], 0) == 0);
    CHECK(out[1] == out[0]); // /reset starts over: same greedy reply
    CHECK(count(r.err, "(0 reused)") == 2);
    CHECK(r.err.find("[conversation cleared]") != std::string::npos);
    CHECK(r.err.find("template completion") != std::string::npos);

    // The same session on the model converted to GGUF (vocabulary embedded, no --tokenizer).
    bqtest::TempDir dir;
    const std::string gguf = (dir / "stories260K.gguf").string();
    REQUIRE(runCli({"convert", model, gguf, "--to", "gguf", "--tokenizer", tok}).exitCode == 0);
    const auto g = runCli({"chat", gguf, "--temp", "0", "-n", "40"}, "Once upon a time\n");
    INFO(g.err);
    REQUIRE(g.exitCode == 0);
    CHECK(g.out == out[0] + "\n");
    // The same session on stories260K exported in the bitstudio GGUF format: tests/cli/test_export_chat.cpp.
}
