// The base of the studio's Qt Charts plots (architecture.md §5): setters only store data and mark the plot
// dirty; refresh() — called by the page's one 40–50 ms timer, never per event — redraws a dirty plot once, its
// series updated with QXYSeries::replace(). The context menu exports the plot as PNG or SVG. No OpenGL series
// (they break offscreen and under Xvfb). GUI thread.
#pragma once
#include <QChartView>
#include <QList>
#include <QPointF>
#include <QString>
#include <vector>

class QLogValueAxis;
class QMenu;
class QValueAxis;

namespace studio {

class PlotView : public QChartView {
    Q_OBJECT
public:
    // exportName: the file name suggested by the export actions ("depth", "spectrum", ...).
    explicit PlotView(const QString& exportName, QWidget* parent = nullptr);

    void refresh(); // redraws when dirty, then clears the flag
    bool isDirty() const { return m_dirty; }
    QString exportName() const { return m_exportName; }

protected:
    void markDirty() { m_dirty = true; }
    // Sets the title (plotTitle) and relays the chart out: Qt Charts applies a title's text only when its size
    // changes, so a new title of the same (e.g. truncated) size would otherwise keep showing the old one.
    void setTitle(const QString& title, const QString& detail = {});
    virtual void redraw() = 0;
    virtual void addContextActions(QMenu& menu); // extras before the export actions; none by default
    void contextMenuEvent(QContextMenuEvent* event) override;

private:
    QString m_exportName;
    bool m_dirty = false;
};

// A chart with the studio's look: small margins and fonts, legend at the bottom, title as HTML.
QChart* makePlotChart();
// The chart title: a bold first line and optional smaller lines under it (plain text, escaped here; '\n'
// separates lines).
QString plotTitle(const QString& title, const QString& detail = {});

// Ranges that show the data: a log axis spans whole decades around [lo, hi] (lo > 0), labelled every decade
// up to 4 decades and every 10^k decades beyond; a linear axis pads [lo, hi] by 5 % and rounds to nice
// numbers. Empty data (lo > hi) gets a neutral range.
void setLogRange(QLogValueAxis* axis, double lo, double hi);
void setLinearRange(QValueAxis* axis, double lo, double hi, bool includeZero = false);
// An index axis ("%d" labels) over [first, last] with whole-number ticks.
void setIndexRange(QValueAxis* axis, double first, double last);

// (1, v0), (2, v1), ...: values against their 1-based index, dropping non-finite values and, for log axes,
// values ≤ 0 (which a log axis cannot place). lo/hi receive the range of the kept values.
QList<QPointF> indexedPoints(const std::vector<double>& values, bool positiveOnly, double& lo, double& hi);

} // namespace studio
