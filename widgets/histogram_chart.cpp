#include "widgets/histogram_chart.h"
#include "bq/quant/analysis/analysis.h"
#include <QChart>
#include <QLineSeries>
#include <QPen>
#include <QValueAxis>
#include <algorithm>

namespace studio {

namespace q = bq::quant;

HistogramChart::HistogramChart(QWidget* parent) : LayerPlot(QStringLiteral("histogram"), parent)
{
    QChart* c = chart();
    m_weight = new QLineSeries(c);
    m_weight->setName(tr("W (left axis)"));
    m_levels = new QLineSeries(c);
    m_levels->setName(tr("Ŵ levels (right axis)"));
    m_levels->setPen(QPen(QColor(0xd6, 0x27, 0x28), 2));
    m_x = new QValueAxis(c);
    m_x->setTitleText(tr("weight value"));
    m_x->setLabelFormat(QStringLiteral("%.2g"));
    m_y = new QValueAxis(c);
    m_y->setTitleText(tr("count"));
    m_y->setLabelFormat(QStringLiteral("%.0f"));
    m_yLevels = new QValueAxis(c);
    m_yLevels->setTitleText(tr("count"));
    m_yLevels->setLabelFormat(QStringLiteral("%.0f"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    c->addAxis(m_yLevels, Qt::AlignRight);
    c->addSeries(m_weight);
    m_weight->attachAxis(m_x);
    m_weight->attachAxis(m_y);
    c->addSeries(m_levels);
    m_levels->attachAxis(m_x);
    m_levels->attachAxis(m_yLevels);
    setToolTip(QStringLiteral("<p>%1</p><p>%2</p><p>%3</p>")
                   .arg(QString::fromUtf8(q::metricDescription(q::array::HistEdges).data()),
                        QString::fromUtf8(q::metricDescription(q::array::HistWeight).data()),
                        QString::fromUtf8(q::metricDescription(q::array::HistQuantized).data())));
    markDirty();
}

void HistogramChart::redraw()
{
    const std::vector<double>* edges = array(q::array::HistEdges);
    const std::vector<double>* weight = array(q::array::HistWeight);
    const std::vector<double>* quantized = array(q::array::HistQuantized);
    QList<QPointF> steps, stems;
    double maxW = 0, maxQ = 0;
    m_levelCount = 0;
    if (edges && weight && weight->size() + 1 == edges->size()) {
        for (std::size_t b = 0; b < weight->size(); ++b) {
            steps.append(QPointF((*edges)[b], (*weight)[b]));
            steps.append(QPointF((*edges)[b + 1], (*weight)[b]));
            maxW = std::max(maxW, (*weight)[b]);
        }
        if (quantized && quantized->size() == weight->size()) {
            // One zig-zag series draws every stem: baseline → count → baseline at each occupied bin centre.
            for (std::size_t b = 0; b < quantized->size(); ++b) {
                const double count = (*quantized)[b];
                if (count <= 0)
                    continue;
                const double x = 0.5 * ((*edges)[b] + (*edges)[b + 1]);
                stems.append({QPointF(x, 0), QPointF(x, count), QPointF(x, 0)});
                maxQ = std::max(maxQ, count);
                ++m_levelCount;
            }
        }
    }
    m_weight->replace(steps);
    m_levels->replace(stems);
    if (steps.isEmpty()) {
        setTitle(tr("Weight histogram"), missingText());
        setLinearRange(m_x, -1, 1);
        setLinearRange(m_y, 0, -1);
        setLinearRange(m_yLevels, 0, -1);
        return;
    }
    setTitle(tr("Weight histogram"),
             tr("%1 · %2 bins, Ŵ in %3").arg(tensorName()).arg(weight->size()).arg(m_levelCount));
    setLinearRange(m_x, edges->front(), edges->back());
    setLinearRange(m_y, 0, maxW, true);
    setLinearRange(m_yLevels, 0, std::max(maxQ, 1.0), true);
}

} // namespace studio
