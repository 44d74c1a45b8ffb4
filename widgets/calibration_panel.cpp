#include "widgets/calibration_panel.h"
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <algorithm>
#include <climits>

namespace studio {

CalibrationPanel::CalibrationPanel(QWidget* parent) : QWidget(parent)
{
    // Two columns (the texts, then the sampling settings) keep the panel short: the plots need the height.
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto* columns = new QHBoxLayout;
    outer->addLayout(columns);
    auto* form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);

    auto* sourceBox = new QWidget(this);
    auto* sourceLayout = new QHBoxLayout(sourceBox);
    sourceLayout->setContentsMargins(0, 0, 0, 0);
    m_sources = new QListWidget(sourceBox);
    m_sources->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_sources->setMinimumWidth(120);
    m_sources->setMaximumHeight(84);
    m_sources->setToolTip(tr("Text files the calibration windows are drawn from (blank-line separated documents). "
                             "\"%1\" is the built-in demo text.")
                              .arg(QString::fromLatin1(CalibrationSettings::kDemoText)));
    auto* buttons = new QVBoxLayout;
    m_add = new QPushButton(tr("Add files…"), sourceBox);
    m_addDemo = new QPushButton(tr("Add demo text"), sourceBox);
    m_remove = new QPushButton(tr("Remove"), sourceBox);
    for (QPushButton* b : {m_add, m_addDemo, m_remove})
        buttons->addWidget(b);
    buttons->addStretch(1);
    sourceLayout->addWidget(m_sources, 1);
    sourceLayout->addLayout(buttons);
    columns->addWidget(sourceBox, 1);
    columns->addLayout(form, 1);

    auto* range = new QHBoxLayout;
    m_docBegin = new QSpinBox(this);
    m_docBegin->setRange(0, INT_MAX);
    m_docBegin->setToolTip(tr("First document taken from every text (0-based)."));
    m_docEnd = new QSpinBox(this);
    m_docEnd->setRange(-1, INT_MAX);
    m_docEnd->setSpecialValueText(tr("end"));
    m_docEnd->setToolTip(tr("Documents are taken up to, not including, this one (\"end\": all)."));
    range->addWidget(m_docBegin, 1);
    range->addWidget(new QLabel(tr("to"), this));
    range->addWidget(m_docEnd, 1);
    form->addRow(tr("Documents"), range);

    auto* windows = new QHBoxLayout;
    m_samples = new QSpinBox(this);
    m_samples->setRange(1, 100000);
    m_samples->setToolTip(tr("Number of calibration windows (samples)."));
    m_length = new QSpinBox(this);
    m_length->setRange(2, 1 << 20);
    m_length->setToolTip(tr("Tokens per window (sequence length)."));
    windows->addWidget(m_samples, 1);
    windows->addWidget(new QLabel(QStringLiteral("×"), this));
    windows->addWidget(m_length, 1);
    form->addRow(tr("Windows"), windows);

    m_seed = new QSpinBox(this);
    m_seed->setRange(0, INT_MAX);
    m_seed->setToolTip(tr("Seed of the window sampler (mt19937_64): the same seed draws the same windows."));
    m_sampling = new QComboBox(this);
    m_sampling->addItem(QStringLiteral("concat"));
    m_sampling->setItemData(0, tr("Documents joined into one stream (each with BOS); windows start anywhere in it."),
                            Qt::ToolTipRole);
    m_sampling->addItem(QStringLiteral("documents"));
    m_sampling->setItemData(1, tr("Each window lies inside one document longer than the window (the GPTQ C4 "
                                  "protocol); shorter documents are redrawn."),
                            Qt::ToolTipRole);
    m_sampling->setToolTip(tr("How windows are drawn: concat or documents."));
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Sampling"), m_sampling);
    // Spin boxes size themselves for their largest value (ten digits); far narrower is enough to read them.
    for (QSpinBox* box : {m_docBegin, m_docEnd, m_samples, m_length, m_seed})
        box->setMinimumWidth(64);

    m_status = new QLabel(this);
    m_status->setObjectName(QStringLiteral("calibrationStatus"));
    m_status->setWordWrap(true);
    m_status->setMinimumWidth(120); // wraps into the panel's width instead of asking for ~80 characters
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    outer->addWidget(m_status);

    setSettings(CalibrationSettings());
    const auto edited = [this] {
        if (!m_loading)
            emit changed();
    };
    for (QSpinBox* box : {m_docBegin, m_docEnd, m_samples, m_length, m_seed})
        connect(box, &QSpinBox::valueChanged, this, edited);
    connect(m_sampling, &QComboBox::currentIndexChanged, this, edited);
    connect(m_add, &QPushButton::clicked, this, &CalibrationPanel::chooseFiles);
    connect(m_addDemo, &QPushButton::clicked, this, &CalibrationPanel::addDemoText);
    connect(m_remove, &QPushButton::clicked, this, &CalibrationPanel::removeSelected);
    connect(m_sources, &QListWidget::itemSelectionChanged, this, &CalibrationPanel::updateButtons);
    updateButtons();
}

CalibrationSettings CalibrationPanel::settings() const
{
    CalibrationSettings s;
    s.sources.clear();
    for (int i = 0; i < m_sources->count(); ++i)
        s.sources.append(m_sources->item(i)->text());
    s.docBegin = m_docBegin->value();
    s.docEnd = m_docEnd->value();
    s.samples = m_samples->value();
    s.seqLen = m_length->value();
    s.seed = quint64(m_seed->value());
    s.sampling = m_sampling->currentText();
    return s;
}

void CalibrationPanel::setSettings(const CalibrationSettings& s)
{
    const bool differs = !(s == settings());
    m_loading = true;
    m_sources->clear();
    m_sources->addItems(s.sources);
    m_docBegin->setValue(s.docBegin);
    m_docEnd->setValue(s.docEnd);
    m_samples->setValue(s.samples);
    m_length->setValue(s.seqLen);
    m_seed->setValue(int(std::min<quint64>(s.seed, INT_MAX)));
    m_sampling->setCurrentIndex(std::max(0, m_sampling->findText(s.sampling)));
    m_loading = false;
    updateButtons();
    if (differs)
        emit changed();
}

void CalibrationPanel::setBuilding()
{
    m_status->setText(tr("Building the calibration set…"));
}

void CalibrationPanel::setSummary(const CalibrationSummary& summary)
{
    const QLocale locale;
    m_status->setText(tr("%1 windows × %2 tokens = <b>%3 tokens</b> from %n document(s)", nullptr, summary.documents)
                          .arg(locale.toString(summary.windows), locale.toString(summary.windowLength),
                               locale.toString(summary.tokens)));
    m_status->setToolTip(summary.description);
}

void CalibrationPanel::setError(const QString& message)
{
    m_status->setText(QStringLiteral("<span style='color:#b00020'>%1</span>").arg(message.toHtmlEscaped()));
    m_status->setToolTip(message);
}

QString CalibrationPanel::statusText() const
{
    return m_status->text();
}

void CalibrationPanel::addSources(const QStringList& paths)
{
    QStringList added;
    for (const QString& p : paths)
        if (m_sources->findItems(p, Qt::MatchExactly).isEmpty())
            added.append(p);
    if (added.isEmpty())
        return;
    m_sources->addItems(added);
    updateButtons();
    emit changed();
}

void CalibrationPanel::chooseFiles()
{
    const QStringList paths = QFileDialog::getOpenFileNames(this, tr("Calibration texts"), {},
                                                            tr("Text files (*.txt *.md);;All files (*)"));
    addSources(paths);
}

void CalibrationPanel::addDemoText()
{
    addSources({QString::fromLatin1(CalibrationSettings::kDemoText)});
}

void CalibrationPanel::removeSelected()
{
    const QList<QListWidgetItem*> selected = m_sources->selectedItems();
    if (selected.isEmpty())
        return;
    for (QListWidgetItem* item : selected)
        delete item;
    updateButtons();
    emit changed();
}

void CalibrationPanel::updateButtons()
{
    m_remove->setEnabled(!m_sources->selectedItems().isEmpty());
    m_addDemo->setEnabled(
        m_sources->findItems(QString::fromLatin1(CalibrationSettings::kDemoText), Qt::MatchExactly).isEmpty());
}

} // namespace studio
