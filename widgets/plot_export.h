// Saving a plot as the user sees it: PNG through QWidget::grab() (pixels of the widget at its current size and
// device pixel ratio) and SVG through QSvgGenerator (the widget rendered into vector paths and text, so the file
// scales). Every studio plot offers both from its context menu (addPlotExportActions). GUI thread.
#pragma once
#include <QString>

class QMenu;
class QWidget;

namespace studio {

// Both return false when the file cannot be written (the caller reports it).
bool savePlotPng(QWidget* plot, const QString& path);
bool savePlotSvg(QWidget* plot, const QString& path, const QString& title);

// Adds "Export PNG…" and "Export SVG…" to a context menu; each asks for a file name (suggested from
// `baseName`) and saves the plot, with a message box when writing fails.
void addPlotExportActions(QMenu& menu, QWidget* plot, const QString& baseName);

} // namespace studio
