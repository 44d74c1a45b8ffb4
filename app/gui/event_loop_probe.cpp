#include "gui/event_loop_probe.h"
#include <algorithm>
#include <cmath>

namespace studio {

namespace {
constexpr int kIntervalMs = 5;
}

EventLoopProbe::EventLoopProbe(QObject* parent) : QObject(parent)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(kIntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &EventLoopProbe::tick);
}

void EventLoopProbe::start()
{
    m_stallsMs.clear();
    m_clock.start();
    m_lastNs = m_clock.nsecsElapsed();
    m_timer.start();
}

void EventLoopProbe::stop() { m_timer.stop(); }

void EventLoopProbe::pause() { m_timer.stop(); }

void EventLoopProbe::resume()
{
    m_lastNs = m_clock.nsecsElapsed();
    m_timer.start();
}

void EventLoopProbe::tick()
{
    const qint64 now = m_clock.nsecsElapsed();
    const double gapMs = double(now - m_lastNs) * 1e-6;
    m_lastNs = now;
    m_stallsMs.push_back(std::max(0.0, gapMs - kIntervalMs));
}

double EventLoopProbe::maxStallMs() const
{
    return m_stallsMs.empty() ? 0.0 : *std::max_element(m_stallsMs.begin(), m_stallsMs.end());
}

double EventLoopProbe::percentileStallMs(double p) const
{
    if (m_stallsMs.empty())
        return 0.0;
    std::vector<double> sorted = m_stallsMs;
    std::sort(sorted.begin(), sorted.end());
    const auto index = std::size_t(std::clamp(std::ceil(p / 100.0 * double(sorted.size())) - 1.0, 0.0,
                                              double(sorted.size() - 1)));
    return sorted[index];
}

} // namespace studio
