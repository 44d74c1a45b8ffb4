// Memory read bandwidth probe (formats-and-runtime.md §9): the BW_eff of the decode roofline, measured in the
// same run as the decode it is compared with.
#pragma once
#include <cstddef>

namespace bq {

// Stream-like read: every thread sums its own contiguous slice of a `bytes` buffer (first touched by that
// thread) with several independent accumulators, so the loop is bound by memory, not by the add chain.
// Returns the best of `repeats` passes in GB/s (1e9 bytes per second); 0 when the buffer cannot be allocated.
// threads <= 0 means the hardware concurrency.
double measureReadBandwidthGBs(int threads, std::size_t bytes = std::size_t(1) << 30, int repeats = 5);

} // namespace bq
