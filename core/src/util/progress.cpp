#include "bq/util/progress.h"

namespace bq {

bool ProgressThrottle::shouldEmit(long long step, long long count)
{
    const auto now = std::chrono::steady_clock::now();
    const bool edge = !m_started || step >= count;
    if (!edge && std::chrono::duration<double>(now - m_last).count() < m_interval)
        return false;
    m_started = true;
    m_last = now;
    return true;
}

} // namespace bq
