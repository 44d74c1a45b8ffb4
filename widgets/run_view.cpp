#include "widgets/run_view.h"
#include "widgets/depth_chart.h"
#include "widgets/gram_spectrum_chart.h"
#include "widgets/histogram_chart.h"
#include "widgets/layer_results_model.h"
#include "widgets/objective_chart.h"
#include "widgets/salient_strip.h"
#include "widgets/spectrum_chart.h"
#include <QComboBox>
#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedLayout>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace studio {

RunView::RunView(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* vertical = new QSplitter(Qt::Vertical, this);
    vertical->setChildrenCollapsible(false);
    layout->addWidget(vertical);

    auto* top = new QWidget(vertical);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    auto* metricRow = new QHBoxLayout;
    metricRow->addWidget(new QLabel(tr("Through depth:"), top));
    m_metric = new QComboBox(top);
    for (const DepthMetric& m : DepthChart::metrics()) {
        m_metric->addItem(m.label);
        m_metric->setItemData(m_metric->count() - 1, m.description(), Qt::ToolTipRole);
    }
    metricRow->addWidget(m_metric);
    metricRow->addStretch(1);
    topLayout->addLayout(metricRow);
    m_depth = new DepthChart(top);
    m_depth->setMinimumHeight(180);
    topLayout->addWidget(m_depth, 1);

    auto* bottom = new QSplitter(Qt::Horizontal, vertical);
    bottom->setChildrenCollapsible(false);
    auto* left = new QWidget(bottom);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    auto* filterRow = new QHBoxLayout;
    m_filter = new QLineEdit(left);
    m_filter->setPlaceholderText(tr("Filter layers (e.g. attn_v, blk.3., ffn_*)"));
    m_filter->setClearButtonEnabled(true);
    m_count = new QLabel(left);
    filterRow->addWidget(m_filter, 1);
    filterRow->addWidget(m_count);
    leftLayout->addLayout(filterRow);
    m_model = new LayerResultsModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(LayerResultsModel::SortRole);
    m_proxy->setFilterKeyColumn(LayerResultsModel::TensorColumn);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_table = new QTableView(left);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(LayerResultsModel::TensorColumn, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    leftLayout->addWidget(m_table, 1);

    auto* right = new QWidget(bottom);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->setSpacing(4);
    m_plotArea = new QWidget(right);
    m_plotStack = new QStackedLayout(m_plotArea);
    m_gridPage = new QWidget(m_plotArea);
    m_grid = new QGridLayout(m_gridPage);
    m_grid->setContentsMargins(0, 0, 0, 0);
    m_grid->setSpacing(4);
    m_plotTabs = new QTabWidget(m_plotArea);
    m_plotTabs->setDocumentMode(true);
    m_plotStack->addWidget(m_gridPage);
    m_plotStack->addWidget(m_plotTabs);
    m_spectrum = new SpectrumChart(m_gridPage);
    m_gram = new GramSpectrumChart(m_gridPage);
    m_histogram = new HistogramChart(m_gridPage);
    m_objective = new ObjectiveChart(m_gridPage);
    for (LayerPlot* plot : layerPlots())
        plot->setMinimumSize(120, 100); // the area's size, not the plots', decides between grid and tabs
    m_salient = new SalientStrip(right);
    rightLayout->addWidget(m_plotArea, 1);
    rightLayout->addWidget(m_salient);
    arrangeLayerPlots(false);
    m_plotArea->installEventFilter(this);
    bottom->setStretchFactor(0, 1);
    bottom->setStretchFactor(1, 1);
    vertical->setStretchFactor(0, 2);
    vertical->setStretchFactor(1, 3);

    connect(m_metric, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_depth->setMetric(index);
        m_depth->refresh();
    });
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_proxy->setFilterWildcard(text.trimmed());
        m_count->setText(tr("%1 of %2").arg(m_proxy->rowCount()).arg(m_model->rowCount()));
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunView::onSelectionChanged);
}

QList<LayerPlot*> RunView::layerPlots() const
{
    return {m_spectrum, m_gram, m_histogram, m_objective};
}

void RunView::arrangeLayerPlots(bool tabbed)
{
    m_tabbed = tabbed;
    const QStringList names{tr("Spectra"), tr("Gram"), tr("Histogram"), tr("Objective")};
    const QList<LayerPlot*> plots = layerPlots();
    if (tabbed) {
        for (int i = 0; i < plots.size(); ++i)
            m_plotTabs->addTab(plots[i], names[i]);
        m_plotStack->setCurrentWidget(m_plotTabs);
        return;
    }
    while (m_plotTabs->count() > 0)
        m_plotTabs->removeTab(0);
    for (int i = 0; i < plots.size(); ++i) {
        m_grid->addWidget(plots[i], i / 2, i % 2);
        plots[i]->show();
    }
    m_plotStack->setCurrentWidget(m_gridPage);
}

bool RunView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_plotArea && event->type() == QEvent::Resize) {
        // Below about 300 × 200 per plot, axis labels and titles no longer fit a 2 × 2 grid.
        const QSize size = m_plotArea->size();
        const bool tabbed = size.width() < 600 || size.height() < 400;
        if (tabbed != m_tabbed)
            arrangeLayerPlots(tabbed);
    }
    return QWidget::eventFilter(watched, event);
}

void RunView::beginRun(const QString& name, const QString& analysisNote, bool keepAsEarlier)
{
    if (keepAsEarlier)
        m_depth->archiveCurrent();
    else
        m_depth->clearCurrent();
    m_depth->setCurrentName(name);
    m_depth->setNotComputed(analysisNote);
    for (LayerPlot* plot : layerPlots())
        plot->setAnalysisNote(analysisNote);
    m_runName = name;
    m_model->clear();
    m_blocks.clear();
    m_followLatest = true;
    m_shown.clear();
    for (LayerPlot* plot : layerPlots())
        plot->clearLayer();
    m_salient->clearLayer();
    m_count->setText(QString());
}

void RunView::addLayerResult(const bq::LayerResult& result)
{
    m_model->add(result);
    m_depth->addLayer(result);
}

void RunView::setBlockMetrics(int block, const std::map<std::string, double>& metrics)
{
    for (const auto& [key, v] : metrics)
        m_blocks[block][key] = v;
    m_depth->setBlockMetrics(block, metrics);
}

void RunView::showRun(const QString& name, const QString& analysisNote, std::vector<bq::LayerResult> layers,
                      const BlockMetrics& blocks, bool keepAsEarlier)
{
    beginRun(name, analysisNote, keepAsEarlier);
    for (const bq::LayerResult& r : layers)
        m_depth->addLayer(r);
    for (const auto& [block, metrics] : blocks)
        setBlockMetrics(block, metrics);
    m_model->setResults(std::move(layers));
    if (m_model->rowCount() > 0)
        showLayer(m_model->rowCount() - 1);
    refresh();
}

bool RunView::hasPendingWork() const
{
    bool dirty = m_model->hasPending() || m_depth->isDirty();
    for (LayerPlot* plot : layerPlots())
        dirty = dirty || plot->isDirty();
    return dirty;
}

void RunView::refresh()
{
    const int before = m_model->rowCount();
    if (m_model->flush()) {
        m_count->setText(tr("%1 of %2").arg(m_proxy->rowCount()).arg(m_model->rowCount()));
        if (m_followLatest && m_model->rowCount() > before)
            showLayer(m_model->rowCount() - 1);
        else if (!m_shown.empty() && m_model->rowOf(m_shown) >= 0)
            showLayer(m_model->rowOf(m_shown)); // its result may have been replaced
    }
    m_depth->refresh();
    for (LayerPlot* plot : layerPlots())
        plot->refresh();
}

const std::vector<bq::LayerResult>& RunView::layerResults() const
{
    return m_model->results();
}

void RunView::selectTensor(const std::string& tensor)
{
    const int row = m_model->rowOf(tensor);
    if (row < 0)
        return;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    if (index.isValid())
        m_table->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    else
        showLayer(row); // filtered out of the table: show its plots anyway
}

QString RunView::shownTensor() const
{
    return QString::fromStdString(m_shown);
}

void RunView::onSelectionChanged()
{
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return;
    m_followLatest = false;
    showLayer(m_proxy->mapToSource(rows.first()).row());
}

void RunView::showLayer(int sourceRow)
{
    const bq::LayerResult& r = m_model->result(sourceRow);
    m_shown = r.tensor;
    for (LayerPlot* plot : layerPlots()) {
        plot->setLayer(r);
        plot->refresh();
    }
    m_salient->setLayer(r);
}

} // namespace studio
