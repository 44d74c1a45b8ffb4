// The run file survives SIGKILL: a quantize killed at any moment leaves a run that `--resume` either finishes
// with a model bit-identical to an uninterrupted run (the fake-quantized model.safetensors of --out, byte for
// byte), or refuses with a message that says what to do; a fresh run into the same path always works.
#include "bq/demo/demo_model.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using bqtest::runCli;

namespace {

void writeText(const fs::path& p, const std::string& text)
{
    std::ofstream f(p, std::ios::binary);
    f << text;
}

// Starts bitstudio-cli (output discarded), kills it with SIGKILL after `delay`; true when the kill landed
// (the process was still running).
bool runAndKill(const std::vector<std::string>& args, std::chrono::microseconds delay)
{
    const pid_t pid = fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        std::vector<char*> argv;
        std::string exe = bqtest::cliPath().string();
        argv.push_back(exe.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

} // namespace

TEST_CASE("a quantize killed with SIGKILL at any moment resumes to the same model or says what to do",
          "[cli][run][kill]")
{
    bqtest::TempDir dir;
    const fs::path calib = dir / "calib.txt", recipe = dir / "recipe.json";
    writeText(calib, bq::demoText());
    writeText(recipe, R"({"version": 1, "defaults": {"method": "sign", "samples": 16, "seqlen": 64}})");
    auto quantize = [&](const fs::path& run, const fs::path& out) {
        return std::vector<std::string>{"quantize", ":demo", "--calib", calib.string(), "--recipe", recipe.string(),
                                        "--seed", "5", "--threads", "2", "--run", run.string(), "--out",
                                        out.string()};
    };

    // The uninterrupted reference, and its duration.
    const auto t0 = std::chrono::steady_clock::now();
    auto ref = runCli(quantize(dir / "ref.h5", dir / "ref"));
    const auto duration = std::chrono::steady_clock::now() - t0;
    INFO(ref.err);
    REQUIRE(ref.exitCode == 0);
    const std::string refWeights = bqtest::readFile(dir / "ref" / "model.safetensors");
    REQUIRE(refWeights.size() > 1000);

    std::mt19937 rng(20261207);
    const int kRuns = 10;
    int killed = 0, finished = 0, refused = 0;
    std::string sizes; // the run file's size after each kill (0: not created yet)
    for (int i = 0; i < kRuns; ++i) {
        // Stratified over the measured duration: run i is killed somewhere in the i-th tenth.
        std::uniform_real_distribution<double> u(0.0, 1.0);
        const double fraction = (i + u(rng)) / kRuns;
        const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(duration * fraction);
        const fs::path run = dir / ("run" + std::to_string(i) + ".h5"), out = dir / ("out" + std::to_string(i));
        killed += runAndKill(quantize(run, out), delay);
        const auto left = fs::exists(run) ? fs::file_size(run) : 0;
        sizes += (i ? ", " : "") + std::to_string(left);

        auto args = quantize(run, out);
        args.push_back("--resume");
        auto resumed = runCli(args);
        INFO("run " << i << " killed after " << delay.count() << " µs; resume: exit " << resumed.exitCode << "\n"
                    << resumed.err);
        REQUIRE(resumed.exitCode < 128); // no crash
        if (resumed.exitCode == 0) {
            ++finished;
            REQUIRE(bqtest::readFile(out / "model.safetensors") == refWeights);
        } else {
            ++refused;
            CHECK_THAT(resumed.err, Catch::Contains(run.string()));
            CHECK_THAT(resumed.err, Catch::Contains("fresh run") || Catch::Contains("--force"));
            // A fresh run into the same path works (with --force when the message asks for it).
            auto fresh = quantize(run, out);
            if (resumed.err.find("--force") != std::string::npos)
                fresh.push_back("--force");
            auto again = runCli(fresh);
            INFO(again.err);
            REQUIRE(again.exitCode == 0);
            REQUIRE(bqtest::readFile(out / "model.safetensors") == refWeights);
        }
    }
    // A process killed while creating its run file (or writing --out) cannot remove its temporary sibling: count
    // them, so the report shows it (they never stand in for the outputs themselves).
    int temporaries = 0;
    for (const auto& e : fs::directory_iterator(dir.path()))
        temporaries += e.path().filename().string().find(".tmp-") != std::string::npos;
    WARN("SIGKILL test: " << temporaries << " temporary file(s) left by killed processes; " << killed << " of "
                          << kRuns << " runs killed mid-way (reference run "
                          << std::chrono::duration<double>(duration).count() << " s); " << finished
                          << " resumed to identical weights, " << refused << " refused with a message; run file "
                          << "bytes after the kills: " << sizes << " (complete: " << fs::file_size(dir / "ref.h5")
                          << ")");
    CHECK(killed >= kRuns / 2); // the delays are spread over the run, most must land before it ends
}
