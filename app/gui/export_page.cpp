#include "gui/export_page.h"
#include "bq/demo/demo_model.h"
#include "bq/export/export_plan.h"
#include "gui/export_controller.h"
#include "gui/model_descriptions.h"
#include "widgets/export_panel.h"
#include <QDir>
#include <QFileInfo>
#include <QLineEdit>
#include <QStandardPaths>
#include <QVBoxLayout>

namespace studio {

namespace {

bq::exporter::ExportOptions exportOptions(const ExportSettings& s)
{
    bq::exporter::ExportOptions o;
    o.format = bq::exporter::parseExportFormat(s.format.toStdString()).value_or(bq::exporter::ExportFormat::Q1_0);
    o.embeddings = s.embeddings == QLatin1String("F32")    ? bq::DType::F32
                   : s.embeddings == QLatin1String("Q8_0") ? bq::DType::Q8_0
                                                           : bq::DType::F16;
    o.refit = s.refit;
    o.force = s.replaceExisting;
    if (o.refit)
        o.evalText = bq::demoText(); // the refit's KL is measured on the demo text, as the CLI does by default
    return o;
}

PlanRowAction rowAction(bq::exporter::PlanAction a)
{
    switch (a) {
    case bq::exporter::PlanAction::Exact: return PlanRowAction::Exact;
    case bq::exporter::PlanAction::Refit: return PlanRowAction::Refit;
    case bq::exporter::PlanAction::Refused: return PlanRowAction::Refused;
    case bq::exporter::PlanAction::Converted: return PlanRowAction::Converted;
    case bq::exporter::PlanAction::F32: return PlanRowAction::F32;
    }
    return PlanRowAction::F32;
}

ExportPlanView planView(const bq::exporter::ExportPlan& plan)
{
    ExportPlanView v;
    v.format = QString::fromUtf8(bq::exporter::exportFormatName(plan.format));
    for (const auto& r : plan.rows) {
        ExportPlanRowView row;
        row.name = QString::fromStdString(r.name);
        QStringList dims;
        for (std::int64_t d : r.shape)
            dims << QString::number(d);
        row.shape = QStringLiteral("[%1]").arg(dims.join(QStringLiteral(", ")));
        row.method = QString::fromStdString(r.method);
        row.storedAs = QString::fromStdString(r.storedAs);
        row.reason = QString::fromStdString(r.reason);
        row.remedy = QString::fromStdString(r.remedy);
        row.action = rowAction(r.action);
        row.bytes = r.bytes;
        v.rows.push_back(row);
    }
    v.exact = plan.exact;
    v.refit = plan.refit;
    v.refused = plan.refused;
    v.other = plan.other;
    v.headerBytes = plan.headerBytes;
    v.fileBytes = plan.fileBytes;
    v.refusal = QString::fromStdString(plan.refusalMessage());
    return v;
}

ExportReportView reportView(const bq::exporter::ExportReport& r, const QString& path)
{
    ExportReportView v;
    v.path = path;
    v.bytes = r.fileBytes;
    v.seconds = r.seconds;
    v.quantizedTensors = r.quantizedTensors;
    for (const auto& name : r.refitted)
        v.refitted << QString::fromStdString(name);
    v.refitKl = r.refitKl;
    v.refitTop1 = r.refitTop1;
    v.refitTokens = r.refitTokens;
    v.refitNote = QString::fromStdString(r.refitNote);
    return v;
}

} // namespace

ExportPage::ExportPage(QWidget* parent) : QWidget(parent)
{
    m_panel = new ExportPanel(this);
    m_controller = new ExportController(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_panel);
    m_planTimer.setSingleShot(true);
    m_planTimer.setInterval(100);

    connect(&m_planTimer, &QTimer::timeout, this, &ExportPage::replan);
    connect(m_panel, &ExportPanel::settingsChanged, this, [this] {
        suggestPath();
        m_panel->setPlanning();
        m_planTimer.start();
    });
    connect(m_panel, &ExportPanel::exportRequested, this, &ExportPage::startExport);
    connect(m_panel, &ExportPanel::cancelRequested, m_controller, &ExportController::cancel);
    connect(m_controller, &ExportController::busyChanged, this, &ExportPage::busyChanged);
    connect(m_controller, &ExportController::progress, this, [this](const bq::ProgressEvent& e) {
        if (m_controller->isExporting())
            m_panel->setProgress(e.step, e.stepCount);
        emit progress(e);
    });
    connect(m_controller, &ExportController::logLine, this, &ExportPage::logLine);
    connect(m_controller, &ExportController::planned, this, [this](const bq::exporter::ExportPlan& plan) {
        if (m_replan)
            return replan();
        m_panel->setPlan(planView(plan));
    });
    connect(m_controller, &ExportController::exported, this,
            [this](const bq::exporter::ExportReport& report, const QString& path, const QString& message) {
                m_panel->setExporting(false);
                m_panel->showReport(reportView(report, path));
                emit logLine(bq::LogLevel::Info, tr("export: %1").arg(message));
                emit exported(path);
                if (m_replan)
                    replan();
            });
    connect(m_controller, &ExportController::failed, this,
            [this](const QString& kind, const QString& message, bool cancelled) {
                if (kind == QLatin1String("plan")) {
                    if (m_replan)
                        return replan();
                    m_panel->setPlanFailed(cancelled ? tr("Planning cancelled.") : message);
                } else {
                    m_panel->setExporting(false);
                    m_panel->showMessage(cancelled ? tr("Export cancelled; nothing was written.") : message,
                                         !cancelled);
                    if (m_replan)
                        replan();
                }
                emit logLine(cancelled ? bq::LogLevel::Info : bq::LogLevel::Error,
                             cancelled ? tr("%1: cancelled").arg(kind) : message);
            });
}

bool ExportPage::isBusy() const
{
    return m_controller->isRunning();
}

void ExportPage::setModel(std::shared_ptr<const bq::Model> model, const QString& spec)
{
    m_spec = model ? spec : QString();
}

void ExportPage::setQuantizedModel(std::shared_ptr<const bq::quant::QuantizedModel> model)
{
    m_quantized = std::move(model);
    m_panel->setQuantizedModel(bool(m_quantized), m_quantized ? describeQuantizedModel(*m_quantized) : QString());
    if (!m_quantized)
        return;
    m_panel->pathEdit()->clear();
    suggestPath();
    m_panel->setPlanning();
    m_planTimer.start();
}

void ExportPage::replan()
{
    m_replan = false;
    if (!m_quantized)
        return;
    if (m_controller->isRunning()) {
        // A running plan is stale: cancel it and plan again when it ends; an export finishes first.
        m_replan = true;
        if (!m_controller->isExporting())
            m_controller->cancel();
        return;
    }
    m_panel->setPlanning();
    m_controller->plan(m_quantized, exportOptions(m_panel->settings()));
}

void ExportPage::startExport(const ExportSettings& settings)
{
    if (!m_quantized || settings.path.isEmpty())
        return;
    if (!m_controller->exportTo(m_quantized, settings.path, exportOptions(settings))) {
        m_panel->showMessage(tr("Busy: wait for the plan to finish."), true);
        return;
    }
    m_panel->setExporting(true);
}

// "<run directory>/<run name>-1bit-<format>.gguf" (without a run: Documents and the open model's name), until the
// user picks a path of their own.
void ExportPage::suggestPath()
{
    if (!m_quantized)
        return;
    const QString current = m_panel->pathEdit()->text();
    const QString format = m_panel->settings().format;
    if (!current.isEmpty() && !QFileInfo(current).completeBaseName().contains(QLatin1String("-1bit-")))
        return;
    QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    QString stem = QFileInfo(m_spec).completeBaseName().remove(QLatin1Char(':'));
    if (stem.isEmpty())
        stem = QStringLiteral("model");
    if (!m_quantized->runPath.empty()) {
        const QFileInfo run(QString::fromStdString(m_quantized->runPath));
        dir = run.absolutePath();
        stem = run.completeBaseName();
    }
    m_panel->pathEdit()->setText(QDir(dir).filePath(QStringLiteral("%1-1bit-%2.gguf").arg(stem, format)));
}

} // namespace studio
