// bitstudio [MODEL] [--tokenizer FILE] [--demo] [--screenshot out.png] [--screenshot-dir DIR]
// Without a model (or with --demo) the built-in demo model opens. --screenshot waits for the load to finish,
// grabs the window, saves a PNG and exits; --screenshot-dir runs a short scripted session (gui/studio_tour.h)
// saving a PNG at each stop, then exits. Both work with QT_QPA_PLATFORM=offscreen.
#include "gui/main_window.h"
#include "gui/studio_tour.h"
#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>
#include <cstdio>
#include <memory>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("bitstudio"));
    QApplication::setOrganizationName(QStringLiteral("bitstudio"));
    QApplication::setApplicationVersion(QStringLiteral(BQ_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("bitstudio"));
    QApplication::setStyle(QStringLiteral("Fusion"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("1-bit post-training quantization studio for LLMs"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("model"),
                                 QStringLiteral("A model file (llama2.c .bin, .gguf) or a Hugging Face directory"),
                                 QStringLiteral("[MODEL]"));
    const QCommandLineOption tokenizerOption(QStringLiteral("tokenizer"),
                                             QStringLiteral("Tokenizer file for a llama2.c checkpoint"),
                                             QStringLiteral("FILE"));
    const QCommandLineOption demoOption(QStringLiteral("demo"), QStringLiteral("Open the built-in demo model"));
    const QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
                                              QStringLiteral("Save a PNG of the window once the model is loaded, then exit"),
                                              QStringLiteral("FILE"));
    const QCommandLineOption tourOption(QStringLiteral("screenshot-dir"),
                                        QStringLiteral("Run a short demo session (layers, run, export, A/B chat, "
                                                       "compare), save a PNG at each stop in DIR, then exit"),
                                        QStringLiteral("DIR"));
    parser.addOption(tourOption);
    parser.addOption(tokenizerOption);
    parser.addOption(demoOption);
    parser.addOption(screenshotOption);
    parser.process(app);
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "bitstudio: expected at most one model path, got %lld\n", qlonglong(positional.size()));
        return 2;
    }

    studio::MainWindow window;
    window.resize(1440, 900);
    window.show();

    if (parser.isSet(screenshotOption)) {
        const QString out = parser.value(screenshotOption);
        auto done = std::make_shared<bool>(false);
        auto shoot = [&window, out, done](int code) {
            if (*done)
                return;
            *done = true;
            // Let layouts and the last repaint settle before grabbing.
            QTimer::singleShot(250, &window, [&window, out, code] {
                const bool saved = window.grab().save(out, "PNG");
                if (!saved)
                    std::fprintf(stderr, "bitstudio: could not write %s\n", qPrintable(out));
                QApplication::exit(saved ? code : 1);
            });
        };
        QObject::connect(&window, &studio::MainWindow::modelLoaded, &window, [shoot] { shoot(0); });
        QObject::connect(&window, &studio::MainWindow::loadFailed, &window, [shoot](const QString& message) {
            std::fprintf(stderr, "bitstudio: %s\n", qPrintable(message));
            shoot(1);
        });
        // Never hang: a load that takes longer than this still produces a picture.
        QTimer::singleShot(120000, &window, [shoot] { shoot(3); });
    }

    if (parser.isSet(tourOption)) {
        auto* tour = new studio::StudioTour(window, parser.value(tourOption), &window);
        QObject::connect(&window, &studio::MainWindow::modelLoaded, tour, &studio::StudioTour::start,
                         Qt::SingleShotConnection);
        QObject::connect(&window, &studio::MainWindow::loadFailed, &window, [](const QString& message) {
            std::fprintf(stderr, "bitstudio: %s\n", qPrintable(message));
            QApplication::exit(1);
        });
        QObject::connect(tour, &studio::StudioTour::finished, &window, [tour](bool ok) {
            for (const QString& path : tour->saved())
                std::printf("%s\n", qPrintable(path));
            const studio::EventLoopProbe& p = tour->probe();
            std::printf("event loop over the session (pictures excluded): max stall %.1f ms, p99 %.1f ms; GUI-thread "
                        "work between ticks: max %.1f ms, p99 %.1f ms; %d ticks\n",
                        p.maxStallMs(), p.percentileStallMs(99), p.maxBusyMs(), p.percentileBusyMs(99), p.samples());
            for (const QString& problem : tour->problems())
                std::fprintf(stderr, "bitstudio: %s\n", qPrintable(problem));
            QApplication::exit(ok ? 0 : 1);
        });
    }

    if (parser.isSet(demoOption) || positional.isEmpty())
        window.openDemo();
    else
        window.openModel(positional.first(), parser.value(tokenizerOption));
    return app.exec();
}
