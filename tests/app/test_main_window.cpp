// GUI tests: the main window loads models through ModelLoadController on its worker thread, the model panel
// shows the loaded model, the tensor table model is a well-behaved Qt item model, and failures are reported
// without crashing.
#include <catch2/catch.hpp>
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "gui/event_loop_probe.h"
#include "gui/main_window.h"
#include "gui/model_load_controller.h"
#include "widgets/log_panel.h"
#include "widgets/metadata_tree.h"
#include "widgets/model_overview.h"
#include "widgets/model_panel.h"
#include "widgets/tensor_table_model.h"
#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QWidget>
#include <algorithm>

namespace {

QStringList g_modelTestFailures;
QtMessageHandler g_previousHandler = nullptr;

void collectModelTestMessages(QtMsgType type, const QMessageLogContext& context, const QString& message)
{
    if (context.category && QByteArray(context.category).startsWith("qt.modeltest"))
        g_modelTestFailures << message;
    else if (g_previousHandler)
        g_previousHandler(type, context, message);
}

bool waitForLoad(studio::MainWindow& window, QSignalSpy& spy, int count = 1, int timeoutMs = 60000)
{
    return QTest::qWaitFor([&] { return spy.count() >= count && !window.isLoading(); }, timeoutMs);
}

} // namespace

TEST_CASE("the main window opens the demo model through the load controller", "[gui]")
{
    studio::MainWindow window;
    window.resize(1200, 800);
    window.show();
    QSignalSpy loaded(&window, &studio::MainWindow::modelLoaded);
    QSignalSpy failed(&window, &studio::MainWindow::loadFailed);

    window.openDemo();
    CHECK(window.isLoading()); // load() returns at once; the work happens on the worker thread
    REQUIRE(waitForLoad(window, loaded));
    CHECK(failed.count() == 0);
    const auto model = window.model();
    REQUIRE(model);
    REQUIRE(model->config.nLayers == 4);
    REQUIRE(model->config.vocabSize == 512);

    const studio::ModelPanel* panel = window.modelPanel();
    CHECK(panel->summaryValue(QStringLiteral("Layers")) == QStringLiteral("4"));
    CHECK(panel->summaryValue(QStringLiteral("Vocabulary")) == QStringLiteral("512"));
    CHECK(panel->summaryValue(QStringLiteral("Architecture")) == QStringLiteral("llama"));
    CHECK(panel->summaryValue(QStringLiteral("Heads")) == QStringLiteral("4 (2 KV)"));
    CHECK(panel->summaryValue(QStringLiteral("Head dim")) == QStringLiteral("32"));
    CHECK(panel->summaryValue(QStringLiteral("Context")) == QStringLiteral("256"));
    CHECK(panel->summaryValue(QStringLiteral("Tied embeddings")) == QStringLiteral("no"));
    CHECK(panel->summaryValue(QStringLiteral("RoPE")).startsWith(QStringLiteral("interleaved")));
    CHECK(panel->summaryValue(QStringLiteral("Tokenizer")).contains(QStringLiteral("512 pieces")));
    CHECK(window.windowTitle().contains(QStringLiteral("bitstudio demo")));

    // Metadata grouped by namespace, general first and the architecture next.
    const studio::MetadataTree* tree = panel->metadataTree();
    CHECK(tree->groupNames() == QStringList({QStringLiteral("general"), QStringLiteral("llama"), QStringLiteral("tokenizer")}));
    CHECK(tree->value(QStringLiteral("llama.block_count")) == QStringLiteral("4"));
    CHECK(tree->value(QStringLiteral("tokenizer.ggml.bos_token_id")) == QStringLiteral("1"));

    // Tensor table in model order: 9 matrices/norms per block plus embedding, final norm and head.
    const studio::TensorTableModel* tensors = panel->tensorModel();
    REQUIRE(tensors->rowCount() == int(model->tensors.size()));
    CHECK(tensors->rowCount() == 3 + 9 * 4);
    CHECK(tensors->tensorName(0) == QStringLiteral("token_embd.weight"));
    CHECK(tensors->tensorName(1) == QStringLiteral("blk.0.attn_norm.weight"));
    CHECK(tensors->tensorName(2) == QStringLiteral("blk.0.attn_q.weight"));
    CHECK(tensors->tensorName(tensors->rowCount() - 1) == QStringLiteral("output.weight"));
    const QModelIndex qRow = tensors->index(2, studio::TensorTableModel::ShapeColumn);
    CHECK(tensors->data(qRow).toString() == QStringLiteral("[128, 128]"));
    CHECK(tensors->data(tensors->index(2, studio::TensorTableModel::DTypeColumn)).toString() == QStringLiteral("F32"));
    CHECK(tensors->data(tensors->index(2, studio::TensorTableModel::BytesColumn), studio::TensorTableModel::SortRole)
              .toULongLong() == 128u * 128u * 4u);

    // The filter box narrows the table (substring, or wildcards when * or ? is typed).
    QSortFilterProxyModel* proxy = panel->tensorProxy();
    panel->tensorFilter()->setText(QStringLiteral("attn_q"));
    CHECK(proxy->rowCount() == 4);
    panel->tensorFilter()->setText(QStringLiteral("FFN_*"));
    CHECK(proxy->rowCount() == 3 * 4 + 4); // ffn_gate/up/down and ffn_norm in each block
    panel->tensorFilter()->setText(QStringLiteral("blk.1.*"));
    CHECK(proxy->rowCount() == 9);
    panel->tensorFilter()->clear();
    CHECK(proxy->rowCount() == tensors->rowCount());
    // Sorting by size puts a [512, 128] matrix (embedding or head) first.
    proxy->sort(studio::TensorTableModel::BytesColumn, Qt::DescendingOrder);
    const QString biggest = proxy->data(proxy->index(0, studio::TensorTableModel::NameColumn)).toString();
    CHECK((biggest == QStringLiteral("token_embd.weight") || biggest == QStringLiteral("output.weight")));

    // The central overview describes the same model, including how its tokenizer splits a sentence.
    const QString overview = window.overview()->toPlainText();
    CHECK(overview.contains(QStringLiteral("Block structure")));
    CHECK(overview.contains(QStringLiteral("attn_q.weight")));
    CHECK(overview.contains(QStringLiteral("▁Once")));

    // The window renders (what --screenshot saves).
    const QPixmap shot = window.grab();
    CHECK(shot.width() == window.width());
    CHECK(shot.height() == window.height());
}

TEST_CASE("the tensor table model passes QAbstractItemModelTester", "[gui]")
{
    g_modelTestFailures.clear();
    g_previousHandler = qInstallMessageHandler(collectModelTestMessages);
    {
        studio::TensorTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Warning);
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(studio::TensorTableModel::SortRole);
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::Warning);

        const auto demo = bq::makeDemoModel();
        model.setModel(demo);
        CHECK(model.rowCount() == 39);
        CHECK(model.columnCount() == studio::TensorTableModel::ColumnCount);
        proxy.sort(studio::TensorTableModel::ShapeColumn, Qt::AscendingOrder);
        proxy.setFilterFixedString(QStringLiteral("blk.2"));
        CHECK(proxy.rowCount() == 9);
        proxy.setFilterFixedString(QString());
        model.setModel(nullptr);
        CHECK(model.rowCount() == 0);
        CHECK(proxy.rowCount() == 0);
        model.setModel(demo);
        CHECK(proxy.rowCount() == 39);
        // Headers and tooltips exist for every column.
        for (int c = 0; c < model.columnCount(); ++c) {
            CHECK(!model.headerData(c, Qt::Horizontal).toString().isEmpty());
            CHECK(!model.data(model.index(0, c), Qt::ToolTipRole).toString().isEmpty());
        }
    }
    qInstallMessageHandler(g_previousHandler);
    INFO(g_modelTestFailures.join(QLatin1Char('\n')).toStdString());
    CHECK(g_modelTestFailures.isEmpty());
}

TEST_CASE("the event loop keeps turning while a model loads", "[gui]")
{
    studio::MainWindow window;
    window.show();
    QSignalSpy loaded(&window, &studio::MainWindow::modelLoaded);

    // A 125M-parameter model (OPT-125M's shape, random weights: about a second of CPU to build) so that a load
    // running on the GUI thread would show as one long stretch of GUI-thread CPU time, then the demo. Wall-clock
    // gaps are printed, not checked: a loaded machine delays ticks without any work on the GUI thread.
    studio::EventLoopProbe probe;
    QElapsedTimer clock;
    clock.start();
    probe.start();
    window.openModel(QStringLiteral(":synthetic:opt125m"));
    REQUIRE(waitForLoad(window, loaded, 1, 120000));
    const qint64 bigLoadMs = clock.elapsed();
    window.openDemo();
    REQUIRE(waitForLoad(window, loaded, 2));
    probe.stop();
    INFO("the 125M load took " << bigLoadMs << " ms, both " << clock.elapsed() << " ms, " << probe.samples()
                               << " ticks; longest stall " << probe.maxStallMs() << " ms (p99 "
                               << probe.percentileStallMs(99) << "); longest GUI-thread work " << probe.maxBusyMs()
                               << " ms (p99 " << probe.percentileBusyMs(99) << ")");
    CHECK(loaded.count() == 2);
    CHECK(probe.samples() > 10);
    CHECK(probe.maxBusyMs() < 250);
}

TEST_CASE("a model that cannot be loaded is reported without crashing", "[gui]")
{
    studio::MainWindow window;
    window.show();
    QSignalSpy loaded(&window, &studio::MainWindow::modelLoaded);
    QSignalSpy failed(&window, &studio::MainWindow::loadFailed);

    window.openDemo();
    REQUIRE(waitForLoad(window, loaded));
    const auto demo = window.model();

    window.openModel(QStringLiteral("/nonexistent/dir/missing-model.gguf"));
    REQUIRE(waitForLoad(window, failed));
    CHECK(loaded.count() == 1);
    CHECK(window.logPanel()->errorCount() == 1);
    const QString lastLine = window.logPanel()->lines().constLast();
    CHECK(lastLine.startsWith(QStringLiteral("error ")));
    CHECK(lastLine.contains(QStringLiteral("missing-model.gguf")));
    CHECK(window.statusText().contains(QStringLiteral("Could not load")));
    // The previous model stays shown.
    CHECK(window.model() == demo);
    CHECK(window.modelPanel()->summaryValue(QStringLiteral("Layers")) == QStringLiteral("4"));

    // A file of junk bytes: rejected by the loader, reported, no crash.
    QTemporaryDir dir;
    REQUIRE(dir.isValid());
    const QString junk = dir.filePath(QStringLiteral("junk.bin"));
    {
        QFile f(junk);
        REQUIRE(f.open(QIODevice::WriteOnly));
        QByteArray bytes(1000, '\0');
        for (int i = 0; i < bytes.size(); ++i)
            bytes[i] = char((i * 37 + 11) & 0xff);
        f.write(bytes);
    }
    window.openModel(junk);
    REQUIRE(waitForLoad(window, failed, 2));
    CHECK(window.logPanel()->errorCount() == 2);
    CHECK(window.model() == demo);
}

TEST_CASE("a newer load supersedes an older one", "[gui]")
{
    studio::MainWindow window;
    QSignalSpy loaded(&window, &studio::MainWindow::modelLoaded);
    QSignalSpy failed(&window, &studio::MainWindow::loadFailed);
    window.openModel(QStringLiteral("/nonexistent/first.gguf"));
    window.openDemo();
    REQUIRE(waitForLoad(window, loaded));
    QTest::qWait(50);
    CHECK(failed.count() == 0); // the first (failing) load was superseded, its result dropped
    CHECK(loaded.count() == 1);
    REQUIRE(window.model());
    CHECK(window.model()->sourceFormat == "demo");
}
