// The Layer lab on the demo model: blk.0.attn_q.weight with arb-rc (A) and sign (B), steps with finite objectives,
// a step's snapshot in the Ŵ heatmap, the statistics reused for a second run, cancel mid-run, and the heatmap's
// pooling and hover text.
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/tokenizer/tokenizer.h"
#include "gui/lab_controller.h"
#include "gui/lab_page.h"
#include "widgets/heatmap_view.h"
#include "widgets/lab_method_panel.h"
#include "widgets/lab_view.h"
#include "widgets/step_chart.h"
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>
#include <QToolButton>
#include <catch2/catch.hpp>
#include <cmath>

using namespace studio;

namespace {

bool runAndWait(LabPage& page, int timeoutMs = 60000)
{
    QSignalSpy finished(page.controller(), &LabController::finished);
    QTest::mouseClick(page.view()->runButton(), Qt::LeftButton);
    return page.isBusy() && QTest::qWaitFor([&] { return finished.count() == 1 && !page.isBusy(); }, timeoutMs);
}

} // namespace

TEST_CASE("layer lab: arb-rc and sign side by side, every step shown", "[gui][lab]")
{
    LabPage page;
    page.resize(1600, 1000);
    page.show();
    const auto model = bq::makeDemoModel();
    page.setModel(model);
    LabView* view = page.view();
    REQUIRE(view->tensor() == QStringLiteral("blk.0.attn_q.weight"));
    CHECK(view->tensorBox()->count() == 7 * model->config.nLayers + 1);
    CHECK_FALSE(view->quantizedInputsBox()->isEnabled()); // no finished run yet
    LabMethodPanel* a = view->methodA();
    LabMethodPanel* b = view->methodB();
    a->setMethodId(QStringLiteral("arb-rc"));
    b->setMethodId(QStringLiteral("sign"));
    a->optionsButton()->click(); // the generated options editor, as a user opens it
    QDir().mkpath(QStringLiteral("/tmp/bitstudio-shots"));
    QTest::qWait(20);
    CHECK(page.grab().save(QStringLiteral("/tmp/bitstudio-shots/lab-page-before-run.png")));
    a->optionsButton()->click();

    QSignalSpy busy(&page, &LabPage::busyChanged);
    REQUIRE(runAndWait(page));
    CHECK(busy.count() == 2);
    INFO(view->statusText().toStdString());
    REQUIRE(view->statusText().startsWith(QStringLiteral("Done")));
    REQUIRE(view->weightView()->hasMatrix());
    CHECK(view->weightView()->matrixRows() == 128);

    // arb-rc: the Hessian, then one block of 128 columns: partition and fit, 15 iterations, stored.
    REQUIRE(a->result());
    REQUIRE(a->result()->error.isEmpty());
    REQUIRE(a->stepCount() == 1 + 1 + 15 + 1);
    REQUIRE(a->stepTable()->rowCount() == a->stepCount() + 1); // + "Result"
    int finite = 0;
    for (const bq::quant::MethodStep& step : *a->result()->steps)
        if (!step.objectiveName.empty()) {
            CHECK(std::isfinite(step.objective));
            ++finite;
        }
    CHECK(finite == a->stepCount() - 1);
    CHECK(a->chart()->seriesCount() == 1);
    CHECK(a->summaryLabel()->text().contains(QStringLiteral("bits per weight")));
    CHECK(a->planeBox()->count() == 6); // two planes in each salient zone (CGB), one in each other zone
    CHECK(b->result());
    CHECK(b->stepCount() == 2);
    CHECK(b->planeBox()->count() == 1);

    // Selecting a step shows its snapshot: the Hessian step's is W itself, the result is binary.
    CHECK(a->selectedStep() == -1);
    const QImage result = a->quantizedView()->image();
    a->selectStep(0);
    CHECK(a->selectedStep() == 0);
    CHECK(a->quantizedView()->title().contains(QStringLiteral("after step 1")));
    CHECK(a->quantizedView()->image() != result);
    a->stepTable()->selectRow(5); // as a click does
    CHECK(a->selectedStep() == 5);
    CHECK(a->sentenceLabel()->text().contains(QStringLiteral("ARB-RC iteration 4")));
    CHECK(a->sentenceLabel()->text().contains(QStringLiteral("the objective fell")));
    a->selectStep(-1);
    CHECK(a->quantizedView()->image() == result);

    // A plane with its scales; hovering the matrix names the row, the column and the value.
    a->selectPlane(2);
    HeatmapView* plane = a->planeView();
    CHECK(plane->title().contains(QStringLiteral("plane 3 of 6")));
    const QString hover = plane->textAt(plane->matrixRect().center());
    CHECK(hover.contains(QStringLiteral("row")));
    CHECK(hover.contains(QStringLiteral("column")));

    QDir().mkpath(QStringLiteral("/tmp/bitstudio-shots"));
    a->selectStep(5);
    QTest::qWait(50); // the charts lay out their legends from the event loop
    CHECK(page.grab().save(QStringLiteral("/tmp/bitstudio-shots/lab-page.png")));
    a->selectStep(-1);

    // Another method on the same matrix reuses the statistics.
    b->setMethodId(QStringLiteral("q1_0"));
    REQUIRE(runAndWait(page));
    CHECK(page.controller()->lastOutcome()->statisticsReused);
    CHECK(b->result()->method == QStringLiteral("q1_0"));
    CHECK(b->stepCount() > 2);

    // A wider matrix (three 128-column blocks): a block's step outlines its columns.
    view->setTensor(QStringLiteral("blk.0.ffn_down.weight"));
    CHECK_FALSE(a->result()); // the results of another matrix are cleared
    REQUIRE(runAndWait(page));
    CHECK_FALSE(page.controller()->lastOutcome()->statisticsReused);
    CHECK(a->quantizedView()->matrixCols() == 384);
    int blockTwo = -1;
    for (int k = 0; k < a->stepCount() && blockTwo < 0; ++k)
        if ((*a->result()->steps)[std::size_t(k)].title == "Block 2 · ARB-RC iteration 2")
            blockTwo = k;
    REQUIRE(blockTwo > 0);
    CHECK(a->chart()->seriesCount() == 3); // one line per block's fit
    CHECK(b->chart()->seriesCount() == 4); // q1_0: the passes of each block, then the layer objective
    a->selectStep(blockTwo);
    CHECK(a->sentenceLabel()->text().contains(QStringLiteral("Columns 128–255 are outlined")));
    b->selectStep(b->stepCount() - 1);
    QTest::qWait(50);
    CHECK(page.grab().save(QStringLiteral("/tmp/bitstudio-shots/lab-page-blocks.png")));

    // Cancel mid-run (a long calibration on the last block): the page ends idle and can run again.
    CalibrationSettings slow = page.calibrationSettings();
    slow.samples = 512;
    slow.seqLen = 256;
    page.setCalibrationSettings(slow);
    view->setTensor(QStringLiteral("blk.3.ffn_down.weight"));
    QSignalSpy progress(&page, &LabPage::progress);
    QSignalSpy finished(page.controller(), &LabController::finished);
    QTest::mouseClick(view->runButton(), Qt::LeftButton);
    REQUIRE(page.isBusy());
    CHECK_FALSE(view->runButton()->isEnabled());
    CHECK(view->cancelButton()->isEnabled());
    REQUIRE(QTest::qWaitFor([&] { return progress.count() > 0; }, 20000));
    QTest::mouseClick(view->cancelButton(), Qt::LeftButton);
    REQUIRE(QTest::qWaitFor([&] { return finished.count() == 1; }, 5000));
    CHECK(finished.at(0).at(0).value<bq::JobResult>().status == bq::JobStatus::Cancelled);
    CHECK_FALSE(page.isBusy());
    CHECK(view->runButton()->isEnabled());
    CHECK_FALSE(view->cancelButton()->isEnabled());
    CHECK(view->statusText() == QStringLiteral("Cancelled."));
}

TEST_CASE("layer lab: the inputs of a matrix can come through a quantized run's blocks", "[gui][lab]")
{
    const auto model = bq::makeDemoModel();
    bq::quant::QuantizeJobRequest request;
    request.model = model;
    request.recipe = bq::quant::builtinRecipe("sign");
    bq::quant::CalibrationSource text;
    text.text = bq::demoText();
    bq::quant::CalibrationOptions options;
    options.samples = 8;
    options.seqLen = 64;
    request.calibration = bq::quant::buildCalibration(*model->tokenizer, {text}, options);
    bq::NullSink sink;
    bq::CancelToken cancel;
    const bq::quant::QuantizeJobResult run = bq::quant::runQuantization(request, sink, cancel);
    REQUIRE(run.job.status == bq::JobStatus::Completed);

    LabPage page;
    page.resize(1400, 900);
    page.setModel(model);
    page.setCalibration(*request.calibration);
    page.setQuantizedModel(run.model);
    LabView* view = page.view();
    REQUIRE(view->quantizedInputsBox()->isEnabled());
    CHECK(view->quantizedInputsBox()->text().contains(QStringLiteral("28 × sign")));
    view->setTensor(QStringLiteral("blk.2.attn_q.weight"));
    view->quantizedInputsBox()->setChecked(true);
    view->methodB()->setMethodId(QString());
    REQUIRE(runAndWait(page));
    const auto outcome = page.controller()->lastOutcome();
    CHECK(outcome->quantizedInputs);
    CHECK(outcome->statistics->tokens == 8 * 64);
    CHECK((outcome->statistics->gram - outcome->statistics->gramFp).cwiseAbs().maxCoeff() > 0); // Ĥ ≠ H_fp
    CHECK_FALSE(view->methodB()->result());
    // Another model drops the run: its blocks are not this model's.
    page.setModel(bq::makeDemoModel());
    CHECK_FALSE(view->quantizedInputsBox()->isEnabled());
    CHECK_FALSE(view->usesQuantizedInputs());
}

TEST_CASE("heatmap: diverging values, pooled large matrices, two-colour signs with a mask", "[gui][lab]")
{
    HeatmapView view;
    view.resize(400, 300);
    bq::MatrixXfR values = bq::MatrixXfR::Zero(1200, 700); // longer than 512: pooled by 3
    values(0, 0) = -2.0f;
    values(1, 2) = 1.0f;
    values(1199, 699) = 0.5f;
    view.setValues(values);
    CHECK(view.poolFactor() == 3);
    CHECK(view.image().width() == 234);
    CHECK(view.image().height() == 400);
    CHECK(view.range() == Approx(2.0));
    CHECK(view.caption().contains(QStringLiteral("1 px = 3 × 3")));
    // the first cell keeps its largest |value| (−2: the bluest colour), an empty cell is white-ish
    CHECK(view.image().pixel(0, 0) == divergingColour(-1.0));
    CHECK(view.image().pixel(100, 100) == divergingColour(0.0));
    CHECK(view.image().pixel(233, 399) == divergingColour(0.25));

    bq::MatrixXi8R signs(4, 6);
    signs << 1, -1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, 1;
    bq::PlaneMask mask;
    mask.kind = bq::PlaneMask::Kind::Columns;
    mask.columns = {1, 1, 1, 1, 0, 0};
    view.setSigns(signs, &mask);
    CHECK(view.poolFactor() == 1);
    CHECK(view.caption().contains(QStringLiteral("66.7 %")));
    CHECK(view.image().pixel(0, 0) != view.image().pixel(1, 0)); // +1 and −1
    CHECK(view.image().pixel(4, 0) == view.image().pixel(5, 3)); // both outside the mask
    view.setRowStrip(Eigen::MatrixXf::Constant(4, 1, 0.25f), QStringLiteral("row scale"));
    view.setColumnStrip(Eigen::VectorXf::LinSpaced(6, 0.0f, 1.0f), QStringLiteral("column scale"));
    view.show();
    QTest::qWait(20);
    CHECK(view.textAt(QPoint(5, 40)).contains(QStringLiteral("row 0")));
}
