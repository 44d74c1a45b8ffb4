// A matrix as an image (the Layer lab's W, Ŵ, W − Ŵ and sign planes), with a title and a caption line.
//
// Values use a diverging colormap centred on 0 (blue below, white at 0, red above) over ±range, with a colour bar;
// signs use two colours (+1 warm, −1 cool) and grey where the plane's mask leaves a weight out. A matrix with a side
// longer than kMaxSide is pooled: each pixel stands for an f × f cell and shows the value of largest |value| in
// it (signs: the majority), and the caption names f. Optional strips beside the matrix: one value per row (e.g.
// row scales, n × groups, right of the matrix) and one per column (column scales, under it), white at 0 to dark
// green at their maximum. Hovering shows the row, column and value under the cursor (the cell's rows and columns
// when pooled) as a tooltip, and emits hovered(). A column range can be outlined (the step being shown).
//
// Images are built when the data change; painting only scales them (nearest neighbour, so single columns stay
// visible). Context menu: Export PNG / SVG. GUI thread.
#pragma once
#include "bq/model/quantized_linear.h"
#include <QImage>
#include <QString>
#include <QWidget>
#include <vector>

namespace studio {

class HeatmapView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kMaxSide = 512; // image pixels per side before pooling

    explicit HeatmapView(QWidget* parent = nullptr);

    void setTitle(const QString& title);
    // range ≤ 0: the largest |value| of the matrix. Values beyond ±range take the end colours.
    void setValues(const bq::MatrixXfR& values, double range = 0);
    // a − b (same shapes), without forming it.
    void setDifference(const bq::MatrixXfR& a, const bq::MatrixXfR& b, double range = 0);
    // mask (optional): where the plane applies; elsewhere is grey.
    void setSigns(const bq::MatrixXi8R& signs, const bq::PlaneMask* mask = nullptr);
    // n × k values drawn as a k-column strip right of the matrix (k scale groups per row); empty: none.
    void setRowStrip(const Eigen::MatrixXf& values, const QString& label);
    // m values drawn as a strip under the matrix; empty: none.
    void setColumnStrip(const Eigen::VectorXf& values, const QString& label);
    // Outlines the columns [begin, end) of the matrix; begin ≥ end: no outline.
    void setHighlightColumns(Eigen::Index begin, Eigen::Index end);
    // No matrix: the message is shown in its place.
    void clear(const QString& message);

    bool hasMatrix() const { return !m_image.isNull(); }
    Eigen::Index matrixRows() const { return m_rows; }
    Eigen::Index matrixCols() const { return m_cols; }
    int poolFactor() const { return m_pool; }
    double range() const { return m_range; }
    QString title() const { return m_title; }
    QString caption() const { return m_caption; }
    const QImage& image() const { return m_image; }
    // Where the matrix is drawn at the current size (widget coordinates).
    QRect matrixRect() const { return layout().matrix; }
    // What hovering at `pos` (widget coordinates) shows; "" outside the matrix and its strips.
    QString textAt(const QPoint& pos) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

signals:
    void hovered(const QString& text);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;

private:
    enum class Kind { None, Values, Signs };
    // Where the parts are drawn at the current size.
    struct Layout {
        QRect matrix, rowStrip, columnStrip, colourBar;
    };
    Layout layout() const;
    void setMatrixShape(Eigen::Index rows, Eigen::Index cols);
    // The Values image of a rows × cols matrix whose entry (i, j) is value(i, j).
    template <class Value>
    void poolValues(Eigen::Index rows, Eigen::Index cols, const Value& value, double range);
    QString cellText(int px, int py) const; // the pooled cell at image pixel (px, py)

    Kind m_kind = Kind::None;
    QString m_title, m_caption, m_message;
    Eigen::Index m_rows = 0, m_cols = 0;
    int m_pool = 1;
    double m_range = 0;
    QImage m_image;                  // pooled rows × pooled cols
    std::vector<float> m_cellValues; // Values: the shown value of each pixel; Signs: +1, −1, 0 (not in the plane)
    QImage m_rowStrip, m_columnStrip;
    QString m_rowLabel, m_columnLabel;
    Eigen::MatrixXf m_rowValues;     // pooled rows × groups
    std::vector<float> m_columnValues; // pooled cols
    Eigen::Index m_highlightBegin = 0, m_highlightEnd = 0;
};

// The diverging colour of t ∈ [−1, 1] (blue, white at 0, red); the sequential colour of t ∈ [0, 1] (white to green).
QRgb divergingColour(double t);
QRgb sequentialColour(double t);

} // namespace studio
