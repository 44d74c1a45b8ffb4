// `bitstudio --demo --screenshot-dir DIR`: a short scripted session on the open model that walks through the
// studio as a newcomer would and saves a PNG of the window at each stop: model, layers (the "deployable Q1_0"
// preset), run mid-way and finished, the selected layer's spectra, the lab (arb-rc and sign on one matrix),
// export, A/B chat, compare. It drives the pages
// through their public controls only, never blocks the event loop (each stop waits for a condition polled on a
// timer) and gives up on a stop after a timeout, saving what is on screen. Used for the README's pictures and by a
// GUI test that checks every picture exists and is not blank.
#pragma once
#include "gui/event_loop_probe.h"
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <functional>
#include <vector>

namespace studio {

class MainWindow;

class StudioTour : public QObject {
    Q_OBJECT
public:
    StudioTour(MainWindow& window, const QString& directory, QObject* parent = nullptr);

    void start();                                // when the model is loaded
    QStringList saved() const { return m_saved; } // PNG paths, in order
    QStringList problems() const { return m_problems; }
    // The GUI thread's responsiveness over the tour, the pictures' own rendering excluded.
    const EventLoopProbe& probe() const { return m_probe; }

signals:
    void finished(bool ok);

private:
    struct Stop {
        QString name;                   // the PNG's name
        std::function<void()> act;      // what the user does
        std::function<bool()> ready;    // when the picture is worth taking
        int timeoutMs = 60000;
        bool takenWhenReady = false; // the picture was taken by the event that made it ready
    };
    void next();
    void poll();
    void shoot(const QString& name);

    MainWindow& m_window;
    QString m_directory;
    std::vector<Stop> m_stops;
    std::size_t m_index = 0;
    QTimer m_timer;
    QElapsedTimer m_clock;
    QStringList m_saved, m_problems;
    EventLoopProbe m_probe;
    QTemporaryDir m_work; // the tour's run file and export: never the user's files, never the pictures' folder
};

} // namespace studio
