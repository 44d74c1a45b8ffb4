#include "widgets/model_panel.h"
#include "bq/model/model.h"
#include "widgets/metadata_tree.h"
#include "widgets/model_summary.h"
#include "widgets/tensor_table_model.h"
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace studio {

using namespace bq;

ModelPanel::ModelPanel(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    m_title = new QLabel(tr("No model loaded"), this);
    m_title->setObjectName(QStringLiteral("modelTitle"));
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_title);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->setChildrenCollapsible(false);
    layout->addWidget(splitter, 1);

    m_summaryBox = new QWidget(splitter);
    m_summary = new QFormLayout(m_summaryBox);
    m_summary->setContentsMargins(0, 4, 0, 4);
    m_summary->setLabelAlignment(Qt::AlignRight);
    m_summary->setHorizontalSpacing(12);
    m_summary->setVerticalSpacing(3);
    m_summary->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);

    m_tabs = new QTabWidget(splitter);
    m_metadata = new MetadataTree(m_tabs);
    m_tabs->addTab(m_metadata, tr("Metadata"));

    auto* tensorPage = new QWidget(m_tabs);
    auto* tensorLayout = new QVBoxLayout(tensorPage);
    tensorLayout->setContentsMargins(0, 4, 0, 0);
    auto* filterRow = new QHBoxLayout;
    m_filter = new QLineEdit(tensorPage);
    m_filter->setPlaceholderText(tr("Filter tensors (e.g. attn_q, blk.0., ffn_*)"));
    m_filter->setClearButtonEnabled(true);
    m_filterCount = new QLabel(tensorPage);
    filterRow->addWidget(m_filter, 1);
    filterRow->addWidget(m_filterCount);
    tensorLayout->addLayout(filterRow);

    m_tensorModel = new TensorTableModel(this);
    m_tensorProxy = new QSortFilterProxyModel(this);
    m_tensorProxy->setSourceModel(m_tensorModel);
    m_tensorProxy->setSortRole(TensorTableModel::SortRole);
    m_tensorProxy->setFilterKeyColumn(TensorTableModel::NameColumn);
    m_tensorView = new QTableView(tensorPage);
    m_tensorView->setModel(m_tensorProxy);
    m_tensorView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_tensorView->setAlternatingRowColors(true);
    m_tensorView->setWordWrap(false);
    m_tensorView->verticalHeader()->hide();
    m_tensorView->verticalHeader()->setDefaultSectionSize(m_tensorView->fontMetrics().height() + 6);
    m_tensorView->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder); // model order until clicked
    m_tensorView->setSortingEnabled(true);
    m_tensorView->horizontalHeader()->setStretchLastSection(true);
    tensorLayout->addWidget(m_tensorView, 1);
    m_tabs->addTab(tensorPage, tr("Tensors"));

    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);

    connect(m_filter, &QLineEdit::textChanged, this, &ModelPanel::applyFilter);
    setModel(nullptr);
}

void ModelPanel::setModel(std::shared_ptr<const Model> model)
{
    while (m_summary->rowCount() > 0)
        m_summary->removeRow(0);
    if (!model) {
        m_title->setText(tr("<b>No model loaded</b><br>Use File → Open model… or File → Open demo model."));
        m_metadata->setMetadata({}, {});
        m_tensorModel->setModel(nullptr);
        applyFilter(m_filter->text());
        return;
    }
    QString name = QFileInfo(QString::fromStdString(model->sourcePath)).fileName();
    for (const auto& [key, value] : model->metadata)
        if (key == "general.name" && !value.empty())
            name = QString::fromStdString(value);
    m_title->setText(QStringLiteral("<b>%1</b><br><span style='color:palette(mid)'>%2</span>")
                         .arg(name.toHtmlEscaped(), QString::fromStdString(model->sourcePath).toHtmlEscaped()));
    m_title->setToolTip(QString::fromStdString(model->sourcePath));

    for (const auto& [label, value] : modelSummaryRows(*model)) {
        auto* field = new QLabel(value, m_summaryBox);
        field->setObjectName(QStringLiteral("summary:") + label);
        field->setTextInteractionFlags(Qt::TextSelectableByMouse);
        field->setToolTip(modelSummaryToolTip(label));
        auto* caption = new QLabel(label + QLatin1Char(':'), m_summaryBox);
        caption->setToolTip(field->toolTip());
        caption->setStyleSheet(QStringLiteral("color: palette(dark)"));
        m_summary->addRow(caption, field);
    }
    m_metadata->setMetadata(model->metadata, model->config.arch);
    m_tensorModel->setModel(model);
    m_tensorView->resizeColumnsToContents();
    applyFilter(m_filter->text());
}

QString ModelPanel::summaryValue(const QString& label) const
{
    if (const auto* field = m_summaryBox->findChild<QLabel*>(QStringLiteral("summary:") + label))
        return field->text();
    return {};
}

void ModelPanel::applyFilter(const QString& text)
{
    // Wildcards when the user types * or ?, else a plain case-insensitive substring.
    const QString trimmed = text.trimmed();
    QRegularExpression re;
    if (trimmed.contains(QLatin1Char('*')) || trimmed.contains(QLatin1Char('?')))
        re = QRegularExpression(QRegularExpression::wildcardToRegularExpression(
                                    trimmed, QRegularExpression::UnanchoredWildcardConversion),
                                QRegularExpression::CaseInsensitiveOption);
    else
        re = QRegularExpression(QRegularExpression::escape(trimmed), QRegularExpression::CaseInsensitiveOption);
    m_tensorProxy->setFilterRegularExpression(re);
    m_filterCount->setText(tr("%1 of %2").arg(m_tensorProxy->rowCount()).arg(m_tensorModel->rowCount()));
}

} // namespace studio
