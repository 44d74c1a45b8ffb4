#include "gui/lab_page.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/pipeline/block_weights.h"
#include "bq/quant/quantized_model.h"
#include "gui/lab_controller.h"
#include "widgets/lab_method_panel.h"
#include "widgets/lab_view.h"
#include <QLocale>
#include <QPushButton>
#include <QVBoxLayout>
#include <algorithm>
#include <map>

namespace studio {

namespace q = bq::quant;

namespace {

constexpr int kLabWindows = 32, kLabWindowLength = 128;

QString describeRun(const q::QuantizedModel& run)
{
    std::map<std::string, int> methods;
    for (const auto& [name, layer] : run.layers)
        ++methods[layer.method];
    QStringList parts;
    for (const auto& [method, count] : methods)
        parts << QStringLiteral("%1 × %2").arg(count).arg(QString::fromStdString(method));
    return parts.join(QStringLiteral(", "));
}

} // namespace

LabPage::LabPage(QWidget* parent) : QWidget(parent)
{
    m_settings.samples = kLabWindows;
    m_settings.seqLen = kLabWindowLength;
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_view = new LabView(this);
    layout->addWidget(m_view);
    m_controller = new LabController(this);
    m_view->methodA()->setMethodId(QStringLiteral("arb-rc"));
    m_view->methodB()->setMethodId(QStringLiteral("sign"));

    connect(m_view, &LabView::runRequested, this, &LabPage::run);
    connect(m_view, &LabView::cancelRequested, this, &LabPage::cancel);
    connect(m_view, &LabView::inputsChanged, this, &LabPage::onInputsChanged);
    for (LabMethodPanel* panel : {m_view->methodA(), m_view->methodB()})
        connect(panel, &LabMethodPanel::methodChanged, this, [this] {
            if (!m_busy)
                m_view->setStatus(tr("Changed: Run again to see the methods as they are set now."));
        });
    connect(m_controller, &LabController::progress, this, &LabPage::onProgress);
    connect(m_controller, &LabController::logLine, this, &LabPage::logLine);
    connect(m_controller, &LabController::finished, this, &LabPage::onFinished);

    showCalibration();
    m_view->setStatus(tr("Open a model to pick a matrix."));
    m_view->runButton()->setEnabled(false);
}

LabPage::~LabPage() = default;

void LabPage::setModel(std::shared_ptr<const bq::Model> model)
{
    if (m_busy)
        cancel(); // its results would be of the other model (onFinished drops them)
    m_model = std::move(model);
    if (m_run && m_run->base != m_model)
        setQuantizedModel(nullptr);
    std::vector<LabTensor> tensors;
    if (m_model) {
        for (int l = 0; l < m_model->config.nLayers; ++l)
            for (const auto& parts : q::siteLinearParts())
                for (const std::string& part : parts) {
                    const std::string name = bq::blockTensorName(l, part.c_str());
                    const bq::Tensor& t = m_model->tensor(name);
                    tensors.push_back({QString::fromStdString(name), t.rows(), t.cols()});
                }
        const bq::Tensor& head = m_model->outputHead();
        tensors.push_back({QStringLiteral("output.weight"), head.rows(), head.cols()});
        if (!m_calibration && m_settings.seqLen > m_model->config.maxSeqLen)
            m_settings.seqLen = m_model->config.maxSeqLen; // longer windows would make RoPE extrapolate
    }
    m_view->setTensors(tensors, QStringLiteral("blk.0.attn_q.weight"));
    showCalibration();
    onInputsChanged();
    m_view->runButton()->setEnabled(m_model && !m_busy);
}

void LabPage::setCalibrationSettings(const CalibrationSettings& settings)
{
    m_settings = settings;
    m_calibration.reset();
    showCalibration();
}

void LabPage::setCalibration(q::CalibrationSet calibration)
{
    m_calibration = std::move(calibration);
    showCalibration();
}

void LabPage::setQuantizedModel(std::shared_ptr<const q::QuantizedModel> model)
{
    m_run = model && model->base == m_model ? std::move(model) : nullptr;
    m_view->setQuantizedRun(m_run ? describeRun(*m_run) : QString());
}

void LabPage::showCalibration()
{
    QString text;
    if (m_calibration) {
        text = tr("<b>Calibration:</b> %1").arg(QString::fromStdString(m_calibration->description).toHtmlEscaped());
    } else {
        QStringList sources;
        for (const QString& s : m_settings.sources)
            sources << (s == QLatin1String(CalibrationSettings::kDemoText) ? tr("the demo text") : s);
        text = tr("<b>Calibration:</b> %1 windows of %2 tokens from %3 (seed %4, %5 sampling)")
                   .arg(m_settings.samples)
                   .arg(m_settings.seqLen)
                   .arg(sources.join(QStringLiteral(", ")).toHtmlEscaped())
                   .arg(m_settings.seed)
                   .arg(m_settings.sampling);
    }
    m_view->setCalibrationText(text);
}

void LabPage::onInputsChanged()
{
    if (m_busy)
        return;
    m_view->setWeight({}, nullptr,
                      m_model ? tr("Run the lab to see %1.").arg(m_view->tensor()) : tr("Open a model first."));
    for (LabMethodPanel* panel : {m_view->methodA(), m_view->methodB()})
        panel->clearResult(panel->methodId().isEmpty()
                               ? tr("No second method: pick one to compare it side by side.")
                               : tr("Run the lab to see how %1 quantizes this matrix, step by step.")
                                     .arg(panel->methodId()));
    m_view->setStatisticsText({});
    if (m_model)
        m_view->setStatus(tr("Pick the methods and press Run."));
}

bool LabPage::run()
{
    if (m_busy || !m_model || m_view->tensor().isEmpty())
        return false;
    LabRequest request;
    request.model = m_model;
    m_runModel = m_model;
    request.calibration = m_calibration;
    request.settings = m_settings;
    request.tensor = m_view->tensor().toStdString();
    if (m_view->usesQuantizedInputs())
        request.prefix = m_run;
    m_methods.clear();
    for (LabMethodPanel* panel : {m_view->methodA(), m_view->methodB()})
        if (!panel->methodId().isEmpty()) {
            request.methods.push_back({panel->methodId().toStdString(), panel->options()});
            m_methods << panel->methodId();
        }
    if (!m_controller->start(std::move(request)))
        return false;
    setBusy(true);
    m_view->setProgress(0);
    m_view->setStatus(tr("Starting…"));
    emit logLine(bq::LogLevel::Info,
                 tr("Layer lab: %1 with %2").arg(m_view->tensor(), m_methods.join(QStringLiteral(" and "))));
    return true;
}

void LabPage::cancel()
{
    m_controller->cancel();
}

void LabPage::setBusy(bool busy)
{
    if (m_busy == busy)
        return;
    m_busy = busy;
    m_view->setBusy(busy);
    m_view->runButton()->setEnabled(!busy && m_model);
    emit busyChanged(busy);
}

void LabPage::onProgress(const bq::ProgressEvent& event)
{
    emit progress(event);
    if (event.stage == bq::Stage::Calibrate) {
        m_view->setStatus(event.stepCount > 1
                              ? tr("Collecting the input statistics: %1 of %2 block passes")
                                    .arg(event.step)
                                    .arg(event.stepCount)
                              : tr("Preparing the calibration…"));
        m_view->setProgress(event.stepCount > 0 ? 600 * event.step / event.stepCount : 0);
    } else if (event.stage == bq::Stage::Quantize && event.step < event.stepCount) {
        m_view->setStatus(tr("Quantizing with %1, recording its steps…").arg(m_methods.value(event.step)));
        m_view->setProgress(600 + 400 * event.step / std::max(1, event.stepCount));
    }
}

void LabPage::onFinished(const bq::JobResult& result)
{
    setBusy(false);
    switch (result.status) {
    case bq::JobStatus::Cancelled:
        m_view->setStatus(tr("Cancelled."));
        return;
    case bq::JobStatus::Failed:
        m_view->setStatus(tr("Failed: %1").arg(QString::fromStdString(result.message)));
        emit logLine(bq::LogLevel::Error, tr("Layer lab failed: %1").arg(QString::fromStdString(result.message)));
        return;
    case bq::JobStatus::Completed: break;
    }
    const std::shared_ptr<const LabOutcome> outcome = m_controller->lastOutcome();
    const QString tensor = QString::fromStdString(outcome->tensor);
    if (m_runModel.lock() != m_model || tensor != m_view->tensor()) {
        m_view->setStatus(tr("The model changed while the lab ran: Run again."));
        return;
    }
    m_view->setWeight(tensor, outcome->weight);
    m_view->setStatisticsText(
        tr("<b>Statistics:</b> Ĥ, H_fp and C over %1 calibration tokens at the input of %2, %3; %4.")
            .arg(QLocale().toString(qlonglong(outcome->statistics->tokens)), tensor.toHtmlEscaped(),
                 outcome->quantizedInputs ? tr("the earlier blocks quantized as in the run (Ĥ ≠ H_fp)")
                                 : tr("inputs of the full-precision model (Ĥ = H_fp)"),
                 outcome->statisticsReused ? tr("reused from the previous run") : tr("collected for this run")));
    LabMethodPanel* panels[] = {m_view->methodA(), m_view->methodB()};
    QStringList done;
    std::size_t next = 0;
    for (LabMethodPanel* panel : panels) {
        if (panel->methodId().isEmpty()) {
            panel->clearResult(tr("No second method: pick one to compare it side by side."));
            continue;
        }
        const LabMethodResult& r = outcome->results.at(next++);
        panel->setResult(r);
        done << (r.error.isEmpty() ? tr("%1: %n step(s)", nullptr, panel->stepCount()).arg(r.method)
                                   : tr("%1 failed").arg(r.method));
    }
    m_view->setStatus(tr("Done — %1. Select a step to see it.").arg(done.join(QStringLiteral(", "))));
}

} // namespace studio
