#include "bq/bench/bandwidth.h"
#include "bq/util/cpu_features.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BQ_BW_X86 1
#endif

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

#ifdef BQ_BW_X86
// Wide-vector versions (chosen at run time): fewer instructions per byte leave more room for the loads.
__attribute__((target("avx2"))) std::uint64_t sumWordsAvx2(const std::uint64_t* p, std::size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    }
    alignas(32) std::uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                       _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + sumWords(p + i, n - i);
}

__attribute__((target("avx512f"))) std::uint64_t sumWordsAvx512(const std::uint64_t* p, std::size_t n)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
        a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 8));
        a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 16));
        a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 24));
    }
    // Lanes via memory: GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized.
    alignas(64) std::uint64_t lanes[8];
    _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
    std::uint64_t total = 0;
    for (std::uint64_t v : lanes)
        total += v;
    return total + sumWords(p + i, n - i);
}
#endif

using SumFn = std::uint64_t (*)(const std::uint64_t*, std::size_t);

SumFn pickSum()
{
#ifdef BQ_BW_X86
    const auto& f = cpuFeatures();
    if (f.avx512f)
        return sumWordsAvx512;
    if (f.avx2)
        return sumWordsAvx2;
#endif
    return sumWords;
}

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

    const SumFn sum = pickSum();
    std::atomic<std::uint64_t> sink{0};
    double best = 0;
    for (int r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.parallelFor(nWords, [&](std::size_t b, std::size_t e, int) {
            sink.fetch_add(sum(words + b, e - b), std::memory_order_relaxed);
        }, kLine / sizeof(std::uint64_t));
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (sec > 0)
            best = std::max(best, static_cast<double>(bytes) / sec / 1e9);
    }
    g_sink = sink.load(); // observable, so the reads cannot be optimised away
    return best;
}

} // namespace bq
