#include "bq/tokenizer/tokenizer.h"
#include "bq/util/atomic_file.h"
#include "bq/util/fp16.h"
#include "bq/util/output_path.h"
#include "bq/util/thread_pool.h"
#include "support/test_support.h"
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <cmath>

TEST_CASE("fp16 conversion rounds to nearest even and round-trips every half", "[util]")
{
    for (std::uint32_t h = 0; h < 0x10000u; ++h) {
        const auto hv = static_cast<std::uint16_t>(h);
        const float f = bq::halfToFloat(hv);
        if (std::isnan(f))
            continue;
        REQUIRE(bq::floatToHalf(f) == hv);
    }
    CHECK(bq::halfToFloat(0x3c00) == 1.0f);
    CHECK(bq::halfToFloat(0xc000) == -2.0f);
    CHECK(bq::halfToFloat(0x0001) == std::ldexp(1.0f, -24));
    // 1 + 2^-11 lies exactly between 1 and 1 + 2^-10: ties to even (1.0).
    CHECK(bq::floatToHalf(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
    // 1 + 3*2^-11 lies between 1+2^-10 (odd) and 1+2^-9 (even): ties to even (0x3c02).
    CHECK(bq::floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
    CHECK(bq::floatToHalf(70000.0f) == 0x7c00);
    CHECK(bq::floatToHalf(65504.0f) == 0x7bff);
    CHECK(bq::floatToBf16(1.0f) == 0x3f80);
    CHECK(bq::bf16ToFloat(0x4049) == Approx(3.140625f));
}

TEST_CASE("thread pool covers every index exactly once with fixed chunks", "[util]")
{
    bq::ThreadPool pool(2);
    for (std::size_t n : {0u, 1u, 7u, 64u, 1000u}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallelFor(n, [&](std::size_t b, std::size_t e, int) {
            for (std::size_t i = b; i < e; ++i)
                hits[i]++;
        }, 4);
        for (std::size_t i = 0; i < n; ++i)
            REQUIRE(hits[i] == 1);
    }
}

TEST_CASE("a throwing chunk is rethrown in the caller after every worker has finished", "[util]")
{
    for (int threads : {1, 2, 3}) {
        bq::ThreadPool pool(threads);
        for (int thrower : {0, threads - 1}) {
            INFO("threads " << threads << ", chunk " << thrower << " throws");
            std::atomic<int> finished{0};
            const auto run = [&] {
                pool.parallelFor(300, [&](std::size_t b, std::size_t, int chunk) {
                    if (chunk == thrower)
                        throw std::runtime_error("chunk at " + std::to_string(b));
                    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // still running when chunk 0 throws
                    finished++;
                });
            };
            CHECK_THROWS_WITH(run(), Catch::StartsWith("chunk at "));
            CHECK(finished == threads - 1); // nobody was left inside the task
        }
        // Both chunks throw: the lowest-numbered one wins, whatever finished first.
        if (threads > 1)
            CHECK_THROWS_WITH(pool.parallelFor(100, [](std::size_t, std::size_t, int chunk) {
                if (chunk == 1)
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                throw std::runtime_error("chunk " + std::to_string(chunk));
            }), "chunk 0");
        // The pool is still usable.
        std::atomic<int> sum{0};
        pool.parallelFor(10, [&](std::size_t b, std::size_t e, int) { sum += int(e - b); });
        CHECK(sum == 10);
    }
}

TEST_CASE("atomic file leaves nothing behind unless committed", "[util]")
{
    bqtest::TempDir dir;
    const auto target = dir / "out.bin";
    {
        bq::AtomicFile f(target);
        f.write("half");
    }
    CHECK_FALSE(std::filesystem::exists(target));
    CHECK(std::filesystem::is_empty(dir.path()));
    bq::writeFileAtomically(target, "whole");
    CHECK(bqtest::readFile(target) == "whole");

    // An abandoned writer leaves the previous file as it was; two writers never share a temporary file.
    {
        bq::AtomicFile a(target), b(target);
        a.write("from a");
        b.write("from b");
        b.commit();
    }
    CHECK(bqtest::readFile(target) == "from b");
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
    // A directory that cannot be written: a clear error naming the target, nothing created.
    const auto missing = dir / "no-such-dir" / "out.bin";
    CHECK_THROWS_WITH(bq::AtomicFile(missing), Catch::Contains(missing.string()));
}

TEST_CASE("atomic file refuses a directory target and keeps a file whose commit fails", "[util]")
{
    bqtest::TempDir dir;
    const auto target = dir / "out.bin";
    bq::writeFileAtomically(target, "old");
    std::filesystem::create_directories(dir / "d");
    CHECK_THROWS_WITH(bq::writeFileAtomically(dir / "d", "x"), Catch::Contains((dir / "d").string()));
    CHECK(std::filesystem::is_directory(dir / "d"));
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 2); // no temporary left
    CHECK(bqtest::readFile(target) == "old");
}

namespace {

std::size_t entries(const std::filesystem::path& dir)
{
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

void writeAll(const std::filesystem::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

} // namespace

TEST_CASE("output directories: refused unless a previous output, swapped with restore on failure", "[util][output]")
{
    namespace fs = std::filesystem;
    bqtest::TempDir dir;
    const auto out = dir / "out";
    auto fill = [](const std::string& text) {
        return [text](const fs::path& tmp) { writeAll(tmp / "content", text); };
    };

    // Absent: written, with the marker.
    bq::writeOutputDirectory(out, fill("one"), false);
    CHECK(bqtest::readFile(out / "content") == "one");
    CHECK(fs::exists(out / bq::kOutputMarkerName));
    // A previous output: replaced.
    bq::writeOutputDirectory(out, fill("two"), false);
    CHECK(bqtest::readFile(out / "content") == "two");
    CHECK(entries(dir.path()) == 1);

    // A failing writer leaves the previous output and no temporary directory.
    CHECK_THROWS_WITH(bq::writeOutputDirectory(out, [](const fs::path&) { throw std::runtime_error("disk full"); },
                                               false),
                      "disk full");
    CHECK(bqtest::readFile(out / "content") == "two");
    CHECK(entries(dir.path()) == 1);

    // A failed rename into place puts the previous output back.
    ::setenv("BQ_FAIL_OUTPUT_SWAP", "rename-in", 1);
    CHECK_THROWS_WITH(bq::writeOutputDirectory(out, fill("three"), false),
                      Catch::Contains(out.string()) && Catch::Contains("put back"));
    ::unsetenv("BQ_FAIL_OUTPUT_SWAP");
    CHECK(bqtest::readFile(out / "content") == "two");
    CHECK(entries(dir.path()) == 1);

    // A user's directory: refused, untouched; with force: replaced.
    const auto user = dir / "user";
    fs::create_directories(user);
    writeAll(user / "precious", "keep");
    CHECK_THROWS_AS(bq::checkOutputDirectory(user, false), bq::OutputRefused);
    CHECK_THROWS_WITH(bq::writeOutputDirectory(user, fill("x"), false),
                      Catch::Contains(user.string()) && Catch::Contains("--force"));
    CHECK(bqtest::readFile(user / "precious") == "keep");
    CHECK(entries(dir.path()) == 2);
    bq::writeOutputDirectory(user, fill("x"), true);
    CHECK_FALSE(fs::exists(user / "precious"));
    // A regular file: refused; an empty directory: accepted.
    writeAll(dir / "file", "f");
    CHECK_THROWS_AS(bq::checkOutputDirectory(dir / "file", false), bq::OutputRefused);
    fs::create_directories(dir / "empty");
    CHECK_NOTHROW(bq::checkOutputDirectory(dir / "empty", false));

    // Single files: a previous output (the predicate) or force; never a directory.
    auto ours = [](const fs::path& p) { return bqtest::readFile(p) == "ours"; };
    writeAll(dir / "a", "ours");
    CHECK_NOTHROW(bq::checkOutputFile(dir / "a", false, ours));
    CHECK_THROWS_WITH(bq::checkOutputFile(dir / "file", false, ours),
                      Catch::Contains((dir / "file").string()) && Catch::Contains("--force"));
    CHECK_NOTHROW(bq::checkOutputFile(dir / "file", true, ours));
    CHECK_NOTHROW(bq::checkOutputFile(dir / "absent", false, ours));
    CHECK_THROWS_AS(bq::checkOutputFile(dir / "empty", true, ours), bq::OutputRefused);
}

TEST_CASE("UTF-8 prefix stops before an unfinished character", "[util]")
{
    CHECK(bq::completeUtf8Prefix("abc") == 3);
    CHECK(bq::completeUtf8Prefix("a\xE2\x82") == 1);  // first two bytes of the euro sign
    CHECK(bq::completeUtf8Prefix("a\xE2\x82\xAC") == 4);
    CHECK(bq::completeUtf8Prefix("\xF0\x9F\x98") == 0);
}
