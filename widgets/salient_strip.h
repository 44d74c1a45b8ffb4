// The selected layer's salient input columns (array salient.columns, from BiLLM / ARB-style methods) as a
// strip: one pixel column per weight column, dark where the method treated the column as salient, scaled to
// the strip's width. Painting only draws a 1-pixel-high image built when the layer changes. Context menu:
// Export PNG / SVG. GUI thread.
#pragma once
#include "bq/jobs/events.h"
#include <QImage>
#include <QWidget>

namespace studio {

class SalientStrip : public QWidget {
    Q_OBJECT
public:
    explicit SalientStrip(QWidget* parent = nullptr);

    void setLayer(const bq::LayerResult& result);
    void clearLayer();
    int columns() const { return m_image.width(); } // 0 when the layer has no mask
    int salientCount() const { return m_salient; }
    QString caption() const { return m_caption; }

    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;

private:
    QImage m_image;
    int m_salient = 0;
    QString m_caption;
};

} // namespace studio
