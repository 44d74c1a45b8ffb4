// Catch2 runner for the GUI tests: offscreen by default, so build-time test discovery (catch_discover_tests
// runs the binary) and headless CI work; Fusion for stable rendering; test-mode standard paths so the tests
// never touch the user's settings.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <QApplication>
#include <QStandardPaths>

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("bitstudio-test"));
    QApplication::setOrganizationName(QStringLiteral("bitstudio"));
    QApplication::setStyle(QStringLiteral("Fusion"));
    QStandardPaths::setTestModeEnabled(true);
    return Catch::Session().run(argc, argv);
}
