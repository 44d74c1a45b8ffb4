// The Compare, Export and Chat pages driven through their widgets on the demo model and a q1_0 model quantized
// here (4 windows of 32 tokens): comparisons with finite figures stored in the run, the export plan before the
// file (whose size it predicts), streamed chat replies with Stop, A/B one after the other or in parallel, and
// cancel at every stage leaving the UI idle. Screenshots go to /tmp/g3-*.png.
#include <catch2/catch.hpp>
#include "bq/demo/demo_model.h"
#include "bq/export/export_gguf.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/quant/run/run_file.h"
#include "bq/workflow/open_model.h"
#include "gui/chat_controller.h"
#include "gui/chat_page.h"
#include "gui/compare_controller.h"
#include "gui/compare_page.h"
#include "gui/event_loop_probe.h"
#include "gui/export_controller.h"
#include "gui/export_page.h"
#include "widgets/chat_pane.h"
#include "widgets/compare_panel.h"
#include "widgets/export_panel.h"
#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <chrono>
#include <cmath>
#include <thread>

using namespace studio;

namespace {

QStringList g_testerFailures;
QtMessageHandler g_otherHandler = nullptr;

void collectTesterMessages(QtMsgType type, const QMessageLogContext& context, const QString& message)
{
    if (context.category && QByteArray(context.category).startsWith("qt.modeltest"))
        g_testerFailures << message;
    else if (g_otherHandler)
        g_otherHandler(type, context, message);
}

// A directory for the whole test binary: the run file and exports.
const QTemporaryDir& workDir()
{
    static QTemporaryDir dir;
    return dir;
}

// The demo model quantized with q1_0 on 4 windows of 32 demo-text tokens, stored in a run file (once).
std::shared_ptr<const bq::quant::QuantizedModel> quantizedDemo()
{
    static std::shared_ptr<const bq::quant::QuantizedModel> model = [] {
        bq::quant::QuantizeJobRequest request;
        request.model = bq::makeDemoModel();
        request.modelPath = ":demo";
        request.recipe = bq::quant::builtinRecipe("q1_0");
        request.recipe.samples = 4;
        request.recipe.seqLen = 32;
        request.recipe.analysis = "light";
        request.calibrationSources = {{{}, bq::demoText(), 0, -1}};
        request.runPath = QDir(workDir().path()).filePath(QStringLiteral("run.h5")).toStdString();
        request.threads = 2;
        bq::NullSink sink;
        bq::CancelToken cancel;
        const auto r = bq::quant::runQuantization(request, sink, cancel);
        REQUIRE(r.job.status == bq::JobStatus::Completed);
        return std::shared_ptr<const bq::quant::QuantizedModel>(r.model);
    }();
    return model;
}

// Every block linear of the demo model as two residual sign planes: Q1_0 cannot hold it (refused, or refit).
std::shared_ptr<const bq::quant::QuantizedModel> residualDemo()
{
    auto qm = std::make_shared<bq::quant::QuantizedModel>();
    qm->base = quantizedDemo()->base;
    const auto& info = bq::quant::findMethod("residual");
    for (const auto& [name, layer] : quantizedDemo()->layers) {
        const bq::Tensor& t = qm->base->tensor(name);
        const std::vector<float> v = t.toFloat();
        const bq::MatrixXfR w = Eigen::Map<const bq::MatrixXfR>(v.data(), t.rows(), t.cols());
        bq::quant::QuantizeRequest request;
        request.weight = &w;
        request.options = bq::quant::mergeOptions(info, nlohmann::json::object());
        request.tensor = name;
        bq::quant::MethodDiagnostics diagnostics;
        qm->layers.emplace(name, info.quantize(request, diagnostics));
    }
    return qm;
}

QString exportDemo(const QString& name, bq::exporter::ExportFormat format = bq::exporter::ExportFormat::Q1_0)
{
    const QString path = QDir(workDir().path()).filePath(name);
    bq::exporter::ExportOptions options;
    options.format = format;
    bq::exporter::ExportReport report;
    bq::NullSink sink;
    bq::CancelToken cancel;
    REQUIRE(bq::exporter::exportGguf(*quantizedDemo(), path.toStdString(), options, report, sink, cancel).status ==
            bq::JobStatus::Completed);
    return path;
}

void saveShot(QWidget& w, const char* file)
{
    w.show();
    QTest::qWait(50);
    CHECK(w.grab().save(QString::fromUtf8(file)));
}

// An InferenceModel that takes `delayMs` per forward call, so a test can stop a reply or a prefill midway.
class SlowContext final : public bq::InferenceContext {
public:
    SlowContext(std::unique_ptr<bq::InferenceContext> inner, int delayMs) : m_inner(std::move(inner)), m_delay(delayMs) {}
    void forward(std::span<const std::int32_t> tokens, bool all, std::vector<float>& logits) override
    {
        std::this_thread::sleep_for(std::chrono::milliseconds(m_delay));
        m_inner->forward(tokens, all, logits);
    }
    int position() const override { return m_inner->position(); }
    int capacity() const override { return m_inner->capacity(); }
    void reset() override { m_inner->reset(); }
    bool dropOldest(int count) override { return m_inner->dropOldest(count); }

private:
    std::unique_ptr<bq::InferenceContext> m_inner;
    int m_delay;
};

class SlowModel final : public bq::InferenceModel {
public:
    SlowModel(std::shared_ptr<const bq::InferenceModel> inner, int delayMs) : m_inner(std::move(inner)), m_delay(delayMs) {}
    const bq::ModelConfig& config() const override { return m_inner->config(); }
    const bq::Tokenizer& tokenizer() const override { return m_inner->tokenizer(); }
    std::unique_ptr<bq::InferenceContext> newContext(int maxTokens) const override
    {
        return std::make_unique<SlowContext>(m_inner->newContext(maxTokens), m_delay);
    }
    std::string backendName() const override { return "slow " + m_inner->backendName(); }
    int threads() const override { return m_inner->threads(); }
    std::uint64_t weightBytesPerToken() const override { return m_inner->weightBytesPerToken(); }

private:
    std::shared_ptr<const bq::InferenceModel> m_inner;
    int m_delay;
};

void typeAndSend(ChatPane* pane, const QString& text)
{
    pane->input()->setPlainText(text);
    REQUIRE(pane->sendButton()->isEnabled());
    QTest::mouseClick(pane->sendButton(), Qt::LeftButton);
}

bool idle(ChatPane* pane)
{
    return !pane->stopButton()->isEnabled() && pane->resetButton()->isEnabled();
}

} // namespace

TEST_CASE("compare gives finite KL and top-1, stores them in the run, and cancels cleanly", "[gui][compare]")
{
    const auto qm = quantizedDemo();
    ComparePage page;
    page.resize(1100, 720);
    page.setModel(qm->base, QStringLiteral(":demo"));
    ComparePanel* panel = page.panel();
    CHECK_FALSE(panel->runButton()->isEnabled());
    page.setQuantizedModel(qm);
    REQUIRE(panel->runButton()->isEnabled());
    panel->ctxBox()->setValue(64);

    EventLoopProbe probe;
    probe.start();
    QSignalSpy compared(page.controller(), &CompareController::compared);
    QSignalSpy busy(&page, &ComparePage::busyChanged);
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    CHECK(page.isBusy());
    CHECK(panel->cancelButton()->isEnabled());
    REQUIRE(compared.wait(120000));
    probe.stop();
    CHECK(probe.maxBusyMs() < 250); // GUI-thread work; a loaded machine may still delay ticks (maxStallMs)
    REQUIRE(panel->results()->rowCount() == 1);
    const CompareRow& row = panel->results()->row(0);
    CHECK(std::isfinite(row.kl));
    CHECK(row.kl > 0);
    CHECK(row.top1 > 0);
    CHECK(row.top1 <= 1);
    CHECK(row.tokens > 100);
    CHECK(row.pplQuantized > 1);
    CHECK(row.protocol == QStringLiteral("windows of 64 tokens"));
    CHECK(QFileInfo(row.storedIn).fileName() == QStringLiteral("run.h5"));
    CHECK(panel->summaryText().contains(QString::number(row.kl, 'f', 4)));
    CHECK(busy.count() == 2);
    CHECK_FALSE(page.isBusy());
    const auto eval = bq::quant::RunFileReader(qm->runPath).finalEval();
    REQUIRE(eval);
    CHECK((*eval)["kl"].get<double>() == row.kl);

    // The exported file as the 1-bit side.
    page.setExportedFile(exportDemo(QStringLiteral("compare-q1_0.gguf")));
    CHECK(panel->quantizedSource()->currentData().toString().endsWith(QStringLiteral("compare-q1_0.gguf")));
    QTest::mouseClick(panel->runButton(), Qt::LeftButton);
    REQUIRE(compared.wait(120000));
    REQUIRE(panel->results()->rowCount() == 2);
    CHECK(panel->results()->row(1).quantized.contains(QStringLiteral("compare-q1_0.gguf")));
    CHECK(std::isfinite(panel->results()->row(1).kl));
    saveShot(page, "/tmp/g3-compare.png");

    // Cancel right away and after the first progress: the page returns to idle, nothing is added.
    QSignalSpy failed(page.controller(), &CompareController::failed);
    for (int waitForProgress = 0; waitForProgress < 2; ++waitForProgress) {
        panel->ctxBox()->setValue(32);
        QSignalSpy progress(&page, &ComparePage::progress);
        QTest::mouseClick(panel->runButton(), Qt::LeftButton);
        if (waitForProgress)
            progress.wait(20000);
        QTest::mouseClick(panel->cancelButton(), Qt::LeftButton);
        REQUIRE(QTest::qWaitFor([&] { return !page.isBusy(); }, 20000));
        QTest::qWait(20);
        CHECK(panel->runButton()->isEnabled());
        CHECK_FALSE(panel->cancelButton()->isEnabled());
    }
    CHECK(failed.count() + compared.count() == 4);
    CHECK(panel->results()->rowCount() == 2 + compared.count() - 2);
}

TEST_CASE("the comparison table passes QAbstractItemModelTester", "[gui][compare]")
{
    g_testerFailures.clear();
    g_otherHandler = qInstallMessageHandler(collectTesterMessages);
    {
        CompareResultsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Warning);
        CompareRow row;
        row.quantized = QStringLiteral("in memory");
        row.kl = 0.1;
        model.append(row);
        model.append(row);
        CHECK(model.rowCount() == 2);
        CHECK(model.headerData(CompareResultsModel::KlColumn, Qt::Horizontal, Qt::ToolTipRole)
                  .toString()
                  .contains(QStringLiteral("KL")));
        CHECK(model.data(model.index(0, CompareResultsModel::Top1Column), Qt::ToolTipRole)
                  .toString()
                  .contains(QStringLiteral("argmax")));
        model.clear();
        CHECK(model.rowCount() == 0);
    }
    qInstallMessageHandler(g_otherHandler);
    CHECK(g_testerFailures.isEmpty());
}

TEST_CASE("export shows the plan, then writes a file of the planned size, with refusals and cancel", "[gui][export]")
{
    const auto qm = quantizedDemo();
    ExportPage page;
    page.resize(1100, 760);
    ExportPanel* panel = page.panel();
    CHECK_FALSE(panel->exportButton()->isEnabled());
    QSignalSpy planned(page.controller(), &ExportController::planned);
    page.setQuantizedModel(qm);
    REQUIRE(planned.wait(60000));
    const ExportPlanView& plan = panel->planModel()->plan();
    CHECK(plan.format == QStringLiteral("q1_0"));
    CHECK(plan.refused == 0);
    CHECK(plan.exact == int(qm->layers.size()));
    CHECK(panel->planModel()->rowCount() == int(qm->base->tensors.size()));
    CHECK(plan.fileBytes > 0);
    CHECK(panel->totalText().contains(QStringLiteral("File size")));
    // Every row explains itself in its tooltip.
    const QModelIndex q = panel->planModel()->index(1, ExportPlanModel::ActionColumn);
    CHECK_FALSE(panel->planModel()->data(q, Qt::ToolTipRole).toString().isEmpty());
    CHECK(panel->pathEdit()->text().endsWith(QStringLiteral("run-1bit-q1_0.gguf")));

    const QString out = QDir(workDir().path()).filePath(QStringLiteral("page-q1_0.gguf"));
    panel->pathEdit()->setText(out);
    REQUIRE(panel->exportButton()->isEnabled());
    QSignalSpy exported(&page, &ExportPage::exported);
    QTest::mouseClick(panel->exportButton(), Qt::LeftButton);
    CHECK(panel->cancelButton()->isEnabled());
    REQUIRE(exported.wait(60000));
    CHECK(exported.at(0).at(0).toString() == out);
    CHECK(quint64(QFileInfo(out).size()) == plan.fileBytes);
    CHECK(panel->reportText().contains(QStringLiteral("28 quantized tensors")));
    CHECK_FALSE(panel->cancelButton()->isEnabled());
    saveShot(page, "/tmp/g3-export.png");

    // Another format re-plans; its file has that plan's size too.
    panel->formatBox()->setCurrentIndex(panel->formatBox()->findData(QStringLiteral("bitstudio")));
    panel->embeddingsBox()->setCurrentIndex(panel->embeddingsBox()->findData(QStringLiteral("Q8_0")));
    REQUIRE(QTest::qWaitFor([&] { return panel->planModel()->plan().format == QStringLiteral("bitstudio") &&
                                         panel->exportButton()->isEnabled(); },
                            60000));
    const quint64 bitstudioBytes = panel->planModel()->plan().fileBytes;
    const QString out2 = QDir(workDir().path()).filePath(QStringLiteral("page-bitstudio.gguf"));
    panel->pathEdit()->setText(out2);
    QTest::mouseClick(panel->exportButton(), Qt::LeftButton);
    REQUIRE(exported.wait(60000));
    CHECK(quint64(QFileInfo(out2).size()) == bitstudioBytes);

    // A model Q1_0 cannot hold: every layer refused (Export disabled), then accepted with the refit.
    panel->formatBox()->setCurrentIndex(0);
    page.setQuantizedModel(residualDemo());
    REQUIRE(QTest::qWaitFor([&] { return panel->planModel()->plan().refused > 0; }, 60000));
    CHECK(panel->planModel()->plan().refused == int(qm->layers.size()));
    CHECK_FALSE(panel->exportButton()->isEnabled());
    CHECK(panel->totalText().contains(QStringLiteral("would stop")));
    CHECK(panel->planModel()->data(panel->planModel()->index(1, 0), Qt::ToolTipRole).toString().contains(
        QStringLiteral("--refit")));
    panel->refitBox()->setChecked(true);
    REQUIRE(QTest::qWaitFor([&] { return panel->planModel()->plan().refit > 0 && panel->exportButton()->isEnabled(); },
                            60000));
    saveShot(page, "/tmp/g3-export-refit-plan.png");

    // Cancel right after Export (packing, or measuring the refit's KL): idle again, and no file unless it won.
    const QString out3 = QDir(workDir().path()).filePath(QStringLiteral("page-refit.gguf"));
    panel->pathEdit()->setText(out3);
    QSignalSpy failed(page.controller(), &ExportController::failed);
    QTest::mouseClick(panel->exportButton(), Qt::LeftButton);
    QTest::mouseClick(panel->cancelButton(), Qt::LeftButton);
    REQUIRE(QTest::qWaitFor([&] { return !page.isBusy(); }, 60000));
    if (failed.count() == 1) {
        CHECK(failed.at(0).at(2).toBool());
        CHECK_FALSE(QFileInfo::exists(out3));
        CHECK(panel->reportText().contains(QStringLiteral("cancelled")));
    } else {
        CHECK(QFileInfo::exists(out3));
    }
    CHECK(panel->exportButton()->isEnabled());
    CHECK_FALSE(panel->cancelButton()->isEnabled());

    // Changing the settings while a plan runs cancels it and plans again; the last plan wins.
    panel->refitBox()->setChecked(false);
    QTest::qWait(150);
    panel->refitBox()->setChecked(true);
    REQUIRE(QTest::qWaitFor([&] { return !page.isBusy() && panel->exportButton()->isEnabled(); }, 60000));
    CHECK(panel->planModel()->plan().refit == int(qm->layers.size()));
}

TEST_CASE("the export plan table passes QAbstractItemModelTester", "[gui][export]")
{
    g_testerFailures.clear();
    g_otherHandler = qInstallMessageHandler(collectTesterMessages);
    {
        ExportPlanModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Warning);
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(ExportPlanModel::SortRole);
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::Warning);
        ExportPlanView plan;
        for (int i = 0; i < 3; ++i) {
            ExportPlanRowView row;
            row.name = QStringLiteral("blk.%1.attn_q.weight").arg(i);
            row.action = i == 1 ? PlanRowAction::Refused : PlanRowAction::Exact;
            row.reason = QStringLiteral("why");
            row.remedy = i == 1 ? QStringLiteral("Use --refit") : QString();
            row.bytes = quint64(100 * (3 - i));
            plan.rows.push_back(row);
        }
        model.setPlan(plan);
        proxy.sort(ExportPlanModel::BytesColumn, Qt::AscendingOrder);
        CHECK(proxy.data(proxy.index(0, ExportPlanModel::NameColumn)).toString() ==
              QStringLiteral("blk.2.attn_q.weight"));
        CHECK(model.data(model.index(1, ExportPlanModel::BytesColumn)).toString() == QStringLiteral("—"));
        CHECK(model.data(model.index(1, ExportPlanModel::NameColumn), Qt::ToolTipRole)
                  .toString()
                  .contains(QStringLiteral("Use --refit")));
        model.clear();
        CHECK(model.rowCount() == 0);
    }
    qInstallMessageHandler(g_otherHandler);
    CHECK(g_testerFailures.isEmpty());
}

TEST_CASE("chat streams a reply from the exported model, previews the prompt, and stops mid-reply", "[gui][chat]")
{
    const auto qm = quantizedDemo();
    ChatPage page;
    page.resize(1200, 760);
    ChatPane* pane = page.pane();
    page.setModel(qm->base, QStringLiteral(":demo"));
    page.setQuantizedModel(qm);
    page.setExportedFile(exportDemo(QStringLiteral("chat-q1_0.gguf")));
    CHECK(pane->templateBox()->currentText() == QStringLiteral("completion"));
    pane->singleModelBox()->setCurrentIndex(1); // the 1-bit model: the exported file
    pane->temperatureBox()->setValue(0);
    pane->maxTokensBox()->setValue(48);
    QTest::qWait(400); // the settings are debounced

    // The rendered prompt for the typed message.
    pane->input()->setPlainText(QStringLiteral("Once upon a time"));
    REQUIRE(QTest::qWaitFor([&] { return pane->previewText().contains(QStringLiteral("Once upon a time")); }, 30000));

    ChatController* quantized = page.quantizedController();
    QSignalSpy finished(quantized, &ChatController::replyFinished);
    QSignalSpy chunks(quantized, &ChatController::replyText);
    EventLoopProbe probe;
    probe.start();
    typeAndSend(pane, QStringLiteral("Once upon a time"));
    CHECK(pane->stopButton()->isEnabled());
    REQUIRE(finished.wait(60000));
    probe.stop();
    CHECK(probe.maxBusyMs() < 250); // GUI-thread work; a loaded machine may still delay ticks (maxStallMs)
    ChatTranscript* t = pane->transcript(0);
    CHECK(t->title().contains(QStringLiteral("chat-q1_0.gguf")));
    CHECK_FALSE(t->replyText().trimmed().isEmpty());
    CHECK(chunks.count() >= 1);
    const ChatTurnView stats = finished.at(0).at(0).value<ChatTurnView>();
    CHECK(stats.generatedTokens > 0);
    CHECK(stats.promptTokens > 0);
    CHECK(stats.generationTokensPerSecond > 0);
    CHECK(stats.contextUsed > stats.promptTokens);
    CHECK(t->contextBar()->maximum() == 256);
    CHECK(t->contextBar()->value() == stats.contextUsed);
    CHECK(t->statsText().contains(QStringLiteral("tok/s")));
    CHECK(idle(pane));
    const QString firstReply = t->replyText();
    // Nothing streamed was lost: the session's own rendering of the conversation ends with the shown reply.
    REQUIRE(QTest::qWaitFor([&] { return pane->previewText() == QStringLiteral("Once upon a time") + firstReply; },
                            10000));

    // Greedy decoding is reproducible: reset and ask again, same reply.
    QTest::mouseClick(pane->resetButton(), Qt::LeftButton);
    CHECK(t->plainText().isEmpty());
    typeAndSend(pane, QStringLiteral("Once upon a time"));
    REQUIRE(finished.wait(60000));
    CHECK(t->replyText() == firstReply);

    // Stop mid-reply (a slowed-down model: 20 ms per token): the partial reply stays, the UI is idle again.
    const std::shared_ptr<const bq::InferenceModel> inner = bq::workflow::openInference(
        pane->quantizedSource().toStdString());
    quantized->setModel([inner] { return std::make_shared<SlowModel>(inner, 20); }, QStringLiteral("slow 1-bit"));
    pane->maxTokensBox()->setValue(0);
    pane->temperatureBox()->setValue(1.0);
    QTest::qWait(400);
    QTest::mouseClick(pane->resetButton(), Qt::LeftButton);
    const int before = finished.count();
    typeAndSend(pane, QStringLiteral("The little dog"));
    REQUIRE(chunks.wait(30000));
    QTest::mouseClick(pane->stopButton(), Qt::LeftButton);
    REQUIRE(QTest::qWaitFor([&] { return finished.count() > before; }, 5000));
    CHECK(finished.last().at(0).value<ChatTurnView>().stopReason == QStringLiteral("stopped"));
    CHECK_FALSE(t->replyText().isEmpty());
    CHECK(t->plainText().contains(QStringLiteral("[stopped]")));
    CHECK(idle(pane));

    // Stop during the prefill of a long prompt (64-token chunks, 20 ms each).
    QString longPrompt;
    for (int i = 0; i < 6; ++i)
        longPrompt += QStringLiteral("Tom and his dog went to the park and played with the red ball. ");
    typeAndSend(pane, longPrompt);
    QTest::qWait(30);
    QTest::mouseClick(pane->stopButton(), Qt::LeftButton);
    REQUIRE(QTest::qWaitFor([&] { return idle(pane); }, 5000));
    CHECK(finished.last().at(0).value<ChatTurnView>().stopReason == QStringLiteral("stopped"));

    // And the session still works after both stops.
    typeAndSend(pane, QStringLiteral("Lily"));
    QTest::qWait(100);
    QTest::mouseClick(pane->stopButton(), Qt::LeftButton);
    REQUIRE(QTest::qWaitFor([&] { return idle(pane); }, 5000));
    CHECK(pane->resetButton()->isEnabled());
}

TEST_CASE("A/B chat sends the same prompt to both models, one after the other or in parallel", "[gui][chat]")
{
    const auto qm = quantizedDemo();
    ChatPage page;
    page.resize(1300, 780);
    ChatPane* pane = page.pane();
    page.setModel(qm->base, QStringLiteral(":demo"));
    page.setQuantizedModel(qm);
    pane->abBox()->setChecked(true);
    pane->temperatureBox()->setValue(0);
    pane->maxTokensBox()->setValue(40);
    pane->systemPromptEdit()->setPlainText(QString());
    QTest::qWait(400);
    CHECK_FALSE(pane->parallel());

    // Record the order: the 1-bit side starts streaming only after the FP reply finished.
    QStringList order;
    QObject::connect(page.fpController(), &ChatController::replyFinished, &page, [&] { order << "fp-done"; });
    QObject::connect(page.quantizedController(), &ChatController::replyText, &page, [&] {
        if (!order.contains(QStringLiteral("1bit-text")))
            order << "1bit-text";
    });
    QSignalSpy quantizedDone(page.quantizedController(), &ChatController::replyFinished);
    QSignalSpy busy(&page, &ChatPage::busyChanged);
    typeAndSend(pane, QStringLiteral("Once upon a time there was a"));
    REQUIRE(quantizedDone.wait(60000));
    CHECK(order == QStringList{QStringLiteral("fp-done"), QStringLiteral("1bit-text")});
    CHECK_FALSE(pane->transcript(0)->replyText().isEmpty());
    CHECK_FALSE(pane->transcript(1)->replyText().isEmpty());
    CHECK(pane->transcript(0)->plainText().contains(QStringLiteral("Once upon a time there was a")));
    CHECK(pane->transcript(1)->plainText().contains(QStringLiteral("Once upon a time there was a")));
    CHECK(pane->transcript(0)->statsText().contains(QStringLiteral("tok/s")));
    CHECK(pane->transcript(1)->statsText().contains(QStringLiteral("tok/s")));
    CHECK(busy.count() == 2); // busy once for the whole A/B turn
    REQUIRE(QTest::qWaitFor([&] { return pane->previewText() == QStringLiteral("Once upon a time there was a") +
                                                                 pane->transcript(0)->replyText(); },
                            10000));
    CHECK(idle(pane));
    saveShot(page, "/tmp/g3-chat-ab.png");

    // Parallel: both reply at once; a second turn reuses each side's cache.
    pane->parallelBox()->setChecked(true);
    QSignalSpy fpDone(page.fpController(), &ChatController::replyFinished);
    typeAndSend(pane, QStringLiteral("Then the dog said"));
    REQUIRE(QTest::qWaitFor([&] { return fpDone.count() == 1 && quantizedDone.count() == 2; }, 60000));
    CHECK(fpDone.at(0).at(0).value<ChatTurnView>().reusedTokens > 0);
    CHECK(idle(pane));

    // Stop in A/B, one after the other, while the FP side streams: the 1-bit side is not sent.
    pane->parallelBox()->setChecked(false);
    const auto fpInner = bq::workflow::makeInference(qm->base, ":demo");
    page.fpController()->setModel([fpInner] { return std::make_shared<SlowModel>(fpInner, 20); },
                                  QStringLiteral("slow FP"));
    pane->maxTokensBox()->setValue(0);
    QTest::qWait(400);
    QTest::mouseClick(pane->resetButton(), Qt::LeftButton);
    QSignalSpy fpText(page.fpController(), &ChatController::replyText);
    typeAndSend(pane, QStringLiteral("Once upon a time"));
    REQUIRE(fpText.wait(30000));
    QTest::mouseClick(pane->stopButton(), Qt::LeftButton);
    REQUIRE(QTest::qWaitFor([&] { return idle(pane); }, 5000));
    CHECK(pane->transcript(1)->plainText().contains(QStringLiteral("[not sent: stopped]")));
    CHECK(quantizedDone.count() == 2);
}
