#include "gui/compare_page.h"
#include "gui/compare_controller.h"
#include "gui/model_descriptions.h"
#include "widgets/compare_panel.h"
#include <QVBoxLayout>

namespace studio {

ComparePage::ComparePage(QWidget* parent) : QWidget(parent)
{
    m_panel = new ComparePanel(this);
    m_controller = new CompareController(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_panel);

    connect(m_panel, &ComparePanel::runRequested, this, &ComparePage::run);
    connect(m_panel, &ComparePanel::cancelRequested, m_controller, &CompareController::cancel);
    connect(m_controller, &CompareController::busyChanged, this, [this](bool busy) {
        m_panel->setBusy(busy);
        emit busyChanged(busy);
    });
    connect(m_controller, &CompareController::progress, this, [this](const bq::ProgressEvent& e) {
        m_panel->setProgress(e.step, e.stepCount);
        emit progress(e);
    });
    connect(m_controller, &CompareController::logLine, this, &ComparePage::logLine);
    connect(m_controller, &CompareController::compared, this,
            [this](const bq::workflow::CompareRunResult& r, const QString& message) {
                CompareRow row;
                row.quantized = QString::fromStdString(r.modelQuantized);
                row.text = QString::fromStdString(r.eval.value("text", std::string()));
                row.protocol = QString::fromStdString(r.protocol);
                row.tokens = r.compare.a.tokens;
                row.kl = r.compare.kl;
                row.top1 = r.compare.top1Agreement;
                row.pplFp = r.compare.a.ppl;
                row.pplQuantized = r.compare.b.ppl;
                row.storedIn = QString::fromStdString(r.storedIn.string());
                m_panel->showResult(row);
                emit logLine(bq::LogLevel::Info, tr("compare: %1").arg(message));
            });
    connect(m_controller, &CompareController::failed, this, [this](const QString& message, bool cancelled) {
        m_panel->showMessage(cancelled ? tr("Comparison cancelled.") : message, !cancelled);
        emit logLine(cancelled ? bq::LogLevel::Info : bq::LogLevel::Error,
                     cancelled ? tr("compare: cancelled") : message);
    });
    updateDescription();
}

bool ComparePage::isBusy() const
{
    return m_controller->isRunning();
}

void ComparePage::setModel(std::shared_ptr<const bq::Model> model, const QString& spec)
{
    m_spec = model ? spec : QString();
    updateDescription();
}

void ComparePage::setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model)
{
    m_quantized = std::move(model);
    updateDescription();
}

void ComparePage::setExportedFile(const QString& path)
{
    m_panel->addExportedFile(path);
}

void ComparePage::updateDescription()
{
    if (!m_quantized) {
        m_panel->setQuantizedModel(false, {}, {});
        return;
    }
    QString text = tr("Full precision: the base model of the 1-bit model. 1-bit: %1.")
                       .arg(describeQuantizedModel(*m_quantized));
    if (!m_spec.isEmpty())
        text += tr(" Open model: %1.").arg(m_spec);
    m_panel->setQuantizedModel(true, text, QString::fromStdString(m_quantized->runPath));
}

void ComparePage::run(const CompareSettings& s)
{
    CompareJob job;
    job.textPath = s.textPath;
    bq::PerplexityRequest& eval = job.request.eval;
    eval.mode = s.documents ? bq::PerplexityMode::Docs : bq::PerplexityMode::Windows;
    eval.ctx = s.ctx;
    eval.docBegin = s.docBegin;
    eval.docEnd = s.docEnd;
    job.request.exported = s.exportedPath.toStdString();
    job.request.store = s.store;
    if (!m_controller->start(m_quantized, job))
        m_panel->showMessage(tr("A comparison is already running."), true);
}

} // namespace studio
