// The test helpers themselves: a missing ../shared skips a test on a developer machine and fails it in CI.
// The hidden probe test below is run in a child copy of this binary with BQ_SHARED_DIR pointing at a missing
// directory, once with CI=true and once without.
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <unistd.h>

namespace {

std::string selfExe()
{
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    REQUIRE(n > 0);
    return std::string(buf, static_cast<std::size_t>(n));
}

// Catch2 wraps long lines (at spaces and after '/', '-', ...): compare without any whitespace.
std::string squash(const std::string& s)
{
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            out += c;
    return out;
}

} // namespace

TEST_CASE("probe: haveShared on the configured directory", "[.haveShared-probe]")
{
    if (!bqtest::haveShared("the haveShared probe"))
        return;
    SUCCEED("shared data present");
}

TEST_CASE("a missing ../shared skips outside CI and fails in CI, naming the path", "[support]")
{
    bqtest::TempDir dir;
    const std::string missing = (dir / "no-shared-here").string();
    bqtest::RunOptions o;
    o.executable = selfExe();

    o.env = {{"BQ_SHARED_DIR", missing}, {"CI", "false"}};
    auto local = bqtest::runProcess({"[.haveShared-probe]"}, o);
    INFO(local.out << local.err);
    CHECK(local.exitCode == 0);
    CHECK_THAT(squash(local.out + local.err), Catch::Contains("SKIPPED") && Catch::Contains(squash(missing)));

    o.env = {{"BQ_SHARED_DIR", missing}, {"CI", "true"}};
    auto ci = bqtest::runProcess({"[.haveShared-probe]"}, o);
    INFO(ci.out << ci.err);
    CHECK(ci.exitCode != 0);
    CHECK_THAT(squash(ci.out + ci.err),
               Catch::Contains("MISSINGDATA") && Catch::Contains(squash(missing + "/MANIFEST.md")));
}
