#include "widgets/objective_chart.h"
#include "bq/quant/analysis/analysis.h"
#include <QChart>
#include <QLineSeries>
#include <QValueAxis>

namespace studio {

namespace q = bq::quant;

ObjectiveChart::ObjectiveChart(QWidget* parent) : LayerPlot(QStringLiteral("objective"), parent)
{
    QChart* c = chart();
    m_trace = new QLineSeries(c);
    m_trace->setName(tr("objective"));
    m_trace->setPointsVisible(true);
    m_x = new QValueAxis(c);
    m_x->setTitleText(tr("iteration"));
    m_x->setLabelFormat(QStringLiteral("%d"));
    m_y = new QValueAxis(c);
    m_y->setTitleText(tr("objective"));
    m_y->setLabelFormat(QStringLiteral("%.4g"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    c->addSeries(m_trace);
    m_trace->attachAxis(m_x);
    m_trace->attachAxis(m_y);
    c->legend()->hide();
    setToolTip(QString::fromUtf8(q::metricDescription(q::array::ObjectiveTrace).data()));
    markDirty();
}

void ObjectiveChart::redraw()
{
    const std::vector<double>* trace = array(q::array::ObjectiveTrace);
    double lo = 0, hi = -1;
    m_trace->replace(trace ? indexedPoints(*trace, false, lo, hi) : QList<QPointF>());
    if (m_trace->count() == 0) {
        QString why = missingText();
        if (layer() && layer()->method != "fp" && layer()->arrays)
            why = tr("%1\n%2 records no objective trace")
                      .arg(tensorName(), QString::fromStdString(layer()->method));
        setTitle(tr("Objective"), why);
        setIndexRange(m_x, 1, 2);
        setLinearRange(m_y, 0, -1);
        return;
    }
    setTitle(tr("Objective (%1)").arg(QString::fromStdString(layer()->method)),
             tr("%1 · %n iteration(s)", nullptr, int(m_trace->count())).arg(tensorName()));
    setIndexRange(m_x, 1, double(trace->size()));
    setLinearRange(m_y, lo, hi);
}

} // namespace studio
