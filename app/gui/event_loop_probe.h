// Measures how long the GUI thread's event loop stalls: a 5 ms timer records how late each tick fires. A late
// tick means something ran on the GUI thread for that long (work that belongs on a worker). Reports the longest
// stall and the 99th percentile; GUI tests fail on a gross stall, the README reports the figures.
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
    double maxStallMs() const;
    double percentileStallMs(double p) const; // p in [0, 100]
    int samples() const { return int(m_stallsMs.size()); }

private:
    void tick();
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = -1;
    std::vector<double> m_stallsMs; // lateness of each tick beyond its interval
};

} // namespace studio
