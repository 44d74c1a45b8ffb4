#include "gui/studio_tour.h"
#include "gui/chat_controller.h"
#include "gui/chat_page.h"
#include "gui/compare_controller.h"
#include "gui/compare_page.h"
#include "gui/export_page.h"
#include "gui/lab_page.h"
#include "gui/layers_page.h"
#include "gui/main_window.h"
#include "gui/quantize_controller.h"
#include "gui/run_page.h"
#include "widgets/calibration_panel.h"
#include "widgets/chat_pane.h"
#include "widgets/compare_panel.h"
#include "widgets/export_panel.h"
#include "widgets/lab_method_panel.h"
#include "widgets/lab_view.h"
#include "widgets/layers_view.h"
#include "widgets/run_view.h"
#include <QCheckBox>
#include <QDir>
#include <QDockWidget>
#include <QPixmap>
#include <QFile>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QTableView>

namespace studio {

StudioTour::StudioTour(MainWindow& window, const QString& directory, QObject* parent)
    : QObject(parent), m_window(window), m_directory(directory)
{
    m_timer.setInterval(50);
    connect(&m_timer, &QTimer::timeout, this, &StudioTour::poll);

    LayersPage* layers = window.layersPage();
    RunPage* run = window.runPage();
    ExportPage* exporter = window.exportPage();
    ChatPage* chat = window.chatPage();
    ComparePage* compare = window.comparePage();
    auto layersEstimated = std::make_shared<int>(0);
    connect(layers, &LayersPage::estimated, this, [layersEstimated] { ++*layersEstimated; });
    auto blocksDone = std::make_shared<int>(0);
    // The demo quantizes in about a second: the mid-way picture is taken right when the second block ends (after
    // the page has drawn what it has), not on the next poll.
    connect(run->quantizeController(), &QuantizeController::blockDone, this, [this, run, blocksDone] {
        if (++*blocksDone == 2 && m_index < m_stops.size() && m_stops[m_index].name == QLatin1String("03-run-midway")) {
            run->runView()->refresh();
            shoot(QStringLiteral("03-run-midway"));
        }
    });
    auto exported = std::make_shared<bool>(false);
    connect(exporter, &ExportPage::exported, this, [exported] { *exported = true; });
    auto replies = std::make_shared<int>(0);
    for (ChatController* c : {chat->fpController(), chat->quantizedController()})
        connect(c, &ChatController::replyFinished, this, [replies] { ++*replies; });
    auto compared = std::make_shared<bool>(false);
    LabPage* lab = window.labPage();
    auto labDone = std::make_shared<bool>(false);
    connect(lab, &LabPage::busyChanged, this, [labDone](bool busy) {
        if (!busy)
            *labDone = true;
    });
    connect(compare->controller(), &CompareController::compared, this, [compared] { *compared = true; });

    m_stops = {
        {QStringLiteral("01-model"), [&window] { window.centralTabs()->setCurrentIndex(0); }, [] { return true; }},
        {QStringLiteral("02-layers"),
         [&window, layers, layersEstimated] {
             // The pages need the width more than the model summary does from here on.
             if (auto* dock = window.findChild<QDockWidget*>(QStringLiteral("modelDock")))
                 dock->hide();
             window.showPage(layers);
             *layersEstimated = 0;
             layers->applyPreset(QStringLiteral("deployable-q1_0"));
         },
         [layers, layersEstimated] {
             if (*layersEstimated == 0)
                 return false;
             layers->view()->selectTensors({QStringLiteral("blk.0.ffn_down.weight")});
             return true;
         }},
        {QStringLiteral("03-run-midway"),
         [&window, run, blocksDone, work = m_work.path()] {
             window.showPage(run);
             run->setRunPath(QDir(work).filePath(QStringLiteral("demo.h5")));
             CalibrationSettings s = run->calibrationPanel()->settings();
             s.samples = 16;
             s.seqLen = 128;
             run->calibrationPanel()->setSettings(s);
             *blocksDone = 0;
             run->start();
         },
         [blocksDone] { return *blocksDone >= 2; }, 60000, true},
        {QStringLiteral("04-run-finished"), [] {},
         [run] {
             if (run->isBusy())
                 return false;
             run->runView()->selectTensor("blk.1.attn_q.weight");
             return true;
         }},
        {QStringLiteral("05-spectra"),
         [run] { run->runView()->selectTensor("blk.2.ffn_down.weight"); }, [] { return true; }},
        {QStringLiteral("06-lab"),
         [&window, lab, labDone] {
             window.showPage(lab);
             lab->view()->setTensor(QStringLiteral("blk.0.attn_q.weight"));
             lab->view()->methodA()->setMethodId(QStringLiteral("arb-rc"));
             lab->view()->methodB()->setMethodId(QStringLiteral("sign"));
             *labDone = false;
         },
         [lab, labDone] {
             if (!*labDone && !lab->isBusy())
                 lab->run();
             return *labDone && !lab->isBusy();
         },
         120000},
        {QStringLiteral("07-export"),
         [&window, exporter, work = m_work.path()] {
             window.showPage(exporter);
             exporter->panel()->pathEdit()->setText(QDir(work).filePath(QStringLiteral("demo-q1_0.gguf")));
         },
         [exporter, exported] {
             if (!*exported && exporter->panel()->exportButton()->isEnabled() && !exporter->isBusy())
                 exporter->panel()->exportButton()->click();
             return *exported && !exporter->isBusy();
         }},
        {QStringLiteral("08-chat-ab"),
         [&window, chat, replies] {
             window.showPage(chat);
             chat->pane()->abBox()->setChecked(true);
             *replies = 0;
         },
         [chat, replies] {
             ChatPane* pane = chat->pane();
             if (*replies == 0 && !chat->isBusy()) {
                 if (pane->input()->toPlainText().isEmpty())
                     pane->input()->setPlainText(QStringLiteral("Once upon a time, a little girl"));
                 if (pane->sendButton()->isEnabled())
                     pane->sendButton()->click();
             }
             return *replies >= 2 && !chat->isBusy();
         },
         120000},
        {QStringLiteral("09-compare"),
         [&window, compare] { window.showPage(compare); },
         [compare, compared] {
             if (!*compared && !compare->isBusy() && compare->panel()->runButton()->isEnabled())
                 compare->panel()->runButton()->click();
             return *compared && !compare->isBusy();
         },
         120000},
    };
}

void StudioTour::start()
{
    QDir().mkpath(m_directory);
    m_window.resize(1600, 1000);
    m_probe.start();
    m_index = 0;
    m_stops.empty() ? emit finished(true) : next();
}

void StudioTour::next()
{
    if (m_index >= m_stops.size()) {
        m_probe.stop();
        emit finished(m_problems.isEmpty());
        return;
    }
    m_stops[m_index].act();
    m_clock.start();
    m_timer.start();
}

void StudioTour::poll()
{
    const Stop& stop = m_stops[m_index];
    const bool timedOut = m_clock.elapsed() > stop.timeoutMs;
    if (!stop.ready() && !timedOut)
        return;
    m_timer.stop();
    if (timedOut)
        m_problems << tr("%1: not ready after %2 s").arg(stop.name).arg(stop.timeoutMs / 1000);
    // Let the page's 40–50 ms redraw timer and the layouts settle before the picture.
    QTimer::singleShot(300, this, [this, name = stop.name, taken = stop.takenWhenReady] {
        if (!taken)
            shoot(name);
        ++m_index;
        next();
    });
}

void StudioTour::shoot(const QString& name)
{
    const QString path = QDir(m_directory).filePath(name + QStringLiteral(".png"));
    m_probe.pause();
    const QPixmap picture = m_window.grab();
    m_probe.resume();
    if (picture.save(path, "PNG"))
        m_saved << path;
    else
        m_problems << tr("%1: could not write %2").arg(name, path);
}

} // namespace studio
