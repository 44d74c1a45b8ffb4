#include "widgets/depth_chart.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/model/tensor_names.h"
#include <QChart>
#include <QCursor>
#include <QLineSeries>
#include <QLocale>
#include <QLogValueAxis>
#include <QMenu>
#include <QPen>
#include <QTextDocument>
#include <QToolTip>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <set>

namespace studio {

namespace q = bq::quant;

namespace {

const QColor kColors[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e)};
const Qt::PenStyle kEarlierStyles[] = {Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};

QString describe(const std::string& key)
{
    if (key == DepthChart::kBitsPerWeight)
        return QObject::tr("Bits per weight of the stored layer, everything counted: sign planes, scales, means and "
                           "masks (16 for a matrix kept in full precision).");
    return QString::fromUtf8(q::metricDescription(key).data());
}

} // namespace

QString DepthMetric::description() const
{
    QString text;
    for (std::size_t i = 0; i < keys.size(); ++i)
        text += QStringLiteral("<p><b>%1</b>: %2</p>").arg(seriesNames[qsizetype(i)], describe(keys[i]));
    return text;
}

const std::vector<DepthMetric>& DepthChart::metrics()
{
    static const std::vector<DepthMetric> list = [] {
        std::vector<DepthMetric> m;
        m.push_back({tr("Output error per matrix"), tr("rel. error"),
                     {q::metric::OutputCumulative, q::metric::OutputLocal},
                     {tr("cumulative"), tr("local")}, false, true, true, 1});
        m.push_back({tr("Weight error per matrix"), tr("rel. error"), {q::metric::WeightRelError},
                     {tr("weight error")}, false, true, false, 1});
        m.push_back({tr("Bits per weight per matrix"), tr("bits"), {kBitsPerWeight},
                     {tr("bits/weight")}, false, false, false, 1});
        m.push_back({tr("Quantize time per matrix"), tr("s"), {q::metric::QuantizeSeconds},
                     {tr("quantize time")}, false, false, false, 1});
        m.push_back({tr("Memory (RSS) per matrix"), tr("MiB"), {q::metric::RssBytes}, {tr("RSS")}, false, false,
                     false, 1.0 / (1024.0 * 1024.0)});
        m.push_back({tr("Residual-stream relative MSE per block"), tr("rel. MSE"),
                     {q::metric::ResidualRelMse}, {tr("residual rel. MSE")}, true, true, true, 1});
        m.push_back({tr("Residual-stream cosine per block"), tr("cosine"), {q::metric::ResidualCosine},
                     {tr("residual cosine")}, true, false, true, 1});
        m.push_back({tr("Token similarity error per block"), tr("error"),
                     {q::metric::TokenSimNormalized}, {tr("token similarity error")}, true, true, true, 1});
        return m;
    }();
    return list;
}

DepthChart::DepthChart(QWidget* parent) : PlotView(QStringLiteral("depth"), parent)
{
    QChart* c = chart();
    m_x = new QValueAxis(c);
    m_x->setLabelFormat(QStringLiteral("%d"));
    m_yLinear = new QValueAxis(c);
    m_yLinear->setLabelFormat(QStringLiteral("%.4g"));
    m_yLog = new QLogValueAxis(c);
    m_yLog->setLabelFormat(QStringLiteral("%g"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_yLinear, Qt::AlignLeft);
    c->addAxis(m_yLog, Qt::AlignLeft);
    c->legend()->setAlignment(Qt::AlignRight); // the chart is wide and short: the legend takes width, not height
    m_current.name = tr("current run");
    setMetric(0);
}

void DepthChart::setMetric(int index)
{
    m_metric = std::clamp(index, 0, int(metrics().size()) - 1);
    setToolTip(metrics()[std::size_t(m_metric)].description());
    m_structureDirty = true;
    markDirty();
}

void DepthChart::setCurrentName(const QString& name)
{
    m_current.name = name;
    m_structureDirty = true;
    markDirty();
}

void DepthChart::addLayer(const bq::LayerResult& result)
{
    std::map<std::string, double> values = result.metrics;
    values[kBitsPerWeight] = result.bitsPerWeight;
    auto it = std::find_if(m_current.matrices.begin(), m_current.matrices.end(),
                           [&](const auto& m) { return m.first == result.tensor; });
    if (it != m_current.matrices.end())
        it->second = std::move(values);
    else
        m_current.matrices.emplace_back(result.tensor, std::move(values));
    markDirty();
}

void DepthChart::setBlockMetrics(int block, const std::map<std::string, double>& metrics)
{
    for (const auto& [key, v] : metrics)
        m_current.blocks[block][key] = v;
    markDirty();
}

void DepthChart::setNotComputed(const QString& reason)
{
    m_current.notComputed = reason;
    markDirty();
}

void DepthChart::clearCurrent()
{
    const QString name = m_current.name;
    m_current = Run();
    m_current.name = name;
    markDirty();
}

bool DepthChart::currentIsEmpty() const
{
    return m_current.empty();
}

void DepthChart::archiveCurrent()
{
    if (m_current.empty())
        return;
    m_earlier.insert(m_earlier.begin(), std::move(m_current));
    if (int(m_earlier.size()) > kEarlierRuns)
        m_earlier.resize(kEarlierRuns);
    m_current = Run();
    m_current.name = tr("current run");
    m_structureDirty = true;
    markDirty();
}

void DepthChart::clearEarlierRuns()
{
    m_earlier.clear();
    m_structureDirty = true;
    markDirty();
}

QList<QLineSeries*> DepthChart::runSeries(int run) const
{
    return run >= 0 && run < int(m_series.size()) ? m_series[std::size_t(run)] : QList<QLineSeries*>();
}

QString DepthChart::titleText() const
{
    QTextDocument doc;
    doc.setHtml(chart()->title());
    return doc.toPlainText();
}

void DepthChart::addContextActions(QMenu& menu)
{
    QAction* clear = menu.addAction(tr("Clear earlier runs"), this, [this] {
        clearEarlierRuns();
        refresh();
    });
    clear->setEnabled(!m_earlier.empty());
}

void DepthChart::rebuildSeries()
{
    m_structureDirty = false;
    QChart* c = chart();
    for (const QList<QLineSeries*>& list : m_series)
        for (QLineSeries* s : list) {
            c->removeSeries(s);
            delete s;
        }
    m_series.clear();
    const DepthMetric& metric = metrics()[std::size_t(m_metric)];
    m_yLog->setVisible(metric.logScale);
    m_yLinear->setVisible(!metric.logScale);
    QAbstractAxis* y = metric.logScale ? static_cast<QAbstractAxis*>(m_yLog) : m_yLinear;
    y->setTitleText(metric.axisTitle);
    m_x->setTitleText(metric.perBlock ? tr("block") : tr("weight matrix (model order)"));
    const int runs = 1 + int(m_earlier.size());
    for (int r = 0; r < runs; ++r) {
        QList<QLineSeries*> list;
        for (std::size_t k = 0; k < metric.keys.size(); ++k) {
            auto* s = new QLineSeries(c);
            const QString key = metric.keys.size() > 1 ? QStringLiteral(": ") + metric.seriesNames[qsizetype(k)]
                                                       : QString();
            s->setName(run(r).name + key);
            QColor color = kColors[k % std::size(kColors)];
            QPen pen(color, r == 0 ? 2.0 : 1.5);
            if (r > 0) {
                color.setAlpha(170);
                pen.setColor(color);
                pen.setStyle(kEarlierStyles[std::size_t(r - 1) % std::size(kEarlierStyles)]);
            }
            s->setPen(pen);
            s->setPointsVisible(r == 0);
            c->addSeries(s);
            s->attachAxis(m_x);
            s->attachAxis(y);
            connect(s, &QLineSeries::hovered, this, [this, r, k](const QPointF& p, bool state) {
                if (state)
                    showPointToolTip(r, int(k), p);
            });
            list.append(s);
        }
        m_series.push_back(list);
    }
}

void DepthChart::showPointToolTip(int runIndex, int key, const QPointF& point)
{
    const DepthMetric& metric = metrics()[std::size_t(m_metric)];
    const int x = int(std::lround(point.x()));
    QString where = metric.perBlock ? tr("block %1").arg(x)
                                    : (x >= 0 && x < m_matrixAxis.size() ? m_matrixAxis[x] : QString::number(x));
    QToolTip::showText(QCursor::pos(), tr("%1\n%2\n%3 = %4")
                                           .arg(run(runIndex).name, where, metric.seriesNames[key])
                                           .arg(QLocale().toString(point.y(), 'g', 5)),
                       this);
}

void DepthChart::redraw()
{
    if (m_structureDirty)
        rebuildSeries();
    const DepthMetric& metric = metrics()[std::size_t(m_metric)];
    const int runs = int(m_series.size());

    // x positions: every shown run's matrices in model order, so runs with other kept layers line up by name.
    if (!metric.perBlock) {
        std::set<std::string> names;
        for (int r = 0; r < runs; ++r)
            for (const auto& m : run(r).matrices)
                names.insert(m.first);
        std::vector<std::string> ordered(names.begin(), names.end());
        std::stable_sort(ordered.begin(), ordered.end(), bq::tensorOrderLess);
        m_matrixAxis.clear();
        for (const std::string& n : ordered)
            m_matrixAxis.append(QString::fromStdString(n));
    }

    double lo = INFINITY, hi = -INFINITY, xMax = 1;
    bool currentHasValues = false;
    for (int r = 0; r < runs; ++r) {
        const Run& data = run(r);
        for (std::size_t k = 0; k < metric.keys.size(); ++k) {
            const std::string& key = metric.keys[k];
            QList<QPointF> points;
            auto take = [&](double x, const std::map<std::string, double>& values) {
                const auto it = values.find(key);
                if (it == values.end())
                    return;
                const double v = it->second * metric.scale;
                if (!std::isfinite(v) || (metric.logScale && v <= 0))
                    return;
                points.append(QPointF(x, v));
                lo = std::min(lo, v);
                hi = std::max(hi, v);
                xMax = std::max(xMax, x);
            };
            if (metric.perBlock) {
                for (const auto& [block, values] : data.blocks)
                    take(block, values);
            } else {
                for (const auto& [tensor, values] : data.matrices)
                    take(double(m_matrixAxis.indexOf(QString::fromStdString(tensor))), values);
                std::sort(points.begin(), points.end(), [](const QPointF& a, const QPointF& b) { return a.x() < b.x(); });
            }
            if (r == 0 && !points.isEmpty())
                currentHasValues = true;
            m_series[std::size_t(r)][qsizetype(k)]->replace(points);
        }
    }

    QString detail;
    if (!currentHasValues && metric.needsSecondStream && !m_current.notComputed.isEmpty())
        detail = tr("%1: not computed — it needs the full-precision stream, and %2")
                     .arg(m_current.name, m_current.notComputed);
    else if (!currentHasValues)
        detail = m_current.empty() ? tr("%1: no data yet").arg(m_current.name)
                                   : tr("%1: no values for this metric").arg(m_current.name);
    else if (!m_earlier.empty())
        detail = tr("%1, with %n earlier run(s) dashed", nullptr, int(m_earlier.size())).arg(m_current.name);
    else
        detail = m_current.name;
    setTitle(metric.label, detail);

    setIndexRange(m_x, 0, xMax);
    if (metric.logScale)
        setLogRange(m_yLog, lo, hi);
    else
        setLinearRange(m_yLinear, lo, hi, metric.keys.front() == kBitsPerWeight);
}

} // namespace studio
