#include "widgets/compare_panel.h"
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QVBoxLayout>

namespace studio {

QString compareMetricTooltip(const QString& key)
{
    if (key == QLatin1String("kl"))
        return QObject::tr("Mean KL divergence KL(P_fp || P_1bit) in nats per predicted token: at every position "
                           "Σ_v p_fp(v)·(log p_fp(v) − log p_1bit(v)) over the vocabulary, from both models' "
                           "softmax over the same tokens, averaged over all positions. 0 = identical "
                           "distributions; a good 1-bit model is well below 1.");
    if (key == QLatin1String("top1"))
        return QObject::tr("Top-1 agreement: the fraction of predicted positions where both models' most likely "
                           "next token (argmax of the logits) is the same. 100% = same greedy choices.");
    if (key == QLatin1String("ppl_fp"))
        return QObject::tr("Perplexity of the full-precision model: exp of the mean negative log-likelihood of "
                           "the actual next token over the same positions.");
    if (key == QLatin1String("ppl_quantized"))
        return QObject::tr("Perplexity of the 1-bit model: exp of the mean negative log-likelihood of the actual "
                           "next token over the same positions. Compare with the full-precision perplexity.");
    if (key == QLatin1String("tokens"))
        return QObject::tr("Predicted positions scored: every token of every window or document except the first "
                           "of each.");
    return {};
}

// ---------------------------------------------------------------- results model

void CompareResultsModel::append(const CompareRow& row)
{
    beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
    m_rows.push_back(row);
    endInsertRows();
}

void CompareResultsModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int CompareResultsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int CompareResultsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant CompareResultsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()) || index.column() >= ColumnCount)
        return {};
    const CompareRow& r = m_rows.at(index.row());
    const QLocale locale;
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case QuantizedColumn: return r.quantized;
        case TextColumn: return r.text;
        case ProtocolColumn: return r.protocol;
        case TokensColumn: return locale.toString(r.tokens);
        case KlColumn: return QString::number(r.kl, 'f', 4);
        case Top1Column: return QString::number(100.0 * r.top1, 'f', 1) + QLatin1Char('%');
        case PplFpColumn: return QString::number(r.pplFp, 'f', 3);
        case PplQuantizedColumn: return QString::number(r.pplQuantized, 'f', 3);
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (index.column()) {
        case QuantizedColumn:
            return r.storedIn.isEmpty() ? r.quantized : tr("%1\nstored in %2").arg(r.quantized, r.storedIn);
        case TokensColumn: return compareMetricTooltip(QStringLiteral("tokens"));
        case KlColumn: return compareMetricTooltip(QStringLiteral("kl"));
        case Top1Column: return compareMetricTooltip(QStringLiteral("top1"));
        case PplFpColumn: return compareMetricTooltip(QStringLiteral("ppl_fp"));
        case PplQuantizedColumn: return compareMetricTooltip(QStringLiteral("ppl_quantized"));
        default: return {};
        }
    }
    if (role == Qt::TextAlignmentRole && index.column() >= TokensColumn)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant CompareResultsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return {};
    static const char* const keys[] = {"", "", "", "tokens", "kl", "top1", "ppl_fp", "ppl_quantized"};
    if (role == Qt::ToolTipRole)
        return compareMetricTooltip(QLatin1String(keys[section]));
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case QuantizedColumn: return tr("1-bit model");
    case TextColumn: return tr("Text");
    case ProtocolColumn: return tr("Protocol");
    case TokensColumn: return tr("Tokens");
    case KlColumn: return tr("KL (nats)");
    case Top1Column: return tr("Top-1");
    case PplFpColumn: return tr("PPL FP");
    case PplQuantizedColumn: return tr("PPL 1-bit");
    }
    return {};
}

// ---------------------------------------------------------------- panel

namespace {

QLabel* figureLabel(QWidget* parent, const QString& tooltip)
{
    auto* l = new QLabel(QStringLiteral("—"), parent);
    QFont f = l->font();
    f.setPointSizeF(f.pointSizeF() * 1.5);
    f.setBold(true);
    l->setFont(f);
    l->setToolTip(tooltip);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

} // namespace

ComparePanel::ComparePanel(QWidget* parent) : QWidget(parent)
{
    m_model = new QLabel(tr("No 1-bit model yet: quantize the model or open a run file."), this);
    m_model->setWordWrap(true);

    auto* setup = new QGroupBox(tr("What to compare"), this);
    auto* form = new QFormLayout(setup);
    m_source = new QComboBox(setup);
    m_source->addItem(tr("1-bit model in memory"), QString());
    m_source->setToolTip(tr("The 1-bit side: the quantized model in memory (fake-quantized weights on the fp32 "
                            "reference) or an exported GGUF file (run by the packed runtime)."));
    form->addRow(tr("1-bit model"), m_source);

    auto* textRow = new QHBoxLayout;
    m_text = new QComboBox(setup);
    m_text->addItem(tr("Built-in demo text"), QString());
    m_text->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_browse = new QPushButton(tr("Text file…"), setup);
    textRow->addWidget(m_text);
    textRow->addWidget(m_browse);
    form->addRow(tr("Text"), textRow);

    m_mode = new QComboBox(setup);
    m_mode->addItem(tr("Windows (GPTQ protocol)"));
    m_mode->addItem(tr("Documents"));
    m_mode->setToolTip(tr("Windows: the whole text tokenized once and cut into non-overlapping windows of the "
                          "context length, the tail dropped. Documents: each blank-line separated document scored "
                          "on its own, with BOS, truncated to the context length."));
    form->addRow(tr("Protocol"), m_mode);

    m_ctx = new QSpinBox(setup);
    m_ctx->setRange(0, 131072);
    m_ctx->setValue(128);
    m_ctx->setSpecialValueText(tr("model context"));
    m_ctx->setSuffix(tr(" tokens"));
    m_ctx->setToolTip(tr("Window length (windows) or truncation (documents); 0 = the model's context length."));
    form->addRow(tr("Context"), m_ctx);

    auto* range = new QHBoxLayout;
    m_docBegin = new QSpinBox(setup);
    m_docBegin->setRange(0, 10000000);
    m_docEnd = new QSpinBox(setup);
    m_docEnd->setRange(-1, 10000000);
    m_docEnd->setValue(-1);
    m_docEnd->setSpecialValueText(tr("end"));
    range->addWidget(m_docBegin);
    range->addWidget(new QLabel(tr("to"), setup));
    range->addWidget(m_docEnd);
    range->addStretch(1);
    auto* rangeBox = new QWidget(setup);
    rangeBox->setLayout(range);
    range->setContentsMargins(0, 0, 0, 0);
    rangeBox->setToolTip(tr("Documents mode: the documents [from, to) of the text, counted from 0."));
    form->addRow(tr("Documents"), rangeBox);

    m_store = new QCheckBox(tr("Store the result in the run file"), setup);
    m_store->setChecked(true);
    m_store->setToolTip(tr("Writes the figures, the text and the protocol into the run file's /eval group (a newer "
                           "comparison replaces it). Only for a model that came from a finished run."));
    form->addRow(QString(), m_store);

    auto* buttons = new QHBoxLayout;
    m_run = new QPushButton(tr("Compare"), this);
    m_run->setDefault(true);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setTextVisible(false);
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_progress, 1);

    auto* figures = new QGroupBox(tr("Latest comparison"), this);
    auto* grid = new QGridLayout(figures);
    m_kl = figureLabel(figures, compareMetricTooltip(QStringLiteral("kl")));
    m_top1 = figureLabel(figures, compareMetricTooltip(QStringLiteral("top1")));
    m_pplFp = figureLabel(figures, compareMetricTooltip(QStringLiteral("ppl_fp")));
    m_pplQuantized = figureLabel(figures, compareMetricTooltip(QStringLiteral("ppl_quantized")));
    const QString captions[] = {tr("KL(FP || 1-bit), nats/token"), tr("Top-1 agreement"), tr("Perplexity FP"),
                                tr("Perplexity 1-bit")};
    QLabel* values[] = {m_kl, m_top1, m_pplFp, m_pplQuantized};
    for (int i = 0; i < 4; ++i) {
        auto* caption = new QLabel(captions[i], figures);
        caption->setToolTip(values[i]->toolTip());
        grid->addWidget(caption, 0, i);
        grid->addWidget(values[i], 1, i);
    }
    m_message = new QLabel(figures);
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    grid->addWidget(m_message, 2, 0, 1, 4);

    m_results = new CompareResultsModel(this);
    m_table = new QTableView(this);
    m_table->setModel(m_results);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(CompareResultsModel::QuantizedColumn, QHeaderView::Stretch);
    m_table->setAlternatingRowColors(true);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_model);
    layout->addWidget(setup);
    layout->addLayout(buttons);
    layout->addWidget(figures);
    layout->addWidget(new QLabel(tr("All comparisons"), this));
    layout->addWidget(m_table, 1);

    connect(m_browse, &QPushButton::clicked, this, &ComparePanel::chooseText);
    connect(m_mode, &QComboBox::currentIndexChanged, this, &ComparePanel::updateEnabled);
    connect(m_source, &QComboBox::currentIndexChanged, this, &ComparePanel::updateEnabled);
    connect(m_run, &QPushButton::clicked, this, [this] { emit runRequested(settings()); });
    connect(m_cancel, &QPushButton::clicked, this, &ComparePanel::cancelRequested);
    updateEnabled();
}

CompareSettings ComparePanel::settings() const
{
    CompareSettings s;
    s.textPath = m_text->currentData().toString();
    s.documents = m_mode->currentIndex() == 1;
    s.ctx = m_ctx->value();
    s.docBegin = m_docBegin->value();
    s.docEnd = m_docEnd->value();
    s.exportedPath = m_source->currentData().toString();
    s.store = m_store->isChecked() && m_store->isEnabled();
    return s;
}

void ComparePanel::setQuantizedModel(bool available, const QString& description, const QString& runPath)
{
    m_available = available;
    m_runPath = runPath;
    m_model->setText(available ? description
                               : tr("No 1-bit model yet: quantize the model or open a run file."));
    updateEnabled();
}

void ComparePanel::addExportedFile(const QString& path)
{
    int at = m_source->findData(path);
    if (at < 0) {
        m_source->addItem(tr("exported %1").arg(QFileInfo(path).fileName()), path);
        at = m_source->count() - 1;
        m_source->setItemData(at, path, Qt::ToolTipRole);
    }
    m_source->setCurrentIndex(at);
}

void ComparePanel::setBusy(bool busy)
{
    m_busy = busy;
    if (busy) {
        m_progress->setRange(0, 0);
        m_message->clear();
    } else {
        m_progress->setRange(0, 1);
        m_progress->setValue(0);
    }
    m_progress->setTextVisible(busy); // an idle bar says nothing (not "0%" after a finished job)
    updateEnabled();
}

void ComparePanel::setProgress(int step, int stepCount)
{
    if (stepCount <= 0)
        return;
    m_progress->setRange(0, stepCount);
    m_progress->setValue(step);
}

void ComparePanel::showResult(const CompareRow& row)
{
    m_kl->setText(QString::number(row.kl, 'f', 4));
    m_top1->setText(QString::number(100.0 * row.top1, 'f', 1) + QLatin1Char('%'));
    m_pplFp->setText(QString::number(row.pplFp, 'f', 3));
    m_pplQuantized->setText(QString::number(row.pplQuantized, 'f', 3));
    QString note = tr("%1 on %2, %3, %4 predicted tokens")
                       .arg(row.quantized, row.text, row.protocol, QLocale().toString(row.tokens));
    if (!row.storedIn.isEmpty())
        note += tr("; stored in %1").arg(QFileInfo(row.storedIn).fileName());
    m_message->setStyleSheet(QString());
    m_message->setText(note);
    m_results->append(row);
    m_table->resizeColumnsToContents();
}

void ComparePanel::showMessage(const QString& text, bool error)
{
    m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
    m_message->setText(text);
}

QString ComparePanel::summaryText() const
{
    return tr("KL %1, top-1 %2, PPL FP %3, PPL 1-bit %4")
        .arg(m_kl->text(), m_top1->text(), m_pplFp->text(), m_pplQuantized->text());
}

void ComparePanel::updateEnabled()
{
    const bool docs = m_mode->currentIndex() == 1;
    m_docBegin->setEnabled(docs && !m_busy);
    m_docEnd->setEnabled(docs && !m_busy);
    const bool inMemory = m_source->currentData().toString().isEmpty();
    // A comparison is stored in the run its model came from; an exported file is compared against that run too.
    m_store->setEnabled(!m_runPath.isEmpty() && !m_busy);
    m_store->setToolTip(m_runPath.isEmpty() ? tr("The 1-bit model did not come from a run file: nothing to store "
                                                 "the result in.")
                                            : tr("Writes the figures, the text and the protocol into %1 (/eval; a "
                                                 "newer comparison replaces it).")
                                                  .arg(m_runPath));
    m_run->setEnabled(m_available && !m_busy && (inMemory || m_source->count() > 1));
    m_cancel->setEnabled(m_busy);
    for (QWidget* w : {static_cast<QWidget*>(m_source), static_cast<QWidget*>(m_text),
                       static_cast<QWidget*>(m_browse), static_cast<QWidget*>(m_mode), static_cast<QWidget*>(m_ctx)})
        w->setEnabled(!m_busy);
}

void ComparePanel::chooseText()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Evaluation text"), QString(),
                                                      tr("Text files (*.txt *.raw *.md);;All files (*)"));
    if (path.isEmpty())
        return;
    int at = m_text->findData(path);
    if (at < 0) {
        m_text->addItem(QFileInfo(path).fileName(), path);
        at = m_text->count() - 1;
        m_text->setItemData(at, path, Qt::ToolTipRole);
    }
    m_text->setCurrentIndex(at);
}

} // namespace studio
