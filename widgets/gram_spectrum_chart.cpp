#include "widgets/gram_spectrum_chart.h"
#include "bq/quant/analysis/analysis.h"
#include <QChart>
#include <QLineSeries>
#include <QLocale>
#include <QLogValueAxis>
#include <QValueAxis>
#include <cmath>

namespace studio {

namespace q = bq::quant;

namespace {

QString describe(const char* key)
{
    return QString::fromUtf8(q::metricDescription(key).data());
}

} // namespace

GramSpectrumChart::GramSpectrumChart(QWidget* parent) : LayerPlot(QStringLiteral("gram-spectrum"), parent)
{
    QChart* c = chart();
    m_eigen = new QLineSeries(c);
    m_eigen->setName(tr("eigenvalues of H"));
    m_x = new QValueAxis(c);
    m_x->setTitleText(tr("rank"));
    m_x->setLabelFormat(QStringLiteral("%d"));
    m_y = new QLogValueAxis(c);
    m_y->setTitleText(tr("eigenvalue"));
    m_y->setLabelFormat(QStringLiteral("%g"));
    c->addAxis(m_x, Qt::AlignBottom);
    c->addAxis(m_y, Qt::AlignLeft);
    c->addSeries(m_eigen);
    m_eigen->attachAxis(m_x);
    m_eigen->attachAxis(m_y);
    c->legend()->hide();
    QString tip = QStringLiteral("<p>%1</p>").arg(describe(q::array::GramEigenvalues));
    for (const char* key : {q::metric::GramAnisotropy, q::metric::GramConditionDamped, q::metric::GramEffectiveRank,
                            q::metric::GramDeadColumns})
        tip += QStringLiteral("<p><b>%1</b>: %2</p>").arg(QString::fromLatin1(key), describe(key));
    setToolTip(tip);
    markDirty();
}

QString GramSpectrumChart::statisticsText() const
{
    if (!array(q::array::GramEigenvalues))
        return {};
    const QLocale locale;
    const auto number = [&](const char* key) { return locale.toString(metric(key, NAN), 'g', 4); };
    return tr("anisotropy %1 · cond. %2 · eff. rank %3 / %4 · dead %5")
        .arg(number(q::metric::GramAnisotropy), number(q::metric::GramConditionDamped),
             number(q::metric::GramEffectiveRank))
        .arg(array(q::array::GramEigenvalues)->size())
        .arg(number(q::metric::GramDeadColumns));
}

void GramSpectrumChart::redraw()
{
    const std::vector<double>* values = array(q::array::GramEigenvalues);
    double lo = 0, hi = -1;
    m_eigen->replace(values ? indexedPoints(*values, true, lo, hi) : QList<QPointF>());
    if (!values) {
        setTitle(tr("Gram eigenvalues"), missingText());
        setIndexRange(m_x, 1, 2);
        setLogRange(m_y, 0, -1);
        return;
    }
    const qsizetype zeros = qsizetype(values->size()) - m_eigen->count();
    QString title = tr("Gram eigenvalues");
    if (zeros > 0)
        title += tr(" (%n zero(s) not drawn)", nullptr, int(zeros));
    setTitle(title, tensorName() + QLatin1Char('\n') + statisticsText());
    setIndexRange(m_x, 1, double(values->size()));
    setLogRange(m_y, lo, hi);
}

} // namespace studio
