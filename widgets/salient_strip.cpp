#include "widgets/salient_strip.h"
#include "bq/quant/analysis/analysis.h"
#include "widgets/plot_export.h"
#include <QContextMenuEvent>
#include <QMenu>
#include <QPainter>

namespace studio {

namespace q = bq::quant;

namespace {
constexpr int kCaptionHeight = 18;
constexpr int kStripHeight = 16;
const QRgb kSalient = qRgb(0xd6, 0x27, 0x28);
const QRgb kOrdinary = qRgb(0xe8, 0xe8, 0xe8);
} // namespace

SalientStrip::SalientStrip(QWidget* parent) : QWidget(parent)
{
    setToolTip(QString::fromUtf8(q::metricDescription(q::array::SalientColumns).data()));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    clearLayer();
}

QSize SalientStrip::sizeHint() const
{
    return {400, kCaptionHeight + kStripHeight + 6};
}

void SalientStrip::setLayer(const bq::LayerResult& result)
{
    m_image = QImage();
    m_salient = 0;
    const std::vector<double>* mask = nullptr;
    if (result.arrays) {
        const auto it = result.arrays->values.find(q::array::SalientColumns);
        if (it != result.arrays->values.end() && !it->second.empty())
            mask = &it->second;
    }
    const QString tensor = QString::fromStdString(result.tensor);
    if (!mask) {
        m_caption = tr("Salient columns — %1: none (%2 keeps no salient mask)")
                        .arg(tensor, QString::fromStdString(result.method));
        update();
        return;
    }
    m_image = QImage(int(mask->size()), 1, QImage::Format_RGB32);
    for (int j = 0; j < m_image.width(); ++j) {
        const bool salient = (*mask)[std::size_t(j)] != 0;
        m_salient += salient ? 1 : 0;
        m_image.setPixel(j, 0, salient ? kSalient : kOrdinary);
    }
    m_caption = tr("Salient columns — %1: %2 of %3 (%4 %)")
                    .arg(tensor)
                    .arg(m_salient)
                    .arg(m_image.width())
                    .arg(100.0 * m_salient / m_image.width(), 0, 'f', 1);
    update();
}

void SalientStrip::clearLayer()
{
    m_image = QImage();
    m_salient = 0;
    m_caption = tr("Salient columns — select a layer in the table");
    update();
}

void SalientStrip::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setPen(palette().text().color());
    p.drawText(QRect(4, 0, width() - 8, kCaptionHeight), Qt::AlignLeft | Qt::AlignVCenter, m_caption);
    const QRect strip(4, kCaptionHeight + 2, width() - 8, kStripHeight);
    if (m_image.isNull()) {
        p.fillRect(strip, QColor(kOrdinary).lighter(105));
        return;
    }
    p.drawImage(strip, m_image); // nearest-neighbour scaling keeps single salient columns visible when wider
    p.setPen(palette().mid().color());
    p.drawRect(strip.adjusted(0, 0, -1, -1));
}

void SalientStrip::contextMenuEvent(QContextMenuEvent* event)
{
    QMenu menu(this);
    addPlotExportActions(menu, this, QStringLiteral("salient-columns"));
    menu.exec(event->globalPos());
}

} // namespace studio
