// Measures how long the GUI thread's event loop stalls: a 5 ms timer records how late each tick fires (wall
// clock) and how much CPU time the GUI thread itself used between two ticks. A late tick with little CPU time
// means the thread waited for a core (a loaded machine); CPU time is work done on the GUI thread, the thing that
// belongs on a worker. Reports the longest and the 99th percentile of both; GUI tests fail on a gross stretch of
// GUI-thread work (over 250 ms), which no amount of load on the machine can cause.
#pragma once
#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <vector>

namespace studio {

class EventLoopProbe : public QObject {
    Q_OBJECT
public:
    explicit EventLoopProbe(QObject* parent = nullptr);
    void start();
    void stop();
    // Around work the probe must not count (a test's own screenshot): the gap is not recorded.
    void pause();
    void resume();

    double maxStallMs() const;                 // wall clock: longest lateness of a tick
    double percentileStallMs(double p) const;  // p in [0, 100]
    double maxBusyMs() const;                  // GUI-thread CPU time between two ticks, beyond the interval
    double percentileBusyMs(double p) const;
    int samples() const { return int(m_stallsMs.size()); }

private:
    void tick();
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = -1;
    double m_lastCpuMs = 0;
    std::vector<double> m_stallsMs; // lateness of each tick beyond its interval
    std::vector<double> m_busyMs;   // GUI-thread CPU time of each gap beyond the interval
};

} // namespace studio
