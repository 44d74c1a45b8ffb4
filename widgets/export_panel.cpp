#include "widgets/export_panel.h"
#include <QBrush>
#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>

namespace studio {

QString planActionText(PlanRowAction action)
{
    switch (action) {
    case PlanRowAction::Exact: return QObject::tr("exact");
    case PlanRowAction::Refit: return QObject::tr("refit");
    case PlanRowAction::Refused: return QObject::tr("refused");
    case PlanRowAction::Converted: return QObject::tr("converted");
    case PlanRowAction::F32: return QObject::tr("F32");
    }
    return {};
}

QString humanBytes(quint64 bytes)
{
    const QLocale locale;
    return QObject::tr("%1 (%2 bytes)").arg(locale.formattedDataSize(qint64(bytes)), locale.toString(bytes));
}

// ---------------------------------------------------------------- plan model

void ExportPlanModel::setPlan(const ExportPlanView& plan)
{
    beginResetModel();
    m_plan = plan;
    endResetModel();
}

void ExportPlanModel::clear()
{
    setPlan({});
}

int ExportPlanModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_plan.rows.size());
}

int ExportPlanModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ExportPlanModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_plan.rows.size()) || index.column() >= ColumnCount)
        return {};
    const ExportPlanRowView& r = m_plan.rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn: return r.name;
        case ShapeColumn: return r.shape;
        case ActionColumn: return planActionText(r.action);
        case StoredColumn: return r.action == PlanRowAction::Refused ? QStringLiteral("—") : r.storedAs;
        case MethodColumn: return r.method;
        case BytesColumn: return r.action == PlanRowAction::Refused ? QStringLiteral("—") : QLocale().toString(r.bytes);
        case ReasonColumn: return r.reason;
        }
        break;
    case Qt::ToolTipRole:
        // The reason in words, and for a refusal what would make the tensor exportable.
        return r.remedy.isEmpty() ? QStringLiteral("%1: %2").arg(r.name, r.reason)
                                  : QStringLiteral("%1: %2.\n%3").arg(r.name, r.reason, r.remedy);
    case Qt::ForegroundRole:
        if (index.column() != ActionColumn)
            return {};
        switch (r.action) {
        case PlanRowAction::Exact: return QBrush(QColor(0x1b, 0x7f, 0x3b));
        case PlanRowAction::Refit: return QBrush(QColor(0xa8, 0x62, 0x00));
        case PlanRowAction::Refused: return QBrush(QColor(0xb0, 0x00, 0x20));
        default: return {};
        }
    case Qt::TextAlignmentRole:
        if (index.column() == BytesColumn)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case SortRole:
        if (index.column() == BytesColumn)
            return r.bytes;
        if (index.column() == NameColumn)
            return index.row(); // file order
        return data(index, Qt::DisplayRole);
    }
    return {};
}

QVariant ExportPlanModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return {};
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case ActionColumn:
            return tr("exact: the format holds the quantized layer bit for bit; refit: converted to Q1_0 (signs of "
                      "the quantized weights, least-squares fp16 scale per 128), its extra KL is measured; refused: "
                      "the format cannot hold it and the export stops; converted: a matrix the run did not quantize, "
                      "stored as the embeddings type; F32: 1-D tensors.");
        case BytesColumn:
            return tr("Data bytes of the tensor in the file (all its component tensors in the bitstudio layout), "
                      "without alignment padding.");
        case StoredColumn: return tr("The tensor type(s) written to the file.");
        case ReasonColumn: return tr("Why this action (hover a row for the whole text and, for a refusal, the remedy).");
        default: return {};
        }
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NameColumn: return tr("Tensor");
    case ShapeColumn: return tr("Shape");
    case ActionColumn: return tr("Action");
    case StoredColumn: return tr("Stored as");
    case MethodColumn: return tr("Method");
    case BytesColumn: return tr("Bytes");
    case ReasonColumn: return tr("Reason");
    }
    return {};
}

// ---------------------------------------------------------------- panel

ExportPanel::ExportPanel(QWidget* parent) : QWidget(parent)
{
    m_model = new QLabel(tr("No 1-bit model yet: quantize the model or open a run file."), this);
    m_model->setWordWrap(true);

    auto* options = new QGroupBox(tr("Format"), this);
    auto* form = new QFormLayout(options);
    m_format = new QComboBox(options);
    m_format->addItem(tr("q1_0 — llama.cpp Q1_0 (exact or refused)"), QStringLiteral("q1_0"));
    m_format->addItem(tr("q4_0 — llama.cpp Q4_0 as an exact container"), QStringLiteral("q4_0"));
    m_format->addItem(tr("bitstudio — every method exactly"), QStringLiteral("bitstudio"));
    m_format->setToolTip(tr("q1_0: one fp16 scale per 128 weights, values ±scale (runs in upstream llama.cpp); "
                            "q4_0: 4-bit blocks of 32 holding sign × scale exactly; bitstudio: every method's planes, "
                            "masks and scales as standard GGUF tensors, run by bitstudio."));
    form->addRow(tr("Format"), m_format);
    m_embeddings = new QComboBox(options);
    for (const char* t : {"F16", "Q8_0", "F32"})
        m_embeddings->addItem(QLatin1String(t), QLatin1String(t));
    m_embeddings->setToolTip(tr("Type of token_embd, output and every matrix the run did not quantize (Q8_0 falls "
                                "back to F16 for rows that are not a multiple of 32). 1-D tensors are always F32."));
    form->addRow(tr("Embeddings"), m_embeddings);
    m_refit = new QCheckBox(tr("Refit layers Q1_0 cannot hold"), options);
    m_refit->setToolTip(tr("q1_0 only: convert layers that are not exactly Q1_0 to the signs of their quantized "
                           "weights with a least-squares fp16 scale per 128, and measure the extra KL on the demo "
                           "text. Off: such layers are refused."));
    form->addRow(QString(), m_refit);

    m_total = new QLabel(this);
    m_total->setWordWrap(true);
    m_total->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_plan = new ExportPlanModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_plan);
    m_proxy->setSortRole(ExportPlanModel::SortRole);
    m_view = new QTableView(this);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ExportPlanModel::NameColumn, Qt::AscendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 6);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setAlternatingRowColors(true);

    auto* out = new QHBoxLayout;
    m_path = new QLineEdit(this);
    m_path->setPlaceholderText(tr("Output file (.gguf)"));
    m_browse = new QPushButton(tr("Save as…"), this);
    m_export = new QPushButton(tr("Export"), this);
    m_export->setDefault(true);
    m_cancel = new QPushButton(tr("Cancel"), this);
    out->addWidget(m_path, 1);
    out->addWidget(m_browse);
    out->addWidget(m_export);
    out->addWidget(m_cancel);

    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_report = new QLabel(this);
    m_report->setWordWrap(true);
    m_report->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_model);
    layout->addWidget(options);
    layout->addWidget(new QLabel(tr("Plan (hover a row for the reason)"), this));
    layout->addWidget(m_view, 1);
    layout->addWidget(m_total);
    layout->addLayout(out);
    layout->addWidget(m_progress);
    layout->addWidget(m_report);

    connect(m_format, &QComboBox::currentIndexChanged, this, &ExportPanel::emitChanged);
    connect(m_embeddings, &QComboBox::currentIndexChanged, this, &ExportPanel::emitChanged);
    connect(m_refit, &QCheckBox::toggled, this, &ExportPanel::emitChanged);
    connect(m_path, &QLineEdit::textChanged, this, &ExportPanel::updateEnabled);
    connect(m_browse, &QPushButton::clicked, this, &ExportPanel::choosePath);
    connect(m_export, &QPushButton::clicked, this, [this] { emit exportRequested(settings()); });
    connect(m_cancel, &QPushButton::clicked, this, &ExportPanel::cancelRequested);
    updateEnabled();
}

ExportSettings ExportPanel::settings() const
{
    ExportSettings s;
    s.format = m_format->currentData().toString();
    s.embeddings = m_embeddings->currentData().toString();
    s.refit = m_refit->isChecked() && s.format == QLatin1String("q1_0");
    s.path = m_path->text().trimmed();
    s.replaceExisting = !s.path.isEmpty() && s.path == m_confirmedReplace;
    return s;
}

void ExportPanel::setSettings(const ExportSettings& s)
{
    const QSignalBlocker b1(m_format), b2(m_embeddings), b3(m_refit);
    m_format->setCurrentIndex(std::max(0, m_format->findData(s.format)));
    m_embeddings->setCurrentIndex(std::max(0, m_embeddings->findData(s.embeddings)));
    m_refit->setChecked(s.refit);
    m_path->setText(s.path);
    emitChanged();
}

void ExportPanel::setQuantizedModel(bool available, const QString& description)
{
    m_available = available;
    m_model->setText(available ? description : tr("No 1-bit model yet: quantize the model or open a run file."));
    if (!available) {
        m_plan->clear();
        m_planReady = false;
        m_total->clear();
    }
    m_report->clear();
    updateEnabled();
}

void ExportPanel::setPlanning()
{
    m_planReady = false;
    m_total->setStyleSheet(QString());
    m_total->setText(tr("Planning…"));
    updateEnabled();
}

void ExportPanel::setPlan(const ExportPlanView& plan)
{
    m_plan->setPlan(plan);
    m_view->resizeColumnsToContents();
    m_view->setColumnWidth(ExportPlanModel::ReasonColumn, 320); // the last column stretches; the tooltip has it all
    m_planReady = plan.refused == 0;
    QString text = tr("%1: %2 exact, %3 refit, %4 refused, %5 other tensors. ")
                       .arg(plan.format)
                       .arg(plan.exact)
                       .arg(plan.refit)
                       .arg(plan.refused)
                       .arg(plan.other);
    if (plan.refused == 0)
        text += tr("File size %1 (header and metadata %2).")
                    .arg(humanBytes(plan.fileBytes), QLocale().formattedDataSize(qint64(plan.headerBytes)));
    else
        text += tr("The export would stop: %1 tensors cannot be stored in this format.").arg(plan.refused);
    m_total->setStyleSheet(plan.refused ? QStringLiteral("color: #b00020;") : QString());
    m_total->setText(text);
    m_total->setToolTip(plan.refused ? plan.refusal
                                     : tr("File size: the GGUF header, metadata and tensor infos padded to the "
                                          "alignment, then every tensor's data, each padded to the alignment; "
                                          "exactly the size of the file the export writes."));
    updateEnabled();
}

void ExportPanel::setPlanFailed(const QString& message)
{
    m_plan->clear();
    m_planReady = false;
    m_total->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_total->setText(message);
    updateEnabled();
}

void ExportPanel::setExporting(bool exporting)
{
    m_exporting = exporting;
    if (exporting) {
        m_progress->setRange(0, 0);
        m_report->clear();
    } else {
        m_progress->setRange(0, 1);
        m_progress->setValue(0);
    }
    m_progress->setTextVisible(exporting); // an idle bar says nothing (not "0%" after a finished job)
    updateEnabled();
}

void ExportPanel::setProgress(int step, int stepCount)
{
    if (stepCount <= 0)
        return;
    m_progress->setRange(0, stepCount);
    m_progress->setValue(step);
}

void ExportPanel::showReport(const ExportReportView& r)
{
    QString text = tr("Wrote %1: %2 in %3 s, %4 quantized tensors.")
                       .arg(QFileInfo(r.path).fileName(), humanBytes(r.bytes))
                       .arg(r.seconds, 0, 'f', 2)
                       .arg(r.quantizedTensors);
    if (!r.refitted.isEmpty()) {
        text += tr(" Refitted to Q1_0: %1 tensors").arg(r.refitted.size());
        if (r.refitKl >= 0)
            text += tr("; extra KL(exact || exported) %1 nats/token, top-1 agreement %2% over %3 tokens.")
                        .arg(r.refitKl, 0, 'g', 4)
                        .arg(100.0 * r.refitTop1, 0, 'f', 1)
                        .arg(r.refitTokens);
        else
            text += QStringLiteral("; ") + r.refitNote + QLatin1Char('.');
    }
    m_report->setStyleSheet(QString());
    m_report->setText(text);
    m_report->setToolTip(r.refitted.isEmpty() ? r.path : r.path + QLatin1Char('\n') + r.refitted.join(QLatin1Char('\n')));
}

void ExportPanel::showMessage(const QString& text, bool error)
{
    m_report->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
    m_report->setText(text);
    m_report->setToolTip(QString());
}

QString ExportPanel::totalText() const
{
    return m_total->text();
}

QString ExportPanel::reportText() const
{
    return m_report->text();
}

void ExportPanel::updateEnabled()
{
    const bool q1 = m_format->currentData().toString() == QLatin1String("q1_0");
    m_refit->setEnabled(q1 && !m_exporting);
    m_format->setEnabled(!m_exporting);
    m_embeddings->setEnabled(!m_exporting);
    m_path->setEnabled(!m_exporting);
    m_browse->setEnabled(!m_exporting);
    m_export->setEnabled(m_available && m_planReady && !m_exporting && !m_path->text().trimmed().isEmpty());
    m_export->setToolTip(m_planReady ? tr("Write the file shown by the plan")
                                     : tr("Available once the plan is ready and nothing is refused"));
    m_cancel->setEnabled(m_exporting);
}

void ExportPanel::choosePath()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Export as"), m_path->text(),
                                                      tr("GGUF files (*.gguf);;All files (*)"));
    if (path.isEmpty())
        return;
    // The dialog has asked before returning an existing file: that answer is the user's --force.
    m_confirmedReplace = QFileInfo::exists(path) ? path : QString();
    m_path->setText(path);
}

void ExportPanel::emitChanged()
{
    updateEnabled();
    emit settingsChanged(settings());
}

} // namespace studio
