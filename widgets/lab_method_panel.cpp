#include "widgets/lab_method_panel.h"
#include "bq/quant/analysis/analysis.h"
#include "widgets/heatmap_view.h"
#include "widgets/method_options_editor.h"
#include "widgets/step_chart.h"
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSplitter>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

namespace studio {

namespace q = bq::quant;

namespace {

QString number(double v, int digits = 4)
{
    return std::isfinite(v) ? QString::number(v, 'g', digits) : QStringLiteral("—");
}

QString describePlane(const bq::QuantizedLinear& params, std::size_t p)
{
    const bq::SignPlane& plane = params.planes[p];
    double covered = 0;
    for (Eigen::Index i = 0; i < params.rows; ++i)
        for (Eigen::Index j = 0; j < params.cols; ++j)
            covered += plane.mask.applies(i, j) ? 1 : 0;
    QString text = QObject::tr("Plane %1/%2 · %3 % of W · ")
                       .arg(p + 1)
                       .arg(params.planes.size())
                       .arg(100.0 * covered / double(params.rows * params.cols), 0, 'f', 1);
    text += plane.group <= 0 ? QObject::tr("row scale") : QObject::tr("scale per %1 columns").arg(plane.group);
    if (plane.colScale.size())
        text += QObject::tr(" × column scale");
    if (plane.mean.size())
        text += QObject::tr(" + mean");
    return text;
}

} // namespace

LabMethodPanel::LabMethodPanel(const QString& heading, bool optional, QWidget* parent)
    : QWidget(parent), m_optional(optional)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(4);

    auto* header = new QHBoxLayout;
    auto* title = new QLabel(QStringLiteral("<b>%1</b>").arg(heading.toHtmlEscaped()), this);
    header->addWidget(title);
    m_method = new QComboBox(this);
    m_method->setObjectName(QStringLiteral("method"));
    if (optional)
        m_method->addItem(tr("(none)"), QString());
    for (const q::MethodInfo& info : q::methodRegistry()) {
        const QString id = QString::fromStdString(info.id);
        m_method->addItem(id, id);
        m_method->setItemData(m_method->count() - 1,
                              QStringLiteral("<b>%1</b><br>%2")
                                  .arg(QString::fromStdString(info.title).toHtmlEscaped(),
                                       QString::fromStdString(info.description).toHtmlEscaped()),
                              Qt::ToolTipRole);
    }
    header->addWidget(m_method);
    m_optionsButton = new QToolButton(this);
    m_optionsButton->setText(tr("Options"));
    m_optionsButton->setCheckable(true);
    m_optionsButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_optionsButton->setArrowType(Qt::RightArrow);
    m_optionsButton->setToolTip(tr("Show or hide the method's options"));
    header->addWidget(m_optionsButton);
    m_optionsSummary = new QLabel(this);
    m_optionsSummary->setMinimumWidth(40);
    header->addWidget(m_optionsSummary, 1);
    layout->addLayout(header);

    m_options = new MethodOptionsEditor(this);
    m_optionsArea = new QScrollArea(this);
    m_optionsArea->setWidget(m_options);
    m_optionsArea->setWidgetResizable(true);
    m_optionsArea->setMaximumHeight(170);
    m_optionsArea->setVisible(false);
    layout->addWidget(m_optionsArea);

    m_summary = new QLabel(this);
    m_summary->setMinimumWidth(120);
    m_summary->setMinimumHeight(2 * m_summary->fontMetrics().lineSpacing() + 4);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_summary);

    auto* maps = new QHBoxLayout;
    m_quantized = new HeatmapView(this);
    m_quantized->setToolTip(tr("Ŵ: the quantized weights (colour range shared with W)"));
    m_error = new HeatmapView(this);
    m_error->setToolTip(tr("W − Ŵ: what the quantization lost (its own colour range)"));
    auto* planeColumn = new QVBoxLayout;
    planeColumn->setSpacing(2);
    m_planeBox = new QComboBox(this);
    m_planeBox->setObjectName(QStringLiteral("plane"));
    m_planeBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_planeBox->setMinimumContentsLength(12);
    m_planeBox->setToolTip(tr("Which stored part to show: a sign plane (its mask greys out the weights it does not "
                              "cover; right: its row scales, below: its column scales) or the integer codes"));
    m_plane = new HeatmapView(this);
    planeColumn->addWidget(m_planeBox);
    planeColumn->addWidget(m_plane, 1);
    maps->addWidget(m_quantized, 1);
    maps->addWidget(m_error, 1);
    maps->addLayout(planeColumn, 1);
    auto* mapsHost = new QWidget(this);
    mapsHost->setLayout(maps);
    maps->setContentsMargins(0, 0, 0, 0);
    mapsHost->setMinimumHeight(200);

    m_steps = new QTableWidget(0, 3, this);
    m_steps->setObjectName(QStringLiteral("steps"));
    m_steps->setHorizontalHeaderLabels({tr("#"), tr("Step"), tr("Objective")});
    m_steps->verticalHeader()->hide();
    m_steps->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_steps->setSelectionMode(QAbstractItemView::SingleSelection);
    m_steps->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_steps->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_steps->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_steps->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    m_steps->verticalHeader()->setDefaultSectionSize(m_steps->fontMetrics().height() + 4);
    m_sentence = new QLabel(this);
    m_sentence->setWordWrap(true);
    m_sentence->setMinimumWidth(120);
    m_sentence->setMinimumHeight(3 * m_sentence->fontMetrics().lineSpacing() + 4);
    m_sentence->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_sentence->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    auto* stepsHost = new QWidget(this);
    auto* stepsLayout = new QVBoxLayout(stepsHost);
    stepsLayout->setContentsMargins(0, 0, 0, 0);
    stepsLayout->addWidget(m_steps, 1);
    stepsLayout->addWidget(m_sentence);
    m_chart = new StepChart(this);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(mapsHost);
    split->addWidget(stepsHost);
    split->addWidget(m_chart);
    split->setSizes({250, 290, 290}); // the heatmaps keep square cells: more height would stay empty
    split->setChildrenCollapsible(false);
    layout->addWidget(split, 1);

    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        onMethodSelected();
        emit methodChanged();
    });
    connect(m_options, &MethodOptionsEditor::edited, this, [this] {
        updateOptionsSummary();
        emit methodChanged();
    });
    connect(m_optionsButton, &QToolButton::toggled, this, [this](bool on) {
        m_optionsArea->setVisible(on);
        m_optionsButton->setArrowType(on ? Qt::DownArrow : Qt::RightArrow);
    });
    connect(m_steps, &QTableWidget::itemSelectionChanged, this, &LabMethodPanel::showSelection);
    connect(m_planeBox, &QComboBox::currentIndexChanged, this, &LabMethodPanel::showPlane);

    onMethodSelected();
}

QString LabMethodPanel::methodId() const
{
    return m_method->currentData().toString();
}

void LabMethodPanel::setMethodId(const QString& id)
{
    const int index = m_method->findData(id);
    if (index >= 0)
        m_method->setCurrentIndex(index);
}

nlohmann::json LabMethodPanel::options() const
{
    return m_options->values();
}

void LabMethodPanel::onMethodSelected()
{
    const QString id = methodId();
    const q::MethodInfo* info = nullptr;
    if (!id.isEmpty())
        info = &q::findMethod(id.toStdString());
    m_options->setMethod(info);
    m_optionsButton->setEnabled(info != nullptr);
    m_method->setToolTip(m_method->currentData(Qt::ToolTipRole).toString());
    updateOptionsSummary();
    clearResult(info ? tr("Run the lab to see how %1 quantizes this matrix, step by step.").arg(id)
                     : tr("No second method: pick one to compare it side by side."));
}

void LabMethodPanel::updateOptionsSummary()
{
    if (!m_options->method()) {
        m_optionsSummary->clear();
        return;
    }
    const nlohmann::json changed = m_options->changedFromDefaults();
    QStringList parts;
    for (auto it = changed.begin(); it != changed.end(); ++it)
        parts << QStringLiteral("%1 = %2").arg(QString::fromStdString(it.key()), QString::fromStdString(it->dump()));
    const QString text = parts.isEmpty() ? tr("defaults") : parts.join(QStringLiteral(", "));
    m_optionsSummary->setText(m_optionsSummary->fontMetrics().elidedText(text, Qt::ElideRight, 260));
    m_optionsSummary->setToolTip(text);
}

void LabMethodPanel::setWeight(std::shared_ptr<const bq::MatrixXfR> weight)
{
    m_weight = std::move(weight);
    m_range = m_weight && m_weight->size() ? double(m_weight->cwiseAbs().maxCoeff()) : 0.0;
}

void LabMethodPanel::clearResult(const QString& message)
{
    m_result.reset();
    m_summary->setText(message);
    m_quantized->setTitle(tr("Ŵ"));
    m_quantized->clear(message);
    m_error->setTitle(tr("W − Ŵ"));
    m_error->clear({});
    {
        const QSignalBlocker block(m_planeBox);
        m_planeBox->clear();
    }
    m_planeBox->setEnabled(false);
    m_plane->setTitle(tr("Sign planes"));
    m_plane->clear({});
    {
        const QSignalBlocker block(m_steps);
        m_steps->setRowCount(0);
    }
    m_sentence->clear();
    m_chart->setSteps(methodId(), nullptr, tr("no steps yet"));
    m_chart->refresh();
}

void LabMethodPanel::setResult(const LabMethodResult& result)
{
    clearResult({});
    m_result = result;
    if (!result.error.isEmpty() || !result.params) {
        m_summary->setText(tr("<b>%1 failed:</b> %2").arg(result.method.toHtmlEscaped(), result.error.toHtmlEscaped()));
        m_quantized->clear(result.error);
        return;
    }
    const bq::QuantizedLinear& params = *result.params;
    auto metric = [&](const char* key) {
        const auto it = result.metrics.find(key);
        return it == result.metrics.end() ? NAN : it->second;
    };
    m_summary->setText(tr("<b>%1</b> · %2 bits per weight · %3 s<br>‖W − Ŵ‖/‖W‖ %4 · output error %5 with "
                          "full-precision inputs, %6 with the quantized stream's")
                           .arg(result.method.toHtmlEscaped())
                           .arg(params.storageBitsPerWeight, 0, 'f', 3)
                           .arg(result.seconds, 0, 'f', 2)
                           .arg(number(metric(q::metric::WeightRelError)), number(metric(q::metric::OutputLocal)),
                                number(metric(q::metric::OutputCumulative))));
    m_summary->setToolTip(QStringLiteral("%1\n%2\n%3")
                              .arg(QString::fromUtf8(q::metricDescription(q::metric::WeightRelError).data()),
                                   QString::fromUtf8(q::metricDescription(q::metric::OutputLocal).data()),
                                   QString::fromUtf8(q::metricDescription(q::metric::OutputCumulative).data())));

    {
        const QSignalBlocker block(m_planeBox);
        for (std::size_t p = 0; p < params.planes.size(); ++p) {
            m_planeBox->addItem(describePlane(params, p));
            m_planeBox->setItemData(int(p), describePlane(params, p), Qt::ToolTipRole);
        }
        if (params.codes)
            m_planeBox->addItem(
                tr("Codes: %1 bits, a scale and zero per %2")
                    .arg(params.codes->bits)
                    .arg(params.codes->group <= 0 ? tr("row") : tr("%1 columns").arg(params.codes->group)));
    }
    m_planeBox->setEnabled(m_planeBox->count() > 1);
    showPlane(0);

    const std::vector<q::MethodStep> none;
    const std::vector<q::MethodStep>& steps = result.steps ? *result.steps : none;
    {
        const QSignalBlocker block(m_steps);
        m_steps->setRowCount(int(steps.size()) + 1);
        for (int k = 0; k <= int(steps.size()); ++k) {
            const bool last = k == int(steps.size());
            auto* index = new QTableWidgetItem(last ? QString() : QString::number(k + 1));
            index->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            auto* title = new QTableWidgetItem(last ? tr("Result (the stored Ŵ)")
                                                    : QString::fromStdString(steps[std::size_t(k)].title));
            auto* objective = new QTableWidgetItem(last ? QString() : number(steps[std::size_t(k)].objective, 7));
            objective->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            const QString tip = last ? tr("The result as stored: what the rest of the studio exports and runs")
                                     : QString::fromStdString(steps[std::size_t(k)].sentence);
            for (QTableWidgetItem* item : {index, title, objective})
                item->setToolTip(tip);
            m_steps->setItem(k, 0, index);
            m_steps->setItem(k, 1, title);
            m_steps->setItem(k, 2, objective);
        }
    }
    m_chart->setSteps(result.method, result.steps,
                      steps.empty() ? tr("%1 records no steps").arg(result.method) : QString());
    selectStep(-1);
}

int LabMethodPanel::stepCount() const
{
    return m_result && m_result->steps ? int(m_result->steps->size()) : 0;
}

void LabMethodPanel::selectStep(int index)
{
    if (!m_result || !m_result->params)
        return;
    const int row = index < 0 || index >= stepCount() ? stepCount() : index;
    const QList<QTableWidgetItem*> selected = m_steps->selectedItems();
    const bool already = !selected.isEmpty() && selected.front()->row() == row;
    m_steps->selectRow(row); // shows it through itemSelectionChanged, unless it was selected already
    m_steps->scrollToItem(m_steps->item(row, 0));
    if (already)
        showSelection();
}

int LabMethodPanel::selectedStep() const
{
    const QList<QTableWidgetItem*> items = m_steps->selectedItems();
    if (items.isEmpty() || items.front()->row() >= stepCount())
        return -1;
    return items.front()->row();
}

void LabMethodPanel::showMatrix(const bq::MatrixXfR* What, const QString& when, Eigen::Index begin, Eigen::Index end,
                                const QString& missing)
{
    m_quantized->setTitle(tr("Ŵ %1").arg(when));
    m_error->setTitle(tr("W − Ŵ %1").arg(when));
    if (!What) {
        m_quantized->clear(missing);
        m_error->clear(missing);
        return;
    }
    m_quantized->setValues(*What, m_range);
    m_quantized->setHighlightColumns(begin, end);
    if (m_weight && m_weight->rows() == What->rows() && m_weight->cols() == What->cols()) {
        m_error->setDifference(*m_weight, *What);
        m_error->setHighlightColumns(begin, end);
    } else {
        m_error->clear(tr("W is not loaded"));
    }
}

void LabMethodPanel::showSelection()
{
    if (!m_result || !m_result->params)
        return;
    const int k = selectedStep();
    m_chart->setSelectedStep(k);
    m_chart->refresh();
    if (k < 0) {
        showMatrix(m_result->quantized.get(), tr("(result)"), 0, 0, tr("no result"));
        m_sentence->setText(tr("<b>Result</b> — the stored parameters: every scale rounded to fp16, exactly what "
                               "the export writes. Select a step above to see Ŵ as it was after that step."));
        return;
    }
    const q::MethodStep& step = (*m_result->steps)[std::size_t(k)];
    const bool whole = step.columnBegin == 0 && step.columnEnd == m_result->params->cols;
    showMatrix(step.snapshot.size() ? &step.snapshot : nullptr, tr("after step %1").arg(k + 1),
               whole ? 0 : step.columnBegin, whole ? 0 : step.columnEnd,
               tr("No snapshot for this step: the earlier steps' snapshots filled the %1 MiB budget.")
                   .arg(q::kStepSnapshotBudget >> 20));
    QString text = tr("<b>Step %1 · %2</b> — %3")
                       .arg(k + 1)
                       .arg(QString::fromStdString(step.title).toHtmlEscaped(),
                            QString::fromStdString(step.sentence).toHtmlEscaped());
    if (!step.objectiveName.empty())
        text += tr(" <i>(%1 = %2)</i>")
                    .arg(QString::fromStdString(step.objectiveName).toHtmlEscaped(), number(step.objective, 7));
    if (!whole)
        text += tr(" Columns %1–%2 are outlined.").arg(step.columnBegin).arg(step.columnEnd - 1);
    m_sentence->setText(text);
}

void LabMethodPanel::selectPlane(int index)
{
    m_planeBox->setCurrentIndex(index);
}

void LabMethodPanel::showPlane(int index)
{
    if (!m_result || !m_result->params || index < 0) {
        m_plane->clear({});
        return;
    }
    const bq::QuantizedLinear& params = *m_result->params;
    if (std::size_t(index) < params.planes.size()) {
        const bq::SignPlane& plane = params.planes[std::size_t(index)];
        m_plane->setTitle(tr("Sign plane %1 of %2").arg(index + 1).arg(params.planes.size()));
        m_plane->setSigns(plane.signs, &plane.mask);
        m_plane->setRowStrip(plane.rowScale, tr("row scale"));
        m_plane->setColumnStrip(plane.colScale, tr("column scale"));
        return;
    }
    if (params.codes) {
        const bq::CodePlane& codes = *params.codes;
        bq::MatrixXfR levels(params.rows, params.cols);
        for (Eigen::Index i = 0; i < params.rows; ++i)
            for (Eigen::Index j = 0; j < params.cols; ++j)
                levels(i, j) = float(codes.codes(i, j)) - codes.zero(i, bq::groupOf(j, codes.group));
        m_plane->setTitle(tr("Codes q − zero (%1 bits)").arg(codes.bits));
        m_plane->setValues(levels);
        m_plane->setRowStrip(codes.scale, tr("scale"));
        return;
    }
    m_plane->clear(tr("no stored planes"));
}

} // namespace studio
