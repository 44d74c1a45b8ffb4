#include "widgets/heatmap_view.h"
#include "widgets/plot_export.h"
#include <QContextMenuEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QRegularExpression>
#include <QToolTip>
#include <algorithm>
#include <array>
#include <cmath>

namespace studio {

namespace {

constexpr int kTitleHeight = 16, kCaptionHeight = 15, kGap = 4;
constexpr int kColumnStripHeight = 8;
constexpr int kBarWidth = 10, kBarTextWidth = 44;
const QRgb kPlus = qRgb(0xd6, 0x60, 0x4d), kMinus = qRgb(0x43, 0x93, 0xc3), kOff = qRgb(0xe4, 0xe4, 0xe4);

QString number(double v)
{
    return QString::number(v, 'g', 4);
}

QRgb mix(QRgb a, QRgb b, double t)
{
    auto c = [t](int x, int y) { return int(std::lround(x + (y - x) * t)); };
    return qRgb(c(qRed(a), qRed(b)), c(qGreen(a), qGreen(b)), c(qBlue(a), qBlue(b)));
}

QString span(Eigen::Index first, Eigen::Index last)
{
    return first == last ? QString::number(first) : QStringLiteral("%1–%2").arg(first).arg(last);
}

} // namespace

QRgb divergingColour(double t)
{
    // ColorBrewer RdBu, five stops from −1 to +1.
    static const std::array<QRgb, 5> stops{qRgb(0x21, 0x66, 0xac), qRgb(0x92, 0xc5, 0xde), qRgb(0xf7, 0xf7, 0xf7),
                                           qRgb(0xf4, 0xa5, 0x82), qRgb(0xb2, 0x18, 0x2b)};
    const double x = (std::clamp(std::isfinite(t) ? t : 0.0, -1.0, 1.0) + 1.0) * 2.0; // 0 .. 4
    const int k = std::min(3, int(x));
    return mix(stops[std::size_t(k)], stops[std::size_t(k + 1)], x - k);
}

QRgb sequentialColour(double t)
{
    return mix(qRgb(0xf7, 0xfc, 0xf5), qRgb(0x00, 0x6d, 0x2c), std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0));
}

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent)
{
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    clear(tr("no data"));
}

QSize HeatmapView::sizeHint() const
{
    return {260, 240};
}

QSize HeatmapView::minimumSizeHint() const
{
    return {140, 120};
}

void HeatmapView::setTitle(const QString& title)
{
    m_title = title;
    update();
}

void HeatmapView::setMatrixShape(Eigen::Index rows, Eigen::Index cols)
{
    m_rows = rows;
    m_cols = cols;
    const Eigen::Index longest = std::max(rows, cols);
    m_pool = int((longest + kMaxSide - 1) / kMaxSide);
    m_pool = std::max(1, m_pool);
    m_message.clear();
    m_rowStrip = m_columnStrip = QImage();
    m_rowValues.resize(0, 0);
    m_columnValues.clear();
    m_rowLabel.clear();
    m_columnLabel.clear();
    m_highlightBegin = m_highlightEnd = 0;
}

template <class Value>
void HeatmapView::poolValues(Eigen::Index rows, Eigen::Index cols, const Value& value, double range)
{
    setMatrixShape(rows, cols);
    m_kind = Kind::Values;
    const int f = m_pool;
    const int h = int((m_rows + f - 1) / f), w = int((m_cols + f - 1) / f);
    m_cellValues.assign(std::size_t(h) * std::size_t(w), 0.0f);
    double largest = 0;
    for (Eigen::Index i = 0; i < m_rows; ++i) {
        float* cells = m_cellValues.data() + std::size_t(i / f) * std::size_t(w);
        for (Eigen::Index j = 0; j < m_cols; ++j) {
            const float v = value(i, j);
            float& cell = cells[j / f];
            if (std::fabs(v) > std::fabs(cell))
                cell = v;
            largest = std::max(largest, double(std::fabs(v)));
        }
    }
    m_range = range > 0 ? range : largest;
    const double scale = m_range > 0 ? 1.0 / m_range : 0.0;
    m_image = QImage(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y) {
        auto* line = reinterpret_cast<QRgb*>(m_image.scanLine(y));
        for (int x = 0; x < w; ++x)
            line[x] = divergingColour(m_cellValues[std::size_t(y) * std::size_t(w) + std::size_t(x)] * scale);
    }
    m_caption = tr("%1 × %2 · colour ±%3").arg(m_rows).arg(m_cols).arg(number(m_range));
    if (f > 1)
        m_caption += tr(" · 1 px = %1 × %1 (largest |value|)").arg(f);
    update();
}

void HeatmapView::setValues(const bq::MatrixXfR& values, double range)
{
    poolValues(values.rows(), values.cols(), [&](Eigen::Index i, Eigen::Index j) { return values(i, j); }, range);
}

void HeatmapView::setDifference(const bq::MatrixXfR& a, const bq::MatrixXfR& b, double range)
{
    if (a.rows() != b.rows() || a.cols() != b.cols()) {
        clear(tr("the matrices differ in shape"));
        return;
    }
    poolValues(a.rows(), a.cols(), [&](Eigen::Index i, Eigen::Index j) { return a(i, j) - b(i, j); }, range);
}

void HeatmapView::setSigns(const bq::MatrixXi8R& signs, const bq::PlaneMask* mask)
{
    setMatrixShape(signs.rows(), signs.cols());
    m_kind = Kind::Signs;
    m_range = 1;
    const int f = m_pool;
    const int h = int((m_rows + f - 1) / f), w = int((m_cols + f - 1) / f);
    std::vector<int> sum(std::size_t(h) * std::size_t(w), 0), count(sum.size(), 0);
    std::int64_t covered = 0;
    for (Eigen::Index i = 0; i < m_rows; ++i)
        for (Eigen::Index j = 0; j < m_cols; ++j) {
            if (mask && !mask->applies(i, j))
                continue;
            const std::size_t k = std::size_t(i / f) * std::size_t(w) + std::size_t(j / f);
            sum[k] += signs(i, j);
            ++count[k];
            ++covered;
        }
    m_cellValues.assign(sum.size(), 0.0f);
    m_image = QImage(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y) {
        auto* line = reinterpret_cast<QRgb*>(m_image.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const std::size_t k = std::size_t(y) * std::size_t(w) + std::size_t(x);
            const float v = count[k] == 0 ? 0.0f : (sum[k] >= 0 ? 1.0f : -1.0f); // a tie counts as +1, like sgn(0)
            m_cellValues[k] = v;
            line[x] = v > 0 ? kPlus : v < 0 ? kMinus : kOff;
        }
    }
    const double total = double(m_rows) * double(m_cols);
    m_caption = tr("%1 × %2 · covers %3 % of the weights")
                    .arg(m_rows)
                    .arg(m_cols)
                    .arg(total > 0 ? 100.0 * double(covered) / total : 0.0, 0, 'f', 1);
    if (f > 1)
        m_caption += tr(" · 1 px = %1 × %1 (majority)").arg(f);
    update();
}

void HeatmapView::setRowStrip(const Eigen::MatrixXf& values, const QString& label)
{
    m_rowStrip = QImage();
    m_rowValues.resize(0, 0);
    m_rowLabel = label;
    if (values.size() == 0 || values.rows() != m_rows) {
        update();
        return;
    }
    const int f = m_pool;
    const Eigen::Index h = (m_rows + f - 1) / f, k = values.cols();
    m_rowValues = Eigen::MatrixXf::Zero(h, k);
    for (Eigen::Index i = 0; i < m_rows; ++i)
        for (Eigen::Index g = 0; g < k; ++g)
            m_rowValues(i / f, g) = std::max(m_rowValues(i / f, g), std::fabs(values(i, g)));
    const double top = m_rowValues.maxCoeff();
    m_rowStrip = QImage(int(k), int(h), QImage::Format_RGB32);
    for (Eigen::Index y = 0; y < h; ++y)
        for (Eigen::Index g = 0; g < k; ++g)
            m_rowStrip.setPixel(int(g), int(y), sequentialColour(top > 0 ? m_rowValues(y, g) / top : 0.0));
    update();
}

void HeatmapView::setColumnStrip(const Eigen::VectorXf& values, const QString& label)
{
    m_columnStrip = QImage();
    m_columnValues.clear();
    m_columnLabel = label;
    if (values.size() == 0 || values.size() != m_cols) {
        update();
        return;
    }
    const int f = m_pool;
    const Eigen::Index w = (m_cols + f - 1) / f;
    m_columnValues.assign(std::size_t(w), 0.0f);
    for (Eigen::Index j = 0; j < m_cols; ++j)
        m_columnValues[std::size_t(j / f)] = std::max(m_columnValues[std::size_t(j / f)], std::fabs(values[j]));
    const double top = *std::max_element(m_columnValues.begin(), m_columnValues.end());
    m_columnStrip = QImage(int(w), 1, QImage::Format_RGB32);
    for (Eigen::Index x = 0; x < w; ++x)
        m_columnStrip.setPixel(int(x), 0, sequentialColour(top > 0 ? m_columnValues[std::size_t(x)] / top : 0.0));
    update();
}

void HeatmapView::setHighlightColumns(Eigen::Index begin, Eigen::Index end)
{
    m_highlightBegin = begin;
    m_highlightEnd = end;
    update();
}

void HeatmapView::clear(const QString& message)
{
    m_kind = Kind::None;
    m_image = QImage();
    m_rowStrip = m_columnStrip = QImage();
    m_cellValues.clear();
    m_rowValues.resize(0, 0);
    m_columnValues.clear();
    m_rows = m_cols = 0;
    m_pool = 1;
    m_range = 0;
    m_caption.clear();
    m_message = message;
    m_highlightBegin = m_highlightEnd = 0;
    update();
}

HeatmapView::Layout HeatmapView::layout() const
{
    Layout l;
    QRect area = rect().adjusted(2, kTitleHeight + kCaptionHeight + 2, -2, -2);
    if (!m_image.isNull()) {
        const int legend = kBarWidth + kGap + kBarTextWidth;
        area.setRight(area.right() - legend);
        l.colourBar = QRect(area.right() + kGap, area.top(), kBarWidth, std::min(area.height(), 120));
        if (!m_rowStrip.isNull()) {
            const int stripWidth = std::clamp(m_rowStrip.width() * 3, 6, 24);
            area.setRight(area.right() - stripWidth - kGap);
            l.rowStrip = QRect(area.right() + kGap, area.top(), stripWidth, 0);
        }
        if (!m_columnStrip.isNull())
            area.setBottom(area.bottom() - kColumnStripHeight - kGap);
        // The matrix keeps square cells inside what is left.
        const double sx = double(area.width()) / m_image.width(), sy = double(area.height()) / m_image.height();
        const double s = std::max(0.0, std::min(sx, sy));
        l.matrix = QRect(area.left(), area.top(), std::max(1, int(m_image.width() * s)),
                         std::max(1, int(m_image.height() * s)));
        if (!m_rowStrip.isNull())
            l.rowStrip = QRect(l.matrix.right() + 1 + kGap, l.matrix.top(), l.rowStrip.width(), l.matrix.height());
        if (!m_columnStrip.isNull())
            l.columnStrip = QRect(l.matrix.left(), l.matrix.bottom() + 1 + kGap, l.matrix.width(), kColumnStripHeight);
        const int right = std::max(l.matrix.right(), l.rowStrip.isNull() ? 0 : l.rowStrip.right());
        l.colourBar.moveLeft(right + 1 + kGap + 2);
        l.colourBar.setHeight(std::min(l.matrix.height(), 160));
    } else {
        l.matrix = area;
    }
    return l;
}

void HeatmapView::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(palette().text().color());
    p.drawText(QRect(4, 0, width() - 8, kTitleHeight), Qt::AlignLeft | Qt::AlignVCenter,
               p.fontMetrics().elidedText(m_title, Qt::ElideRight, width() - 8));
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    p.setPen(palette().placeholderText().color());
    p.drawText(QRect(4, kTitleHeight, width() - 8, kCaptionHeight), Qt::AlignLeft | Qt::AlignVCenter,
               p.fontMetrics().elidedText(m_caption, Qt::ElideRight, width() - 8));

    const Layout l = layout();
    if (m_image.isNull()) {
        p.drawText(l.matrix, Qt::AlignCenter | Qt::TextWordWrap, m_message);
        return;
    }
    p.drawImage(l.matrix, m_image);
    p.setPen(palette().mid().color());
    p.drawRect(l.matrix.adjusted(0, 0, -1, -1));
    if (!m_rowStrip.isNull()) {
        p.drawImage(l.rowStrip, m_rowStrip);
        p.drawRect(l.rowStrip.adjusted(0, 0, -1, -1));
    }
    if (!m_columnStrip.isNull()) {
        p.drawImage(l.columnStrip, m_columnStrip);
        p.drawRect(l.columnStrip.adjusted(0, 0, -1, -1));
    }
    if (m_highlightEnd > m_highlightBegin && m_cols > 0) {
        const double sx = double(l.matrix.width()) / double(m_cols);
        const int x0 = l.matrix.left() + int(std::floor(double(m_highlightBegin) * sx));
        const int x1 = l.matrix.left() + int(std::ceil(double(m_highlightEnd) * sx)) - 1;
        p.setPen(QPen(QColor(0x20, 0x20, 0x20), 2, Qt::DashLine));
        p.drawRect(QRect(QPoint(x0, l.matrix.top()), QPoint(x1, l.matrix.bottom())).adjusted(1, 1, -1, -1));
    }

    // The legend (small type): a colour bar for values, the three colours for signs.
    p.setPen(palette().text().color());
    const QRect bar = l.colourBar;
    const QRect text(bar.right() + 4, bar.top(), kBarTextWidth, bar.height());
    if (m_kind == Kind::Values) {
        for (int y = 0; y < bar.height(); ++y) {
            const double t = 1.0 - 2.0 * (y + 0.5) / bar.height();
            p.setPen(QColor(divergingColour(t)));
            p.drawLine(bar.left(), bar.top() + y, bar.right(), bar.top() + y);
        }
        p.setPen(palette().mid().color());
        p.drawRect(bar.adjusted(0, 0, -1, -1));
        p.setPen(palette().text().color());
        p.drawText(text, Qt::AlignTop | Qt::AlignLeft, QStringLiteral("+") + number(m_range));
        p.drawText(text, Qt::AlignVCenter | Qt::AlignLeft, QStringLiteral("0"));
        p.drawText(text, Qt::AlignBottom | Qt::AlignLeft, QString::fromUtf8("−") + number(m_range));
    } else {
        const struct {
            QRgb colour;
            QString label;
        } keys[] = {{kPlus, QStringLiteral("+1")}, {kMinus, QString::fromUtf8("−1")}, {kOff, tr("off")}};
        int y = bar.top();
        for (const auto& key : keys) {
            p.fillRect(QRect(bar.left(), y, kBarWidth, kBarWidth), QColor(key.colour));
            p.drawText(QRect(bar.right() + 4, y - 3, kBarTextWidth, kBarWidth + 6), Qt::AlignVCenter | Qt::AlignLeft,
                       key.label);
            y += kBarWidth + 6;
        }
    }
}

QString HeatmapView::cellText(int px, int py) const
{
    const int f = m_pool, w = m_image.width();
    const Eigen::Index r0 = Eigen::Index(py) * f, c0 = Eigen::Index(px) * f;
    const Eigen::Index r1 = std::min(m_rows, r0 + f) - 1, c1 = std::min(m_cols, c0 + f) - 1;
    const float v = m_cellValues[std::size_t(py) * std::size_t(w) + std::size_t(px)];
    const QString where = f == 1 ? tr("row %1, column %2").arg(r0).arg(c0)
                                 : tr("rows %1, columns %2").arg(span(r0, r1), span(c0, c1));
    if (m_kind == Kind::Signs) {
        const QString sign = v > 0 ? QStringLiteral("+1") : v < 0 ? QString::fromUtf8("−1") : tr("not in this plane");
        return f == 1 || v == 0 ? tr("%1: %2").arg(where, sign) : tr("%1: mostly %2").arg(where, sign);
    }
    return f == 1 ? tr("%1: %2").arg(where, number(v)) : tr("%1: largest |value| %2").arg(where, number(v));
}

QString HeatmapView::textAt(const QPoint& pos) const
{
    if (m_image.isNull())
        return {};
    const Layout l = layout();
    auto pixel = [](int offset, int extent, int pixels) {
        return std::clamp(offset * pixels / std::max(1, extent), 0, pixels - 1);
    };
    if (l.matrix.contains(pos))
        return cellText(pixel(pos.x() - l.matrix.left(), l.matrix.width(), m_image.width()),
                        pixel(pos.y() - l.matrix.top(), l.matrix.height(), m_image.height()));
    if (!m_rowStrip.isNull() && l.rowStrip.contains(pos)) {
        const int y = pixel(pos.y() - l.rowStrip.top(), l.rowStrip.height(), m_rowStrip.height());
        const int g = pixel(pos.x() - l.rowStrip.left(), l.rowStrip.width(), m_rowStrip.width());
        const Eigen::Index r0 = Eigen::Index(y) * m_pool, r1 = std::min(m_rows, r0 + m_pool) - 1;
        QString text = tr("%1, row %2").arg(m_rowLabel, span(r0, r1));
        if (m_rowStrip.width() > 1)
            text += tr(", group %1").arg(g);
        return text + QStringLiteral(": ") + number(m_rowValues(y, g));
    }
    if (!m_columnStrip.isNull() && l.columnStrip.contains(pos)) {
        const int x = pixel(pos.x() - l.columnStrip.left(), l.columnStrip.width(), m_columnStrip.width());
        const Eigen::Index c0 = Eigen::Index(x) * m_pool, c1 = std::min(m_cols, c0 + m_pool) - 1;
        return tr("%1, column %2: %3").arg(m_columnLabel, span(c0, c1), number(m_columnValues[std::size_t(x)]));
    }
    return {};
}

void HeatmapView::mouseMoveEvent(QMouseEvent* event)
{
    const QString text = textAt(event->position().toPoint());
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
    emit hovered(text);
}

void HeatmapView::leaveEvent(QEvent*)
{
    emit hovered(QString());
}

void HeatmapView::contextMenuEvent(QContextMenuEvent* event)
{
    QMenu menu(this);
    QString name = m_title.isEmpty() ? QStringLiteral("heatmap") : m_title;
    name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_.-]+")), QStringLiteral("-"));
    addPlotExportActions(menu, this, name);
    menu.exec(event->globalPos());
}

} // namespace studio
