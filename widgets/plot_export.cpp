#include "widgets/plot_export.h"
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QPainter>
#include <QPixmap>
#include <QStandardPaths>
#include <QSvgGenerator>
#include <QWidget>

namespace studio {

bool savePlotPng(QWidget* plot, const QString& path)
{
    return plot->grab().save(path, "PNG");
}

bool savePlotSvg(QWidget* plot, const QString& path, const QString& title)
{
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(plot->size());
    svg.setViewBox(QRect(QPoint(0, 0), plot->size()));
    svg.setTitle(title);
    svg.setDescription(QStringLiteral("bitstudio plot"));
    QPainter painter;
    if (!painter.begin(&svg))
        return false;
    plot->render(&painter);
    return painter.end();
}

namespace {

void exportPlot(QWidget* plot, const QString& baseName, bool svg)
{
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    const QString suffix = svg ? QStringLiteral(".svg") : QStringLiteral(".png");
    const QString path = QFileDialog::getSaveFileName(
        plot, svg ? QObject::tr("Export plot as SVG") : QObject::tr("Export plot as PNG"), dir + '/' + baseName + suffix,
        svg ? QObject::tr("SVG images (*.svg)") : QObject::tr("PNG images (*.png)"));
    if (path.isEmpty())
        return;
    const bool ok = svg ? savePlotSvg(plot, path, baseName) : savePlotPng(plot, path);
    if (!ok)
        QMessageBox::warning(plot, QObject::tr("Export failed"), QObject::tr("Could not write %1").arg(path));
}

} // namespace

void addPlotExportActions(QMenu& menu, QWidget* plot, const QString& baseName)
{
    menu.addAction(QObject::tr("Export PNG…"), plot, [plot, baseName] { exportPlot(plot, baseName, false); });
    menu.addAction(QObject::tr("Export SVG…"), plot, [plot, baseName] { exportPlot(plot, baseName, true); });
}

} // namespace studio
