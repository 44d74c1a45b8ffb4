#include "widgets/lab_view.h"
#include "widgets/heatmap_view.h"
#include "widgets/lab_method_panel.h"
#include "widgets/method_options_editor.h"
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSplitter>
#include <QVBoxLayout>

namespace studio {

LabView::LabView(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Matrix"), this));
    m_tensor = new QComboBox(this);
    m_tensor->setObjectName(QStringLiteral("tensor"));
    m_tensor->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_tensor->setToolTip(tr("The weight matrix to quantize: a linear layer of a block, or the output head"));
    top->addWidget(m_tensor);
    m_quantizedInputs = new QCheckBox(tr("Inputs from the quantized run"), this);
    m_quantizedInputs->setToolTip(tr("Off: the matrix sees the inputs of the full-precision model. On: the blocks "
                                     "before it run with the finished run's quantized weights, as in the run itself "
                                     "(Ĥ then differs from H_fp)."));
    top->addWidget(m_quantizedInputs);
    m_run = new QPushButton(tr("Run"), this);
    m_run->setToolTip(tr("Collect the matrix's input statistics (once per matrix and calibration) and quantize it "
                         "with each method, recording every step"));
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setToolTip(tr("Stop the lab's job"));
    top->addWidget(m_run);
    top->addWidget(m_cancel);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(false);
    m_progress->setMaximumWidth(120);
    top->addWidget(m_progress);
    m_status = new QLabel(this);
    m_status->setMinimumWidth(120);
    top->addWidget(m_status, 1);
    layout->addLayout(top);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    m_weight = new HeatmapView(left);
    m_weight->setTitle(tr("W"));
    m_weight->setToolTip(tr("W: the full-precision weights, one row per output, one column per input"));
    m_weight->setMinimumSize(200, 240);
    leftLayout->addWidget(m_weight);
    m_calibration = new QLabel(left);
    m_statistics = new QLabel(left);
    auto* help = new QLabel(
        tr("<b>Reading the pictures.</b> Rows are outputs, columns inputs. Blue is negative, red positive, white "
           "zero; W and Ŵ share one colour range, W − Ŵ has its own. Sign planes show +1 and −1, grey where the plane "
           "does not apply, its row scales on the right and column scales below. Hover any picture for the values. "
           "Select a step in a method's list to see Ŵ as it was after that step; the columns it worked on are "
           "outlined."),
        left);
    // Their text changes after the layout is made: room for a few wrapped lines up front.
    m_calibration->setMinimumHeight(3 * m_calibration->fontMetrics().lineSpacing());
    m_statistics->setMinimumHeight(5 * m_statistics->fontMetrics().lineSpacing());
    for (QLabel* label : {m_calibration, m_statistics, help}) {
        label->setWordWrap(true);
        label->setMinimumWidth(120);
        label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
        leftLayout->addWidget(label);
    }
    leftLayout->addStretch(1);

    m_a = new LabMethodPanel(tr("Method A"), false, this);
    m_b = new LabMethodPanel(tr("Method B"), true, this);
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(m_a);
    split->addWidget(m_b);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 5);
    split->setStretchFactor(2, 5);
    split->setSizes({280, 700, 700});
    split->setChildrenCollapsible(false);
    layout->addWidget(split, 1);

    connect(m_run, &QPushButton::clicked, this, &LabView::runRequested);
    connect(m_cancel, &QPushButton::clicked, this, &LabView::cancelRequested);
    connect(m_tensor, &QComboBox::currentIndexChanged, this, &LabView::inputsChanged);
    connect(m_quantizedInputs, &QCheckBox::toggled, this, &LabView::inputsChanged);

    setQuantizedRun({});
    setWeight({}, nullptr, tr("Run the lab to see the matrix."));
    setBusy(false);
}

void LabView::setTensors(const std::vector<LabTensor>& tensors, const QString& preferred)
{
    const QString keep = tensor();
    {
        const QSignalBlocker block(m_tensor);
        m_tensor->clear();
        for (const LabTensor& t : tensors)
            m_tensor->addItem(QStringLiteral("%1  (%2 × %3)").arg(t.name).arg(t.rows).arg(t.cols), t.name);
        int index = m_tensor->findData(keep);
        if (index < 0)
            index = m_tensor->findData(preferred);
        m_tensor->setCurrentIndex(index < 0 ? 0 : index);
    }
    if (tensor() != keep)
        emit inputsChanged();
}

QString LabView::tensor() const
{
    return m_tensor->currentData().toString();
}

void LabView::setTensor(const QString& name)
{
    const int index = m_tensor->findData(name);
    if (index >= 0)
        m_tensor->setCurrentIndex(index);
}

void LabView::setQuantizedRun(const QString& description)
{
    m_hasQuantizedRun = !description.isEmpty();
    m_quantizedInputs->setEnabled(m_hasQuantizedRun && m_run->isEnabled());
    if (description.isEmpty())
        m_quantizedInputs->setChecked(false);
    m_quantizedInputs->setText(description.isEmpty() ? tr("Inputs from a quantized run (none finished yet)")
                                                     : tr("Inputs from the quantized run (%1)").arg(description));
}

bool LabView::usesQuantizedInputs() const
{
    return m_hasQuantizedRun && m_quantizedInputs->isChecked();
}

void LabView::setCalibrationText(const QString& text)
{
    m_calibration->setText(text);
}

void LabView::setStatisticsText(const QString& text)
{
    m_statistics->setText(text);
}

void LabView::setWeight(const QString& tensor, std::shared_ptr<const bq::MatrixXfR> weight, const QString& message)
{
    m_weight->setTitle(tensor.isEmpty() ? tr("W") : tr("W — %1").arg(tensor));
    if (weight)
        m_weight->setValues(*weight);
    else
        m_weight->clear(message);
    m_a->setWeight(weight);
    m_b->setWeight(weight);
}

void LabView::setBusy(bool busy)
{
    m_run->setEnabled(!busy);
    m_cancel->setEnabled(busy);
    // What the running job was asked for stays as it is until its results are shown.
    m_tensor->setEnabled(!busy);
    m_quantizedInputs->setEnabled(!busy && m_hasQuantizedRun);
    for (LabMethodPanel* panel : {m_a, m_b}) {
        panel->methodBox()->setEnabled(!busy);
        panel->optionsEditor()->setEnabled(!busy);
    }
    if (!busy)
        setProgress(-1);
}

void LabView::setStatus(const QString& text)
{
    m_status->setText(text);
    m_status->setToolTip(text);
}

void LabView::setProgress(int permille)
{
    m_progress->setVisible(permille >= 0);
    m_progress->setValue(std::max(0, permille));
}

QString LabView::statusText() const
{
    return m_status->text();
}

} // namespace studio
