// The application icon drawn with QPainter (the same design as resources/bitstudio.svg), so the window icon
// needs no SVG image plugin at run time.
#pragma once
#include <QIcon>

namespace studio {

QIcon appIcon();

} // namespace studio
