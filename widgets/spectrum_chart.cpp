#include "widgets/spectrum_chart.h"
#include "bq/quant/analysis/analysis.h"
#include <QChart>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

namespace studio {

namespace q = bq::quant;

SpectrumChart::SpectrumChart(QWidget* parent) : LayerPlot(QStringLiteral("spectrum"), parent)
{
    QChart* c = chart();
    m_weight = new QLineSeries(c);
    m_weight->setName(tr("W"));
    m_quantized = new QLineSeries(c);
    m_quantized->setName(tr("Ŵ"));
    m_error = new QLineSeries(c);
    m_error->setName(tr("W − Ŵ"));
    m_x = new QValueAxis(c);
    m_x->setTitleText(tr("rank"));
    m_x->setLabelFormat(QStringLiteral("%d"));
    m_y = new QLogValueAxis(c);
    m_y->setTitleText(tr("σ"));
    m_y->setLabelFormat(QStringLiteral("%g"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    for (QLineSeries* s : {m_weight, m_quantized, m_error}) {
        c->addSeries(s);
        s->attachAxis(m_x);
        s->attachAxis(m_y);
    }
    setToolTip(QStringLiteral("<p>%1</p><p>%2</p><p>%3</p><p>%4</p>")
                   .arg(QString::fromUtf8(q::metricDescription(q::array::SvWeight).data()),
                        QString::fromUtf8(q::metricDescription(q::array::SvQuantized).data()),
                        QString::fromUtf8(q::metricDescription(q::array::SvError).data()),
                        QString::fromUtf8(q::metricDescription(q::metric::SvExact).data())));
    markDirty();
}

void SpectrumChart::redraw()
{
    double lo = INFINITY, hi = -INFINITY;
    std::size_t count = 0;
    const std::pair<QLineSeries*, const char*> parts[] = {
        {m_weight, q::array::SvWeight}, {m_quantized, q::array::SvQuantized}, {m_error, q::array::SvError}};
    for (const auto& [series, key] : parts) {
        const std::vector<double>* values = array(key);
        double a = 0, b = 0;
        series->replace(values ? indexedPoints(*values, true, a, b) : QList<QPointF>());
        if (values && !series->points().isEmpty()) {
            lo = std::min(lo, a);
            hi = std::max(hi, b);
            count = std::max(count, values->size());
        }
    }
    if (count == 0) {
        setTitle(tr("Singular values"), missingText());
        setIndexRange(m_x, 1, 2);
        setLogRange(m_y, 0, -1);
        return;
    }
    const bool exact = metric(q::metric::SvExact, 1) != 0;
    const QString kind = exact ? tr("exact, all %1").arg(count) : tr("top-%1 (randomized)").arg(count);
    setTitle(tr("Singular values, %1").arg(kind), tensorName());
    setIndexRange(m_x, 1, double(count));
    setLogRange(m_y, lo, hi);
}

} // namespace studio
