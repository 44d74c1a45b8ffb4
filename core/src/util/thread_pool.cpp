#include "bq/util/thread_pool.h"
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BQ_CPU_RELAX() _mm_pause()
#else
#define BQ_CPU_RELAX() std::this_thread::yield()
#endif

namespace bq {

ThreadPool::ThreadPool(int threads)
{
    if (threads <= 0)
        threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    m_threads = threads;
    for (int i = 1; i < m_threads; ++i)
        m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    for (auto& t : m_workers)
        t.join();
}

namespace {

// How long a waiting thread polls before it sleeps: adaptive between kMinSpin and kMaxSpin (or
// BQ_POOL_SPIN_US; 0 never polls). A wait that polling catches doubles the budget; one that outlasts it halves
// it. On an idle machine the waits between decode tasks are a few µs and the budget stays high; when other
// processes take the cores, the thread being waited for is descheduled for whole time slices, polls time out,
// and the budget drops to kMinSpin so the pool stops taking CPU from it.
constexpr int kMinSpinUs = 4, kMaxSpinUs = 200;

int maxSpinUs()
{
    static const int limit = [] {
        const char* e = std::getenv("BQ_POOL_SPIN_US");
        return e ? std::max(0, std::atoi(e)) : kMaxSpinUs;
    }();
    return limit;
}

// Polls until done() or the budget has passed; true when done() became true. Updates the budget.
template <class Done>
bool spinUntil(const Done& done, std::atomic<int>& budgetUs)
{
    const int limit = maxSpinUs();
    const int budget = std::min(budgetUs.load(std::memory_order_relaxed), limit);
    if (budget <= 0)
        return done();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1;; ++i) {
        if (done()) {
            budgetUs.store(std::min(limit, budget * 2), std::memory_order_relaxed);
            return true;
        }
        BQ_CPU_RELAX();
        if (i % 64 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(budget)) {
            budgetUs.store(std::max(std::min(kMinSpinUs, limit), budget / 2), std::memory_order_relaxed);
            return false;
        }
    }
}

} // namespace

static void chunkBounds(std::size_t n, std::size_t align, int parts, int index, std::size_t& begin, std::size_t& end)
{
    const std::size_t units = (n + align - 1) / align;
    const std::size_t per = units / static_cast<std::size_t>(parts);
    const std::size_t extra = units % static_cast<std::size_t>(parts);
    const auto i = static_cast<std::size_t>(index);
    const std::size_t ub = i * per + std::min(i, extra);
    const std::size_t ue = ub + per + (i < extra ? 1 : 0);
    begin = std::min(n, ub * align);
    end = std::min(n, ue * align);
}

void ThreadPool::parallelFor(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn,
                             std::size_t align)
{
    if (align == 0)
        align = 1;
    if (m_threads == 1 || n <= align) {
        if (n > 0)
            fn(0, n, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_task = &fn;
        m_n = n;
        m_align = align;
        m_pending.store(m_threads - 1, std::memory_order_relaxed);
        m_generation.fetch_add(1, std::memory_order_release);
    }
    m_wake.notify_all();
    std::size_t b, e;
    chunkBounds(n, align, m_threads, 0, b, e);
    if (b < e) {
        try {
            fn(b, e, 0);
        } catch (...) {
            recordError(0, std::current_exception());
        }
    }
    const auto finished = [this] { return m_pending.load(std::memory_order_acquire) == 0; };
    if (!spinUntil(finished, m_spinUs)) {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_done.wait(lock, finished);
    }
    std::exception_ptr error;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_task = nullptr;
        error = std::exchange(m_error, nullptr);
        m_errorChunk = -1;
    }
    if (error)
        std::rethrow_exception(error);
}

void ThreadPool::recordError(int chunk, std::exception_ptr error)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_errorChunk < 0 || chunk < m_errorChunk) {
        m_error = std::move(error);
        m_errorChunk = chunk;
    }
}

void ThreadPool::workerLoop(int index)
{
    std::uint64_t seen = 0;
    for (;;) {
        const std::function<void(std::size_t, std::size_t, int)>* task;
        std::size_t n, align;
        const auto posted = [&] { return m_generation.load(std::memory_order_acquire) != seen; };
        spinUntil(posted, m_spinUs);
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stop || posted(); });
            if (m_stop)
                return;
            seen = m_generation.load(std::memory_order_relaxed);
            task = m_task;
            n = m_n;
            align = m_align;
        }
        std::size_t b, e;
        chunkBounds(n, align, m_threads, index, b, e);
        if (b < e) {
            try {
                (*task)(b, e, index);
            } catch (...) {
                recordError(index, std::current_exception());
            }
        }
        if (m_pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            // Under the mutex: a caller that has just failed its spin is either before its predicate check
            // (and sees 0) or already waiting (and gets this notification).
            std::lock_guard<std::mutex> lock(m_mutex);
            m_done.notify_one();
        }
    }
}

} // namespace bq
