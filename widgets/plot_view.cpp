#include "widgets/plot_view.h"
#include "widgets/plot_export.h"
#include <QChart>
#include <QContextMenuEvent>
#include <QGraphicsLayout>
#include <QLegend>
#include <QLogValueAxis>
#include <QMenu>
#include <QPen>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <vector>

namespace studio {

PlotView::PlotView(const QString& exportName, QWidget* parent)
    : QChartView(makePlotChart(), parent), m_exportName(exportName)
{
    setRenderHint(QPainter::Antialiasing);
    setMinimumSize(220, 160);
}

void PlotView::refresh()
{
    if (!m_dirty)
        return;
    m_dirty = false;
    redraw();
}

void PlotView::addContextActions(QMenu&) {}

void PlotView::setTitle(const QString& title, const QString& detail)
{
    chart()->setTitle(plotTitle(title, detail));
    chart()->layout()->invalidate();
}

void PlotView::contextMenuEvent(QContextMenuEvent* event)
{
    QMenu menu(this);
    addContextActions(menu);
    if (!menu.isEmpty())
        menu.addSeparator();
    addPlotExportActions(menu, this, m_exportName);
    menu.exec(event->globalPos());
}

QChart* makePlotChart()
{
    auto* chart = new QChart;
    chart->setMargins(QMargins(4, 2, 4, 2));
    chart->layout()->setContentsMargins(0, 0, 0, 0);
    chart->setBackgroundRoundness(0);
    chart->legend()->setAlignment(Qt::AlignBottom);
    QFont font = chart->legend()->font();
    font.setPointSizeF(font.pointSizeF() * 0.85);
    chart->legend()->setFont(font);
    chart->setAnimationOptions(QChart::NoAnimation);
    return chart;
}

QString plotTitle(const QString& title, const QString& detail)
{
    QString html = QStringLiteral("<b>%1</b>").arg(title.toHtmlEscaped());
    if (!detail.isEmpty())
        html += QStringLiteral("<br><span style='font-size:small'>%1</span>")
                    .arg(detail.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>")));
    return html;
}

void setLogRange(QLogValueAxis* axis, double lo, double hi)
{
    if (!(lo > 0) || lo > hi) {
        lo = 1e-3;
        hi = 1;
    }
    constexpr double kMaxLabels = 4; // small plots cannot fit more without Qt eliding every label
    double a = std::floor(std::log10(lo));
    double b = std::ceil(std::log10(hi));
    if (b <= a)
        b = a + 1;
    const double step = std::max(1.0, std::ceil((b - a) / kMaxLabels)); // decades per label
    a = step * std::floor(a / step);
    b = step * std::ceil(b / step);
    axis->setBase(std::pow(10.0, step));
    axis->setMinorGridLinePen(QPen(QColor(0xee, 0xee, 0xee), 1));
    axis->setMinorTickCount(step == 1 ? 8 : int(step) - 1);
    // A hair beyond the decades, so rounding in the axis' own log cannot drop the end labels.
    axis->setRange(std::pow(10.0, a) * (1 - 1e-9), std::pow(10.0, b) * (1 + 1e-9));
}

void setLinearRange(QValueAxis* axis, double lo, double hi, bool includeZero)
{
    if (lo > hi) {
        axis->setRange(0, 4);
        axis->setTickCount(5);
        return;
    }
    if (includeZero) {
        lo = std::min(lo, 0.0);
        hi = std::max(hi, 0.0);
    }
    const double pad = hi > lo ? 0.05 * (hi - lo) : std::max(std::abs(hi) * 0.05, 1e-9);
    axis->setRange(includeZero && lo == 0 ? 0 : lo - pad, includeZero && hi == 0 ? 0 : hi + pad);
    axis->applyNiceNumbers();
}

void setIndexRange(QValueAxis* axis, double first, double last)
{
    last = std::max(last, first + 1);
    // The smallest of 1, 2, 5 × 10^k giving at most 5 intervals (more do not fit a small plot's width).
    const double rough = (last - first) / 5.0;
    double step = 1;
    for (double decade = 1; step < rough; decade *= 10)
        for (double m : {1.0, 2.0, 5.0})
            if (step < rough)
                step = m * decade;
    axis->setTickType(QValueAxis::TicksDynamic);
    axis->setTickAnchor(0);
    axis->setTickInterval(step);
    axis->setRange(first, last);
}

QList<QPointF> indexedPoints(const std::vector<double>& values, bool positiveOnly, double& lo, double& hi)
{
    QList<QPointF> points;
    points.reserve(qsizetype(values.size()));
    lo = INFINITY;
    hi = -INFINITY;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const double v = values[i];
        if (!std::isfinite(v) || (positiveOnly && v <= 0))
            continue;
        points.append(QPointF(double(i + 1), v));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    return points;
}

} // namespace studio
