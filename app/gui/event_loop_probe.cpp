#include "gui/event_loop_probe.h"
#include <algorithm>
#include <cmath>
#include <ctime>

namespace studio {

namespace {

constexpr int kIntervalMs = 5;

double threadCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

double percentile(std::vector<double> values, double p)
{
    if (values.empty())
        return 0.0;
    std::sort(values.begin(), values.end());
    const auto index = std::size_t(std::clamp(std::ceil(p / 100.0 * double(values.size())) - 1.0, 0.0,
                                              double(values.size() - 1)));
    return values[index];
}

} // namespace

EventLoopProbe::EventLoopProbe(QObject* parent) : QObject(parent)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(kIntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &EventLoopProbe::tick);
}

void EventLoopProbe::start()
{
    m_stallsMs.clear();
    m_busyMs.clear();
    m_clock.start();
    resume();
}

void EventLoopProbe::stop() { m_timer.stop(); }

void EventLoopProbe::pause() { m_timer.stop(); }

void EventLoopProbe::resume()
{
    m_lastNs = m_clock.nsecsElapsed();
    m_lastCpuMs = threadCpuMs();
    m_timer.start();
}

void EventLoopProbe::tick()
{
    const qint64 now = m_clock.nsecsElapsed();
    const double cpu = threadCpuMs();
    m_stallsMs.push_back(std::max(0.0, double(now - m_lastNs) * 1e-6 - kIntervalMs));
    m_busyMs.push_back(std::max(0.0, cpu - m_lastCpuMs - kIntervalMs));
    m_lastNs = now;
    m_lastCpuMs = cpu;
}

double EventLoopProbe::maxStallMs() const
{
    return m_stallsMs.empty() ? 0.0 : *std::max_element(m_stallsMs.begin(), m_stallsMs.end());
}

double EventLoopProbe::percentileStallMs(double p) const { return percentile(m_stallsMs, p); }

double EventLoopProbe::maxBusyMs() const
{
    return m_busyMs.empty() ? 0.0 : *std::max_element(m_busyMs.begin(), m_busyMs.end());
}

double EventLoopProbe::percentileBusyMs(double p) const { return percentile(m_busyMs, p); }

} // namespace studio
