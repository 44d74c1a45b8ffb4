// Throttles progress callbacks to at most ~20 per second, always passing the first and the last.
#pragma once
#include <chrono>

namespace bq {

class ProgressThrottle {
public:
    explicit ProgressThrottle(double minIntervalSec = 0.05) : m_interval(minIntervalSec) {}
    // True when an event for step `step` of `count` should be emitted now.
    bool shouldEmit(long long step, long long count);

private:
    double m_interval;
    bool m_started = false;
    std::chrono::steady_clock::time_point m_last{};
};

} // namespace bq
