// A fixed-size thread pool with fixed partitioning: parallelFor(n, fn) splits [0, n) into the same
// contiguous chunks for the same (n, threads), so results never depend on scheduling.
// Workers and the caller poll (up to 200 µs, adaptively) before sleeping on a condition variable: decode
// dispatches ~65 short tasks per token, and a futex wake-up per task (tens of µs under a hypervisor) costs more
// than the work (Llama-3.2-1B-shape q1_0, 2 threads, idle machine, alternating runs: decode 111–117 without
// polling, 138–146 with it; prefill unchanged at 303–332). The budget shrinks when polls time out (busy machine); BQ_POOL_SPIN_US caps it (0 = off).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bq {

class ThreadPool {
public:
    explicit ThreadPool(int threads = 0); // 0 = hardware concurrency
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const noexcept { return m_threads; }

    // Calls fn(begin, end, worker) for each of size() contiguous chunks of [0, n); the calling thread runs
    // chunk 0. Blocks until all chunks are done. Chunk boundaries are multiples of `align` (except the end).
    // When chunks throw, every chunk still runs to its end (no worker is left inside fn), then the exception
    // of the lowest-numbered chunk that threw is rethrown here: the same one whatever the scheduling.
    void parallelFor(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn,
                     std::size_t align = 1);

private:
    void workerLoop(int index);

    int m_threads;
    std::vector<std::thread> m_workers;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_done;
    const std::function<void(std::size_t, std::size_t, int)>* m_task = nullptr; // guarded by m_mutex
    std::size_t m_n = 0, m_align = 1;                                          // guarded by m_mutex
    std::atomic<std::uint64_t> m_generation{0};                                 // written under m_mutex
    std::atomic<int> m_pending{0};
    std::atomic<int> m_spinUs{200}; // current polling budget (thread_pool.cpp)
    bool m_stop = false;                                                        // guarded by m_mutex
    std::exception_ptr m_error;                                                 // guarded by m_mutex
    int m_errorChunk = -1;                                                      // guarded by m_mutex

    void recordError(int chunk, std::exception_ptr error);
};

} // namespace bq
