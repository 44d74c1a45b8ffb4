// bench-quant (the quantization benchmark) on a tiny synthetic shape, and packaging/method_table.sh's --help and
// --dry-run. The Gram flops are checked against the count from the model shape (methods.md §1.2: T·m² per
// symmetric Gram, 2·T·m² per cross-Gram), the timings for consistency.
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

nlohmann::json lastJsonLine(const std::string& out)
{
    std::istringstream in(out);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty() && line[0] == '{')
            last = line;
    REQUIRE_FALSE(last.empty());
    return nlohmann::json::parse(last);
}

// stories260k: dim 64 (q/k/v, o, gate/up inputs), hidden 172 (down input), 5 blocks.
double gramFlopsStories260k(double tokens, double perSiteFactor)
{
    return 5.0 * tokens * perSiteFactor * (3.0 * 64 * 64 + 172.0 * 172);
}

struct ShellResult {
    int exitCode = -1;
    std::string out;
};

ShellResult runShell(const std::string& command)
{
    ShellResult r;
    FILE* p = popen(command.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        r.out.append(buf, n);
    const int status = pclose(p);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::size_t countOccurrences(const std::string& text, const std::string& needle)
{
    std::size_t count = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
        ++count;
    return count;
}

const std::string kScript = std::string(BQ_SOURCE_DIR) + "/packaging/method_table.sh";

} // namespace

TEST_CASE("bench-quant reports Gram vs rest time, peak RSS and the GEMM rate", "[cli][bench-quant]")
{
    const auto r = bqtest::runCli({"bench-quant", "--synthetic", "stories260k", "--method", "arb-rc", "--samples", "2",
                                   "--seqlen", "32", "--threads", "2", "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const nlohmann::json j = lastJsonLine(r.out);
    CHECK(j.at("method") == "arb-rc");
    CHECK(j.at("tokens") == 64);
    CHECK(j.at("quantized_tensors") == 35); // 5 blocks × 7 linears; embeddings and head stay FP
    // analysis "full" keeps the FP stream: Ĥ + H_fp (T·m² each) + C (2·T·m²) per site.
    CHECK(j.at("gram_flops").get<double>() == Approx(gramFlopsStories260k(64, 4.0)).epsilon(1e-12));
    const double gram = j.at("gram_seconds"), other = j.at("other_seconds"), wall = j.at("wall_seconds");
    CHECK(gram > 0);
    CHECK(other > 0);
    CHECK(gram + other == Approx(wall).epsilon(1e-9));
    CHECK(j.at("method_seconds").get<double>() <= other);
    CHECK(j.at("cpu_seconds").get<double>() > 0);
    const double gflops = j.at("gemm_gflops"), gflops1 = j.at("gemm_gflops_one_thread");
    CHECK(gflops > 0.05); // any machine that builds this does more than 50 MFLOP/s
    CHECK(gflops < 1e5);
    CHECK(gflops1 > 0.05);
    CHECK(j.at("gram_bound_seconds").get<double>() == Approx(j.at("gram_flops").get<double>() / (gflops * 1e9)));
    const auto rss = j.at("peak_rss").get<std::uint64_t>();
    CHECK(rss > (std::uint64_t(1) << 20));
    CHECK(rss < (std::uint64_t(8) << 30));
    // Block forward flops: 2·T·(q,k,v,o,gate,up,down weights) + 2·T²·qDim, 2 streams × (collect + final pass).
    const double T = 32, linears = 64.0 * (64 + 2 * 32) + 64.0 * 64 + 3.0 * 64 * 172;
    CHECK(j.at("forward_flops").get<double>() ==
          Approx(2.0 * 2 * 5 * 2 * (2 * T * linears + 2 * T * T * 64)).epsilon(1e-12));
}

TEST_CASE("bench-quant with light analysis collects one stream only", "[cli][bench-quant]")
{
    const auto r = bqtest::runCli({"bench-quant", "--synthetic", "stories260k", "--method", "arb-rc", "--samples", "2",
                                   "--seqlen", "32", "--threads", "1", "--analysis", "light", "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const nlohmann::json j = lastJsonLine(r.out);
    CHECK(j.at("gram_flops").get<double>() == Approx(gramFlopsStories260k(64, 1.0)).epsilon(1e-12));
    CHECK(j.at("threads") == 1);
}

TEST_CASE("bench-quant rejects an unknown shape naming it", "[cli][bench-quant]")
{
    const auto r = bqtest::runCli({"bench-quant", "--synthetic", "no-such-shape", "--samples", "1", "--seqlen", "8"});
    CHECK(r.exitCode != 0);
    CHECK(r.err.find("no-such-shape") != std::string::npos);
}

TEST_CASE("method_table.sh: --help and --dry-run list the protocol", "[cli][method-table]")
{
    const auto help = runShell("bash '" + kScript + "' --help");
    CHECK(help.exitCode == 0);
    CHECK(help.out.find("Usage: bash packaging/method_table.sh") != std::string::npos);

    bqtest::TempDir work;
    const auto dry = runShell("BQ_CLI='" + bqtest::cliPath().string() + "' bash '" + kScript +
                              "' --dry-run --samples 8 --seqlen 64 --work '" + work.path().string() + "'");
    REQUIRE(dry.exitCode == 0);
    // 12 methods on stories260K + 5 entries on ts5m, each quantized, evaluated and compared.
    CHECK(countOccurrences(dry.out, "bitstudio-cli quantize ") == 17);
    CHECK(countOccurrences(dry.out, "bitstudio-cli compare ") == 17);
    CHECK(countOccurrences(dry.out, "bitstudio-cli ppl ") == 17 + 2); // + the FP model of each table
    CHECK(countOccurrences(dry.out, "--calib-docs 0:500") == 17);
    CHECK(countOccurrences(dry.out, "--docs 800:1000") == 17 * 2 + 2);
    CHECK(countOccurrences(dry.out, "--calib-docs 0:500 --samples 8 --seqlen 64") == 17);
    CHECK(dry.out.find("--method output-align") != std::string::npos);
    CHECK(dry.out.find("sign-g128.json") != std::string::npos);

    const auto bad = runShell("bash '" + kScript + "' --no-such-option 2>&1");
    CHECK(bad.exitCode == 2);
}
