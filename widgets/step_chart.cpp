#include "widgets/step_chart.h"
#include <QChart>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QScatterSeries>
#include <QValueAxis>
#include <cmath>
#include <map>

namespace studio {

StepChart::StepChart(QWidget* parent) : PlotView(QStringLiteral("lab-objective"), parent)
{
    QChart* c = chart();
    m_x = new QValueAxis(c);
    m_x->setTitleText(tr("step"));
    m_x->setLabelFormat(QStringLiteral("%d"));
    m_y = new QValueAxis(c);
    m_y->setTitleText(tr("objective"));
    m_y->setLabelFormat(QStringLiteral("%.4g"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    m_marker = new QScatterSeries(c);
    m_marker->setName(tr("selected step"));
    m_marker->setMarkerSize(11);
    m_marker->setColor(QColor(0x20, 0x20, 0x20));
    c->addSeries(m_marker);
    m_marker->attachAxis(m_x);
    m_marker->attachAxis(m_y);
    for (QLegendMarker* marker : c->legend()->markers(m_marker))
        marker->setVisible(false);
    setToolTip(tr("The quantity the method minimizes after each recorded step (its name in the legend). Click a "
                  "step in the list to mark it here and to see its snapshot."));
    markDirty();
}

void StepChart::setSteps(const QString& method, std::shared_ptr<const std::vector<bq::quant::MethodStep>> steps,
                         const QString& message)
{
    m_method = method;
    m_steps = std::move(steps);
    m_message = message;
    m_selected = -1;
    markDirty();
}

void StepChart::setSelectedStep(int index)
{
    m_selected = index;
    markDirty();
}

int StepChart::seriesCount() const
{
    return int(chart()->series().size()) - 1; // without the marker
}

void StepChart::redraw()
{
    QChart* c = chart();
    for (QAbstractSeries* s : c->series())
        if (s != m_marker) {
            c->removeSeries(s);
            delete s;
        }
    m_marker->clear();
    double lo = INFINITY, hi = -INFINITY;
    const int count = m_steps ? int(m_steps->size()) : 0;
    // One line per objective and fit: a step with iteration 0 starts a new fit (a block of the binary family), so
    // the jump to the next block's objective is not drawn as a change. The fits of one objective share a colour
    // and a legend entry.
    std::map<std::string, QLineSeries*> lines; // the current line of each objective
    std::map<std::string, QColor> colours;
    for (int k = 0; k < count; ++k) {
        const bq::quant::MethodStep& step = (*m_steps)[std::size_t(k)];
        if (!std::isfinite(step.objective))
            continue;
        QLineSeries*& line = lines[step.objectiveName];
        if (!line || step.iteration == 0) {
            const bool first = !line;
            line = new QLineSeries(c);
            line->setName(QString::fromStdString(step.objectiveName));
            line->setPointsVisible(true);
            c->addSeries(line);
            line->attachAxis(m_x);
            line->attachAxis(m_y);
            if (first) {
                colours[step.objectiveName] = line->color();
            } else {
                line->setColor(colours[step.objectiveName]);
                for (QLegendMarker* marker : c->legend()->markers(line))
                    marker->setVisible(false);
            }
        }
        line->append(k + 1, step.objective);
        lo = std::min(lo, step.objective);
        hi = std::max(hi, step.objective);
    }
    if (m_selected >= 0 && m_selected < count && std::isfinite((*m_steps)[std::size_t(m_selected)].objective))
        m_marker->append(m_selected + 1, (*m_steps)[std::size_t(m_selected)].objective);
    c->legend()->setVisible(!lines.empty());
    if (lines.empty()) {
        setTitle(tr("Objective per step"), m_message.isEmpty() ? tr("no step has an objective") : m_message);
        setIndexRange(m_x, 1, 2);
        setLinearRange(m_y, 0, -1);
        return;
    }
    setTitle(tr("Objective per step — %1").arg(m_method), tr("%n recorded step(s)", nullptr, count));
    setIndexRange(m_x, 1, std::max(2, count));
    setLinearRange(m_y, lo, hi);
    if (lo >= 0 && m_y->min() < 0) // the padding must not suggest negative objectives
        m_y->setMin(0);
}

} // namespace studio
