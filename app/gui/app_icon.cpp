#include "gui/app_icon.h"
#include <QLinearGradient>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace studio {



namespace {

// Coordinates follow resources/bitstudio.svg (a 256 × 256 canvas).
QPixmap drawIcon(int size)
{
    QPixmap pixmap(size, size);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(size / 256.0, size / 256.0);

    QLinearGradient bg(0, 8, 0, 248);
    bg.setColorAt(0, QColor(0x3b, 0x6f, 0xb6));
    bg.setColorAt(1, QColor(0x1f, 0x3f, 0x73));
    p.setPen(Qt::NoPen);
    p.setBrush(bg);
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 44, 44);

    // 3 × 3 sign bits: filled = +1, hollow = −1.
    static const bool bits[3][3] = {{true, false, true}, {false, true, true}, {true, true, false}};
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
            p.setPen(QPen(Qt::white, 8));
            p.setBrush(bits[r][c] ? QBrush(Qt::white) : QBrush(Qt::NoBrush));
            p.drawRoundedRect(QRectF(44 + 52 * c, 44 + 52 * r, 32, 32), 6, 6);
        }

    const QColor gold(0xff, 0xd5, 0x4a);
    QPainterPath one;
    one.moveTo(196, 52);
    one.lineTo(214, 44);
    one.lineTo(214, 204);
    p.setPen(QPen(gold, 16, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.setBrush(Qt::NoBrush);
    p.drawPath(one);
    p.setPen(Qt::NoPen);
    p.setBrush(gold);
    p.drawRoundedRect(QRectF(44, 200, 136, 10), 5, 5);
    return pixmap;
}

} // namespace

QIcon appIcon()
{
    QIcon icon;
    for (int size : {16, 24, 32, 48, 64, 128, 256})
        icon.addPixmap(drawIcon(size));
    return icon;
}

} // namespace studio
