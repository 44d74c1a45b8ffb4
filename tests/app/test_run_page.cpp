// The Run page on the demo model: live rows and depth points, the selected layer's plots, cancel and resume
// (bit-identical to an uninterrupted run), reopening the run file, cancel during calibration, analysis "light",
// plot and report export, well-behaved item models, and no event-loop stall while a run goes on.
#include <catch2/catch.hpp>
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/quantized_model.h"
#include "gui/calibration_controller.h"
#include "gui/event_loop_probe.h"
#include "gui/quantize_controller.h"
#include "gui/run_page.h"
#include "gui/run_report.h"
#include "widgets/calibration_panel.h"
#include "widgets/depth_chart.h"
#include "widgets/gram_spectrum_chart.h"
#include "widgets/histogram_chart.h"
#include "widgets/layer_results_model.h"
#include "widgets/objective_chart.h"
#include "widgets/plot_export.h"
#include "widgets/progress_text.h"
#include "widgets/run_view.h"
#include "widgets/salient_strip.h"
#include "widgets/spectrum_chart.h"
#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QDir>
#include <QFile>
#include <QLineSeries>
#include <QPushButton>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <map>
#include <string>

using namespace studio;

namespace {

constexpr int kDemoLayers = 28; // 4 blocks × 7 matrices; the embedding and the head stay in full precision

const std::shared_ptr<const bq::Model>& demoModel()
{
    static const std::shared_ptr<const bq::Model> model = bq::makeDemoModel();
    return model;
}

CalibrationSettings smallCalibration(int samples = 4, int length = 32)
{
    CalibrationSettings s;
    s.samples = samples;
    s.seqLen = length;
    return s;
}

// A page on the demo model with a small calibration, its run file in `dir`, idle (first check done).
void preparePage(RunPage& page, const QString& runPath, const CalibrationSettings& settings = smallCalibration())
{
    page.resize(1400, 950);
    page.show();
    QSignalSpy checked(&page, &RunPage::calibrationChecked);
    page.setModel(demoModel(), QStringLiteral(":demo"));
    page.calibrationPanel()->setSettings(settings);
    page.setRunPath(runPath);
    REQUIRE(checked.wait(30000));
    // Edits within the coalescing delay give one check; wait until no other is scheduled.
    QTest::qWait(300);
    REQUIRE(QTest::qWaitFor([&] { return !page.calibrationController()->isRunning(); }, 30000));
}

bq::JobStatus runToEnd(RunPage& page, QPushButton* button, int timeoutMs = 120000)
{
    QSignalSpy finished(page.quantizeController(), &QuantizeController::finished);
    QTest::mouseClick(button, Qt::LeftButton);
    REQUIRE(page.isBusy());
    REQUIRE(finished.wait(timeoutMs));
    QTest::qWait(100); // the last redraw tick
    return finished.at(0).at(0).value<bq::JobResult>().status;
}

// Everything a run determines: bits per weight and every metric but wall times and memory.
std::map<std::string, std::map<std::string, double>> deterministicMetrics(const std::vector<bq::LayerResult>& layers)
{
    std::map<std::string, std::map<std::string, double>> out;
    for (const bq::LayerResult& r : layers) {
        auto& m = out[r.tensor];
        m["bits_per_weight"] = r.bitsPerWeight;
        for (const auto& [key, v] : r.metrics)
            if (key.rfind("time.", 0) != 0 && key.rfind("memory.", 0) != 0)
                m[key] = v;
    }
    return out;
}

QString readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

} // namespace

TEST_CASE("a run fills the table and the depth chart live, shows the selected layer, exports plots and reports",
          "[gui][run]")
{
    QTemporaryDir dir;
    RunPage page;
    preparePage(page, dir.filePath(QStringLiteral("live.h5")));
    RunView* view = page.runView();
    QAbstractItemModelTester modelTester(view->resultsModel(), QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester proxyTester(view->resultsProxy(), QAbstractItemModelTester::FailureReportingMode::Fatal);
    CHECK(page.calibrationPanel()->statusText().contains(QStringLiteral("128 tokens")));
    CHECK(page.resumeCheck().state == ResumeCheck::State::NoRunFile);
    CHECK(page.startButton()->isEnabled());
    CHECK_FALSE(page.resumeButton()->isEnabled());

    QSignalSpy finishedModel(&page, &RunPage::runFinished);
    QSignalSpy busy(&page, &RunPage::busyChanged);
    QSignalSpy progress(&page, &RunPage::progress);
    QSignalSpy finished(page.quantizeController(), &QuantizeController::finished);
    EventLoopProbe probe;
    probe.start();
    QTest::mouseClick(page.startButton(), Qt::LeftButton);
    REQUIRE(page.isBusy());
    CHECK(page.cancelButton()->isEnabled());
    CHECK_FALSE(page.startButton()->isEnabled());

    // Rows and depth-chart points arrive while the run goes on.
    REQUIRE(QTest::qWaitFor([&] { return view->resultsModel()->rowCount() >= 8 || finished.count() > 0; }, 120000));
    // The probe measures the page, not the test's screenshot (grabbing the whole page takes a few 100 ms).
    probe.stop();
    const double stallBefore = probe.maxBusyMs();
    const int ticksBefore = probe.samples();
    if (finished.count() == 0) {
        CHECK(view->depthChart()->runSeries(0).value(0)->count() > 0);
        CHECK_FALSE(page.progressLine().isEmpty());
        QTest::qWait(50); // one more pass of the event loop lays the charts out
        page.grab().save(QStringLiteral("/tmp/g2/run_page_midrun.png"));
    }
    probe.start();
    REQUIRE(finished.wait(120000));
    probe.stop();
    QTest::qWait(100);
    INFO("longest stretch of GUI-thread work " << stallBefore << " ms over " << ticksBefore << " ticks, then "
                                     << probe.maxBusyMs() << " ms over " << probe.samples() << " ticks");
    CHECK(ticksBefore + probe.samples() > 20);
    CHECK(std::max(stallBefore, probe.maxBusyMs()) < 250); // GUI-thread work, whatever the machine's load
    REQUIRE(finished.at(0).at(0).value<bq::JobResult>().status == bq::JobStatus::Completed);
    CHECK_FALSE(page.isBusy());
    CHECK(busy.count() == 2);
    CHECK(progress.count() > 3);
    REQUIRE(finishedModel.count() == 1);
    const auto quantized = finishedModel.at(0).at(0).value<std::shared_ptr<const bq::quant::QuantizedModel>>();
    REQUIRE(quantized);
    CHECK(quantized->layers.size() == std::size_t(kDemoLayers));
    CHECK(view->resultsModel()->rowCount() == kDemoLayers);
    CHECK(view->blockMetrics().size() == 4);
    CHECK(page.statusText().startsWith(QStringLiteral("Completed")));

    // Every per-matrix metric and every per-block metric has points through depth.
    DepthChart* depth = view->depthChart();
    for (int m = 0; m < int(DepthChart::metrics().size()); ++m) {
        view->metricBox()->setCurrentIndex(m);
        INFO(DepthChart::metrics()[std::size_t(m)].label.toStdString());
        const auto series = depth->runSeries(0);
        REQUIRE_FALSE(series.isEmpty());
        const int expected = DepthChart::metrics()[std::size_t(m)].perBlock ? 4 : kDemoLayers;
        for (QLineSeries* s : series)
            CHECK(s->count() == expected);
    }
    view->metricBox()->setCurrentIndex(0);

    // Select a layer with the mouse: its plots fill in.
    const int sourceRow = view->resultsModel()->rowOf("blk.1.attn_q.weight");
    REQUIRE(sourceRow >= 0);
    const QModelIndex cell = view->resultsProxy()->mapFromSource(view->resultsModel()->index(sourceRow, 0));
    view->table()->scrollTo(cell);
    QTest::mouseClick(view->table()->viewport(), Qt::LeftButton, {}, view->table()->visualRect(cell).center());
    CHECK(view->shownTensor() == QStringLiteral("blk.1.attn_q.weight"));
    CHECK(view->spectrumChart()->weightSeries()->count() > 0);
    CHECK(view->spectrumChart()->quantizedSeries()->count() > 0);
    CHECK(view->spectrumChart()->errorSeries()->count() > 0);
    CHECK(view->spectrumChart()->chart()->title().contains(QStringLiteral("exact")));
    CHECK(view->gramChart()->eigenvalueSeries()->count() > 0);
    CHECK(view->gramChart()->statisticsText().contains(QStringLiteral("eff. rank")));
    CHECK(view->histogramChart()->weightSeries()->count() == 2 * 64);
    CHECK(view->histogramChart()->levelCount() > 0);
    CHECK(view->salientStrip()->columns() == 128);
    QTest::qWait(50);
    page.grab().save(QStringLiteral("/tmp/g2/run_page_finished.png"));

    // Sorting and filtering go through the proxy.
    view->filterEdit()->setText(QStringLiteral("attn_v"));
    CHECK(view->resultsProxy()->rowCount() == 4);
    view->filterEdit()->clear();
    view->table()->sortByColumn(LayerResultsModel::WeightErrorColumn, Qt::DescendingOrder);
    const auto weightError = [&](int proxyRow) {
        return view->resultsProxy()->index(proxyRow, LayerResultsModel::WeightErrorColumn).data(LayerResultsModel::SortRole).toDouble();
    };
    CHECK(weightError(0) >= weightError(kDemoLayers - 1));
    CHECK(view->resultsModel()->headerData(LayerResultsModel::LocalErrorColumn, Qt::Horizontal, Qt::ToolTipRole)
              .toString() == QString::fromUtf8(bq::quant::metricDescription(bq::quant::metric::OutputLocal).data()));

    // Plots export as PNG and SVG; the run as CSV and JSON reports.
    const QString png = dir.filePath(QStringLiteral("spectrum.png"));
    const QString svg = dir.filePath(QStringLiteral("depth.svg"));
    CHECK(savePlotPng(view->spectrumChart(), png));
    CHECK(QImage(png).width() == view->spectrumChart()->width());
    CHECK(savePlotSvg(view->depthChart(), svg, QStringLiteral("depth")));
    CHECK(readAll(svg).contains(QStringLiteral("<svg")));
    const QString csv = dir.filePath(QStringLiteral("report.csv"));
    const QString json = dir.filePath(QStringLiteral("report.json"));
    REQUIRE(page.exportReport(csv));
    REQUIRE(page.exportReport(json));
    const QStringList lines = readAll(csv).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    CHECK(lines.size() == 1 + kDemoLayers + 4);
    CHECK(lines.front().startsWith(QStringLiteral("kind,name,block,method,decided_by,bits_per_weight,seconds,weight.rel_error")));
    const auto report = nlohmann::json::parse(readAll(json).toStdString());
    CHECK(report["layers"].size() == std::size_t(kDemoLayers));
    CHECK(report["blocks"].size() == 4u);
    CHECK(report["run"]["recipe"]["defaults"]["samples"] == 4);
}

TEST_CASE("cancel after a layer event leaves a resumable run, Resume ends bit-identical to an uninterrupted run, "
          "and the reopened run file shows the same rows",
          "[gui][run]")
{
    QTemporaryDir dir;
    const CalibrationSettings settings = smallCalibration(16, 64);

    RunPage reference;
    const QString referencePath = dir.filePath(QStringLiteral("reference.h5"));
    preparePage(reference, referencePath, settings);
    REQUIRE(runToEnd(reference, reference.startButton()) == bq::JobStatus::Completed);
    const std::vector<bq::LayerResult> uninterrupted = reference.runView()->layerResults();
    REQUIRE(uninterrupted.size() == std::size_t(kDemoLayers));

    RunPage page;
    preparePage(page, dir.filePath(QStringLiteral("interrupted.h5")), settings);
    QAbstractItemModelTester modelTester(page.runView()->resultsModel(),
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester proxyTester(page.runView()->resultsProxy(),
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    QSignalSpy checked(&page, &RunPage::calibrationChecked);
    for (const int cancelAfter : {3, 10}) {
        // cancel() reaches the job at once; the core acknowledges between layers or calibration sequences.
        int layers = 0;
        QElapsedTimer sinceCancel;
        qint64 acknowledgedMs = -1;
        const auto cancelling = QObject::connect(page.quantizeController(), &QuantizeController::layerDone, &page,
                                                 [&](const bq::LayerResult&) {
                                                     if (++layers != cancelAfter)
                                                         return;
                                                     sinceCancel.start();
                                                     page.cancel();
                                                 });
        const auto ended = QObject::connect(page.quantizeController(), &QuantizeController::finished, &page,
                                            [&] { acknowledgedMs = sinceCancel.isValid() ? sinceCancel.elapsed() : -1; });
        const bq::JobStatus status =
            runToEnd(page, cancelAfter == 3 ? page.startButton() : page.resumeButton());
        QObject::disconnect(cancelling);
        QObject::disconnect(ended);
        INFO("cancelled after layer event " << cancelAfter << ", acknowledged after " << acknowledgedMs << " ms");
        REQUIRE(status == bq::JobStatus::Cancelled);
        CHECK(acknowledgedMs >= 0);
        CHECK(acknowledgedMs < 1000);
        CHECK_FALSE(page.isBusy());
        CHECK(page.startButton()->isEnabled());
        CHECK_FALSE(page.cancelButton()->isEnabled());
        CHECK(page.statusText().startsWith(QStringLiteral("Cancelled")));
        CHECK(page.runView()->resultsModel()->rowCount() < kDemoLayers);
        // The page checks the run file again once the run has ended, and offers Resume.
        REQUIRE(QTest::qWaitFor([&] { return checked.count() > 0 && !page.calibrationController()->isRunning(); },
                                30000));
        checked.clear();
        CHECK(page.resumeCheck().canResume());
        CHECK(page.resumeButton()->isEnabled());
    }
    REQUIRE(runToEnd(page, page.resumeButton()) == bq::JobStatus::Completed);
    CHECK(page.statusText().contains(QStringLiteral("replayed from the run file")));
    const std::vector<bq::LayerResult> resumed = page.runView()->layerResults();
    CHECK(resumed.size() == uninterrupted.size());
    CHECK(deterministicMetrics(resumed) == deterministicMetrics(uninterrupted));

    // The finished file, reopened, shows the same rows in the same (model) order.
    QSignalSpy opened(&page, &RunPage::calibrationChecked);
    REQUIRE(page.openRunFile(referencePath));
    REQUIRE(QTest::qWaitFor([&] { return page.statusText().startsWith(QStringLiteral("Opened")); }, 30000));
    const std::vector<bq::LayerResult>& fromFile = page.runView()->layerResults();
    REQUIRE(fromFile.size() == uninterrupted.size());
    for (std::size_t i = 0; i < fromFile.size(); ++i)
        CHECK(fromFile[i].tensor == uninterrupted[i].tensor);
    CHECK(deterministicMetrics(fromFile) == deterministicMetrics(uninterrupted));
    CHECK(page.runView()->blockMetrics().size() == 4);
    CHECK(page.runView()->depthChart()->earlierRunCount() == 1); // the resumed run, kept for comparison
    CHECK(page.runView()->depthChart()->runSeries(1).value(0)->count() > 0);
    // The opened file becomes the run file: complete, so nothing to resume.
    REQUIRE(opened.wait(30000));
    CHECK(page.resumeCheck().state == ResumeCheck::State::Complete);
    CHECK_FALSE(page.resumeButton()->isEnabled());
}

TEST_CASE("a resume check names the field that differs", "[gui][run]")
{
    QTemporaryDir dir;
    RunPage page;
    const QString path = dir.filePath(QStringLiteral("seeded.h5"));
    preparePage(page, path);
    int layers = 0;
    QObject::connect(page.quantizeController(), &QuantizeController::layerDone, &page, [&](const bq::LayerResult&) {
        if (++layers == 2)
            page.cancel();
    });
    QSignalSpy checked(&page, &RunPage::calibrationChecked);
    REQUIRE(runToEnd(page, page.startButton()) == bq::JobStatus::Cancelled);
    REQUIRE(QTest::qWaitFor([&] { return checked.count() > 0; }, 30000));
    REQUIRE(page.resumeCheck().canResume());
    checked.clear();

    CalibrationSettings other = page.calibrationPanel()->settings();
    other.seed = 7; // other windows
    page.calibrationPanel()->setSettings(other);
    REQUIRE(checked.wait(30000));
    CHECK(page.resumeCheck().state == ResumeCheck::State::Mismatch);
    CHECK(page.resumeCheck().message.contains(QStringLiteral("calibration fingerprint differs")));
    CHECK_FALSE(page.resumeCheck().message.contains(QStringLiteral("model fingerprint")));
    CHECK_FALSE(page.resumeButton()->isEnabled());

    bq::quant::Recipe recipe = bq::quant::builtinRecipe("sign");
    page.calibrationPanel()->setSettings(smallCalibration());
    page.setRecipe(recipe);
    REQUIRE(checked.wait(30000));
    CHECK(page.resumeCheck().message.contains(QStringLiteral("recipe fingerprint differs")));
    CHECK_FALSE(page.resumeCheck().message.contains(QStringLiteral("calibration fingerprint")));
}

TEST_CASE("cancel during calibration returns the page to idle with nothing shown", "[gui][run]")
{
    QTemporaryDir dir;
    // A long calibration text, so tokenizing it takes a while.
    const QString text = dir.filePath(QStringLiteral("long.txt"));
    {
        std::ofstream f(text.toStdString(), std::ios::binary);
        for (int i = 0; i < 60; ++i)
            f << bq::demoText() << "\n\n";
    }
    CalibrationSettings settings = smallCalibration();
    settings.sources = {text};

    SECTION("the calibration controller")
    {
        CalibrationController controller;
        QSignalSpy cancelled(&controller, &CalibrationController::cancelled);
        QSignalSpy built(&controller, &CalibrationController::built);
        controller.build({settings, demoModel(), bq::quant::builtinRecipe("arb-rc"), {}});
        QTest::qWait(20);
        controller.cancel();
        REQUIRE(QTest::qWaitFor([&] { return !controller.isRunning(); }, 10000));
        QTest::qWait(50);
        CHECK(cancelled.count() + built.count() == 1); // a build faster than the cancel still ends cleanly
        // It builds again afterwards.
        controller.build({smallCalibration(), demoModel(), bq::quant::builtinRecipe("arb-rc"), {}});
        REQUIRE(built.wait(30000));
        CHECK(built.last().at(0).value<CalibrationSummary>().tokens == 128);
    }

    SECTION("a start while the page checks the run file waits for the check, then runs")
    {
        RunPage page;
        preparePage(page, dir.filePath(QStringLiteral("waits.h5")));
        REQUIRE(runToEnd(page, page.startButton()) == bq::JobStatus::Completed); // now there is a file to check
        QTest::qWait(300);
        REQUIRE(QTest::qWaitFor([&] { return !page.calibrationController()->isRunning(); }, 30000));
        page.calibrationPanel()->setSettings(settings); // the long text: the check takes a while
        REQUIRE(QTest::qWaitFor([&] { return page.calibrationController()->isRunning(); }, 5000));
        CHECK(runToEnd(page, page.startButton()) == bq::JobStatus::Completed);
        CHECK(page.runView()->resultsModel()->rowCount() == kDemoLayers);
    }

    SECTION("the quantization's calibration stage")
    {
        RunPage page;
        preparePage(page, dir.filePath(QStringLiteral("calib.h5")), settings);
        QSignalSpy finished(page.quantizeController(), &QuantizeController::finished);
        std::vector<bq::Stage> stages;
        QObject::connect(&page, &RunPage::progress, &page, [&](const bq::ProgressEvent& e) { stages.push_back(e.stage); });
        QElapsedTimer clock;
        REQUIRE(page.start());
        clock.start();
        page.cancel();
        REQUIRE(finished.wait(5000));
        CHECK(clock.elapsed() < 1000);
        CHECK(finished.at(0).at(0).value<bq::JobResult>().status == bq::JobStatus::Cancelled);
        for (bq::Stage s : stages)
            CHECK(s != bq::Stage::Quantize);
        CHECK_FALSE(page.isBusy());
        CHECK(page.startButton()->isEnabled());
        CHECK(page.runView()->resultsModel()->rowCount() == 0);
        // Nothing broken: the page runs again.
        page.calibrationPanel()->setSettings(smallCalibration());
        REQUIRE(QTest::qWaitFor([&] { return !page.calibrationController()->isRunning(); }, 30000));
        QTest::qWait(300);
        REQUIRE(runToEnd(page, page.startButton()) == bq::JobStatus::Completed);
        CHECK(page.runView()->resultsModel()->rowCount() == kDemoLayers);
    }
}

TEST_CASE("with analysis \"light\" the second-stream metrics and the spectra say why they are missing", "[gui][run]")
{
    QTemporaryDir dir;
    RunPage page;
    bq::quant::Recipe recipe = bq::quant::builtinRecipe("arb-rc");
    recipe.analysis = "light";
    page.setRecipe(recipe);
    preparePage(page, dir.filePath(QStringLiteral("light.h5")));
    REQUIRE(runToEnd(page, page.startButton()) == bq::JobStatus::Completed);
    RunView* view = page.runView();
    CHECK(view->resultsModel()->rowCount() == kDemoLayers);
    view->metricBox()->setCurrentIndex(5); // residual-stream relative MSE per block
    CHECK(view->depthChart()->titleText().contains(QStringLiteral("not computed")));
    CHECK(view->depthChart()->titleText().contains(QStringLiteral("light")));
    view->metricBox()->setCurrentIndex(1); // weight error: computed either way
    CHECK(view->depthChart()->runSeries(0).value(0)->count() == kDemoLayers);
    view->selectTensor("blk.0.ffn_down.weight");
    CHECK(view->spectrumChart()->weightSeries()->count() == 0);
    CHECK(view->spectrumChart()->chart()->title().contains(QStringLiteral("not computed")));
    QTest::qWait(50);
    page.grab().save(QStringLiteral("/tmp/g2/run_page_light.png"));
}

namespace {

bq::LayerResult syntheticLayer(const std::string& tensor, std::map<std::string, std::vector<double>> arrays,
                               std::map<std::string, double> metrics = {})
{
    bq::LayerResult r;
    r.tensor = tensor;
    r.block = 0;
    r.method = "arb-rc";
    r.decidedBy = "default";
    r.bitsPerWeight = 1.5;
    r.metrics = std::move(metrics);
    auto a = std::make_shared<bq::LayerArrays>();
    a->values = std::move(arrays);
    r.arrays = a;
    return r;
}

} // namespace

TEST_CASE("the layer plots label exact and randomized spectra, draw Ŵ's levels and say why they are empty",
          "[gui][run]")
{
    namespace q = bq::quant;
    std::vector<double> sv(64);
    for (std::size_t i = 0; i < sv.size(); ++i)
        sv[i] = 1.0 / double(i + 1);
    const bq::LayerResult randomized = syntheticLayer(
        "blk.0.attn_q.weight",
        {{q::array::SvWeight, sv}, {q::array::SvQuantized, sv}, {q::array::SvError, sv},
         {q::array::GramEigenvalues, {4, 2, 1, 0}},
         {q::array::HistEdges, {-2, -1, 0, 1, 2}}, {q::array::HistWeight, {1, 2, 3, 4}},
         {q::array::HistQuantized, {0, 5, 0, 5}}, {q::array::SalientColumns, {0, 1, 1, 0}}},
        {{q::metric::SvExact, 0}, {q::metric::GramEffectiveRank, 2.5}});

    SpectrumChart spectrum;
    spectrum.setLayer(randomized);
    spectrum.refresh();
    CHECK(spectrum.chart()->title().contains(QStringLiteral("top-64 (randomized)")));
    CHECK(spectrum.weightSeries()->count() == 64);
    GramSpectrumChart gram;
    gram.setLayer(randomized);
    gram.refresh();
    CHECK(gram.eigenvalueSeries()->count() == 3); // the zero eigenvalue has no place on a log axis
    CHECK(gram.chart()->title().contains(QStringLiteral("1 zero(s) not drawn")));
    CHECK(gram.statisticsText().contains(QStringLiteral("eff. rank 2.5 / 4")));
    HistogramChart histogram;
    histogram.setLayer(randomized);
    histogram.refresh();
    CHECK(histogram.weightSeries()->count() == 8); // a step per bin
    CHECK(histogram.levelCount() == 2);
    CHECK(histogram.levelSeries()->count() == 6); // baseline → count → baseline per level
    ObjectiveChart objective;
    objective.setLayer(randomized);
    objective.refresh();
    CHECK(objective.traceSeries()->count() == 0);
    CHECK(objective.chart()->title().contains(QStringLiteral("records no objective trace")));
    SalientStrip strip;
    strip.setLayer(randomized);
    CHECK(strip.salientCount() == 2);
    CHECK(strip.caption().contains(QStringLiteral("2 of 4 (50.0 %)")));

    bq::LayerResult kept;
    kept.tensor = "blk.0.attn_k.weight";
    kept.method = "fp";
    spectrum.setLayer(kept);
    spectrum.refresh();
    CHECK(spectrum.weightSeries()->count() == 0);
    CHECK(spectrum.chart()->title().contains(QStringLiteral("kept in full precision")));
    spectrum.clearLayer();
    spectrum.refresh();
    CHECK(spectrum.chart()->title().contains(QStringLiteral("select a layer")));

    const QString svg = QDir::temp().filePath(QStringLiteral("bitstudio-salient-%1.svg").arg(QCoreApplication::applicationPid()));
    strip.resize(400, 40);
    CHECK(savePlotSvg(&strip, svg, QStringLiteral("salient")));
    CHECK(readAll(svg).contains(QStringLiteral("<svg")));
    QFile::remove(svg);
}

TEST_CASE("the layer plots sit in a grid when there is room and in tabs when there is not", "[gui][run]")
{
    RunView view;
    view.resize(1600, 1100);
    view.show();
    QTest::qWait(50);
    CHECK_FALSE(view.layerPlotsTabbed());
    view.resize(800, 600);
    QTest::qWait(50);
    CHECK(view.layerPlotsTabbed());
    CHECK(view.spectrumChart()->isVisible());
    view.resize(1600, 1100);
    QTest::qWait(50);
    CHECK_FALSE(view.layerPlotsTabbed());
    CHECK(view.histogramChart()->isVisible());
    CHECK(view.objectiveChart()->isVisible());
}

TEST_CASE("the results model inserts a batch at once, updates re-reported layers and passes the model tester",
          "[gui][run]")
{
    namespace q = bq::quant;
    LayerResultsModel model;
    QSortFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    proxy.setSortRole(LayerResultsModel::SortRole);
    proxy.sort(LayerResultsModel::WeightErrorColumn);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::Fatal);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

    for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"})
        model.add(syntheticLayer(name, {}, {{q::metric::WeightRelError, 0.5}}));
    CHECK(model.rowCount() == 0); // queued until the redraw tick
    CHECK(model.flush());
    CHECK(model.rowCount() == 3);
    CHECK(inserted.count() == 1);
    CHECK_FALSE(model.flush());

    model.add(syntheticLayer("blk.0.attn_k.weight", {}, {{q::metric::WeightRelError, 0.25}}));
    model.add(syntheticLayer("blk.0.attn_output.weight", {}, {{q::metric::WeightRelError, 0.75}}));
    CHECK(model.flush());
    CHECK(model.rowCount() == 4);
    CHECK(inserted.count() == 2);
    CHECK(changed.count() == 1);
    CHECK(model.index(1, LayerResultsModel::WeightErrorColumn).data().toString() == QStringLiteral("0.25"));
    CHECK(model.index(1, LayerResultsModel::LocalErrorColumn).data().toString() == QStringLiteral("—"));
    CHECK(proxy.index(0, LayerResultsModel::TensorColumn).data().toString() == QStringLiteral("blk.0.attn_k.weight"));

    model.setResults({syntheticLayer("output.weight", {})});
    CHECK(model.rowCount() == 1);
    CHECK(model.rowOf("output.weight") == 0);
    CHECK(model.rowOf("blk.0.attn_k.weight") == -1);
}

TEST_CASE("the depth chart lines runs up by tensor, keeps earlier runs and says when a metric is not computed",
          "[gui][run]")
{
    namespace q = bq::quant;
    DepthChart chart;
    chart.setCurrentName(QStringLiteral("first"));
    for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.1.attn_q.weight"})
        chart.addLayer(syntheticLayer(name, {}, {{q::metric::OutputCumulative, 0.2}, {q::metric::OutputLocal, 0.1}}));
    chart.refresh();
    REQUIRE(chart.runSeries(0).size() == 2);
    CHECK(chart.runSeries(0)[0]->count() == 3);

    chart.archiveCurrent();
    chart.setCurrentName(QStringLiteral("second"));
    chart.setNotComputed(QStringLiteral("the recipe's analysis is \"light\""));
    chart.addLayer(syntheticLayer("blk.1.attn_q.weight", {}, {{q::metric::WeightRelError, 0.4}}));
    chart.addLayer(syntheticLayer("blk.0.attn_v.weight", {}, {{q::metric::WeightRelError, 0.3}}));
    chart.refresh();
    CHECK(chart.earlierRunCount() == 1);
    CHECK(chart.runSeries(0)[0]->count() == 0);
    CHECK(chart.runSeries(1)[0]->count() == 3);
    CHECK(chart.titleText().contains(QStringLiteral("second: not computed")));
    CHECK(chart.titleText().contains(QStringLiteral("light")));
    // blk.1.attn_q sits after blk.0.attn_q, attn_k and attn_v in both runs: x = 3.
    CHECK(chart.runSeries(1)[0]->at(2).x() == 3);

    chart.setMetric(1); // weight error: computed in the second run only
    chart.refresh();
    REQUIRE(chart.runSeries(0).size() == 1);
    CHECK(chart.runSeries(0)[0]->count() == 2);
    CHECK(chart.runSeries(0)[0]->at(1).x() == 3);
    CHECK(chart.runSeries(1)[0]->count() == 0);
    chart.clearEarlierRuns();
    chart.refresh();
    CHECK(chart.runSeries(1).isEmpty());
}

TEST_CASE("progress reads as one status line, and reports quote what CSV would split", "[gui][run]")
{
    bq::ProgressEvent e;
    e.stage = bq::Stage::Quantize;
    e.step = 2;
    e.stepCount = 4;
    e.sub = 1;
    e.subCount = 7;
    e.elapsedSec = 12.34;
    e.etaSec = 8;
    e.rssBytes = 240ull << 20;
    CHECK(progressText(e) == QStringLiteral("Quantize · block 3/4 · matrix 2/7 · 12.3 s · ETA 8.0 s · RSS 240 MiB"));
    CHECK(formatDuration(245) == QStringLiteral("4 min 05 s"));

    bq::LayerResult r = syntheticLayer("blk.0.attn_q.weight", {}, {{bq::quant::metric::WeightRelError, 0.1}});
    r.decidedBy = "rule 1: re:blk\\.(0,1)";
    const std::string csv = runReportCsv({r}, {{0, {{bq::quant::metric::ResidualRelMse, 0.5}}}});
    CHECK(csv.find("\"rule 1: re:blk\\.(0,1)\"") != std::string::npos);
    CHECK(csv.find("block,blk.0,0,,,,") != std::string::npos);
    CHECK(csv.find(",0.10000000000000001,") != std::string::npos);
}
