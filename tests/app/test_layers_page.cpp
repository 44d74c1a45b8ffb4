// The Layers page on the demo model: presets, row edits as overrides, rules, undo/redo, faulty rules marked,
// recipe files, the live estimate, and the generated options editor.
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/methods/method.h"
#include "gui/layers_page.h"
#include "gui/recipe_document.h"
#include "widgets/estimate_panel.h"
#include "widgets/layer_config_model.h"
#include "widgets/layers_view.h"
#include "widgets/method_options_editor.h"
#include "widgets/recipe_rules_model.h"
#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QDir>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>
#include <catch2/catch.hpp>

using namespace studio;

namespace {

bool waitEstimated(LayersPage& page, QSignalSpy& spy)
{
    const int before = spy.count();
    return QTest::qWaitFor([&] { return spy.count() > before; }, 20000);
}

QString methodOf(LayersPage& page, const std::string& tensor)
{
    const auto* t = page.resolution().find(tensor);
    return t ? (t->keepFp ? QStringLiteral("keep") : QString::fromStdString(t->method)) : QString();
}

} // namespace

TEST_CASE("layers page: presets, overrides, rules, undo/redo and the live estimate", "[gui][layers]")
{
    LayersPage page;
    page.resize(1400, 800);
    page.show();
    QAbstractItemModelTester layersTester(page.view()->layerModel(),
                                          QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester rulesTester(page.view()->rulesModel(),
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    QSignalSpy estimated(&page, &LayersPage::estimated);
    const auto model = bq::makeDemoModel();
    page.setModel(model);
    REQUIRE(estimated.wait(20000));
    const int matrices = 2 + 7 * model->config.nLayers;
    CHECK(page.view()->layerModel()->rowCount() == matrices);
    CHECK(methodOf(page, "blk.0.attn_q.weight") == "arb-rc");
    CHECK(methodOf(page, "token_embd.weight") == "keep");

    // A preset from the combo box, as a user picks it.
    auto* presets = page.view()->findChild<QComboBox*>(QStringLiteral("presets"));
    presets->setCurrentIndex(presets->findData(QStringLiteral("deployable-q1_0")));
    QTest::mouseClick(page.view()->findChild<QPushButton*>(QStringLiteral("applyPreset")), Qt::LeftButton);
    REQUIRE(waitEstimated(page, estimated));
    CHECK(methodOf(page, "blk.1.ffn_down.weight") == "q1_0");
    CHECK(page.estimate().bitsPerWeightQuantized == Approx(1.125)); // sign bit + fp16 scale per 128
    CHECK(page.view()->estimatePanel()->bitsText().contains(QStringLiteral("1.125")));

    // Two rows → 3-bit GPTQ as overrides (one undo step).
    page.view()->selectTensors({QStringLiteral("blk.0.attn_v.weight"), QStringLiteral("blk.1.attn_v.weight")});
    page.view()->setEditorMethod(QStringLiteral("gptq"));
    auto* bits = page.view()->optionsEditor()->findChild<QSpinBox*>(QStringLiteral("option_bits"));
    REQUIRE(bits);
    CHECK_FALSE(bits->toolTip().isEmpty());
    bits->setValue(3);
    QTest::mouseClick(page.view()->findChild<QPushButton*>(QStringLiteral("apply")), Qt::LeftButton);
    REQUIRE(waitEstimated(page, estimated));
    CHECK(methodOf(page, "blk.0.attn_v.weight") == "gptq");
    CHECK(methodOf(page, "blk.1.attn_v.weight") == "gptq");
    CHECK(page.resolution().find("blk.1.attn_v.weight")->options.at("bits") == 3);
    CHECK(page.resolution().find("blk.1.attn_v.weight")->decidedBy == "override");
    CHECK(page.view()->selectedTensors().size() == 2); // the selection survives the re-resolution
    const double withGptq = page.estimate().outputBytes;

    QUndoStack* undo = page.document()->undoStack();
    undo->undo();
    REQUIRE(waitEstimated(page, estimated));
    CHECK(methodOf(page, "blk.0.attn_v.weight") == "q1_0");
    CHECK(page.estimate().outputBytes < withGptq);
    undo->redo();
    REQUIRE(waitEstimated(page, estimated));
    CHECK(methodOf(page, "blk.0.attn_v.weight") == "gptq");

    // A rule by pattern: every ffn_up to sign; it shows in the rules table.
    page.view()->setApplyAsRule(true);
    page.view()->setRulePattern(QStringLiteral("blk.*.ffn_up.weight"), false);
    page.view()->setEditorMethod(QStringLiteral("sign"));
    QTest::mouseClick(page.view()->findChild<QPushButton*>(QStringLiteral("apply")), Qt::LeftButton);
    REQUIRE(waitEstimated(page, estimated));
    CHECK(methodOf(page, "blk.2.ffn_up.weight") == "sign");
    CHECK(page.resolution().find("blk.2.ffn_up.weight")->decidedBy.find("blk.*.ffn_up.weight") != std::string::npos);
    CHECK(page.view()->rulesModel()->rowCount() == int(page.recipe().rules.size()));

    // A faulty rule (a broken regex) is refused and marked on its row; undo brings the estimate back.
    QSignalSpy refused(&page, &LayersPage::refused);
    page.view()->setRulePattern(QStringLiteral("blk\\.(0"), true);
    QTest::mouseClick(page.view()->findChild<QPushButton*>(QStringLiteral("apply")), Qt::LeftButton);
    REQUIRE(refused.wait(20000));
    const int faulty = int(page.recipe().rules.size()) - 1;
    CHECK(page.view()->rulesModel()->hasIssue(faulty));
    CHECK_FALSE(page.view()->rulesModel()->index(faulty, 0).data(Qt::ToolTipRole).toString().isEmpty());
    CHECK(page.view()->estimatePanel()->sizeText() == QStringLiteral("—"));
    undo->undo();
    REQUIRE(waitEstimated(page, estimated));
    CHECK_FALSE(page.view()->rulesModel()->hasIssue(faulty));

    // Every row has a tooltip for its method and its bits.
    const QModelIndex first = page.view()->layerModel()->index(1, LayerConfigModel::MethodColumn);
    CHECK_FALSE(first.data(Qt::ToolTipRole).toString().isEmpty());
    CHECK_FALSE(first.siblingAtColumn(LayerConfigModel::BitsColumn).data(Qt::ToolTipRole).toString().isEmpty());

    // The recipe round-trips through a file as the CLI reads it.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("recipe.json"));
    QString error;
    REQUIRE(page.document()->save(path, &error));
    const nlohmann::json saved = page.recipe().toJson();
    undo->undo(); // change something, then load the file back
    REQUIRE(page.document()->load(path, &error));
    CHECK(page.recipe().toJson() == saved);
    CHECK_FALSE(page.document()->load(dir.filePath(QStringLiteral("missing.json")), &error));
    CHECK(error.contains(QStringLiteral("missing.json")));

    QDir().mkpath(QStringLiteral("/tmp/bitstudio-shots"));
    page.grab().save(QStringLiteral("/tmp/bitstudio-shots/layers-page.png"));
}

TEST_CASE("the options editor is generated from every method's schema", "[gui][layers]")
{
    MethodOptionsEditor editor;
    for (const bq::quant::MethodInfo& m : bq::quant::methodRegistry()) {
        INFO(m.id);
        editor.setMethod(&m, m.defaults);
        const nlohmann::json values = editor.values();
        CHECK(values.size() == m.options.size());
        for (const bq::quant::OptionSpec& spec : m.options) {
            CHECK(values.contains(spec.name));
            auto* field = editor.findChild<QWidget*>(QString::fromStdString("option_" + spec.name));
            REQUIRE(field);
            CHECK(field->toolTip().contains(QString::fromStdString(spec.name)));
        }
        CHECK(editor.changedFromDefaults().empty()); // the defaults show as defaults
        CHECK_NOTHROW(bq::quant::mergeOptions(m, values)); // what the form holds is valid
    }
    editor.setMethod(nullptr);
    CHECK(editor.values().empty());
}
