#include "bq/bench/bandwidth.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace bq {

namespace {

constexpr std::size_t kLine = 64;

// Eight independent 64-bit lanes per step: the compiler keeps them in vector registers, and no lane waits on
// another, so the loop runs at the speed memory delivers the bytes.
std::uint64_t sumWords(const std::uint64_t* p, std::size_t n)
{
    std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
        a4 += p[i + 4];
        a5 += p[i + 5];
        a6 += p[i + 6];
        a7 += p[i + 7];
    }
    for (; i < n; ++i)
        a0 += p[i];
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

volatile std::uint64_t g_sink = 0;

struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

} // namespace

double measureReadBandwidthGBs(int threads, std::size_t bytes, int repeats)
{
    bytes = std::max<std::size_t>(bytes / kLine * kLine, kLine);
    repeats = std::max(repeats, 1);
    std::unique_ptr<void, FreeDeleter> buffer(std::aligned_alloc(kLine, bytes));
    if (!buffer)
        return 0;
    auto* words = static_cast<std::uint64_t*>(buffer.get());
    const std::size_t nWords = bytes / sizeof(std::uint64_t);

    ThreadPool pool(threads);
    // First touch from the thread that will read the slice (page placement), with non-zero data.
    pool.parallelFor(nWords, [&](std::size_t b, std::size_t e, int) {
        for (std::size_t i = b; i < e; ++i)
            words[i] = i;
    }, kLine / sizeof(std::uint64_t));

    std::atomic<std::uint64_t> sink{0};
    double best = 0;
    for (int r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.parallelFor(nWords, [&](std::size_t b, std::size_t e, int) {
            sink.fetch_add(sumWords(words + b, e - b), std::memory_order_relaxed);
        }, kLine / sizeof(std::uint64_t));
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (sec > 0)
            best = std::max(best, static_cast<double>(bytes) / sec / 1e9);
    }
    g_sink = sink.load(); // observable, so the reads cannot be optimised away
    return best;
}

} // namespace bq
