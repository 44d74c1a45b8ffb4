#include "widgets/progress_text.h"
#include <QLocale>
#include <QObject>
#include <algorithm>
#include <cmath>

namespace studio {

QString formatDuration(double seconds)
{
    if (!(seconds >= 0))
        return QStringLiteral("—");
    if (seconds < 1)
        return QObject::tr("%1 ms").arg(int(std::lround(seconds * 1000)));
    if (seconds < 60)
        return QObject::tr("%1 s").arg(seconds, 0, 'f', 1);
    const auto total = qint64(std::lround(seconds));
    if (total < 3600)
        return QObject::tr("%1 min %2 s").arg(total / 60).arg(total % 60, 2, 10, QLatin1Char('0'));
    return QObject::tr("%1 h %2 min").arg(total / 3600).arg((total % 3600) / 60, 2, 10, QLatin1Char('0'));
}

QString progressText(const bq::ProgressEvent& e)
{
    QString stage = QString::fromLatin1(bq::stageName(e.stage));
    if (!stage.isEmpty())
        stage[0] = stage[0].toUpper();
    QStringList parts{stage};
    if (e.stepCount > 0) {
        const int current = std::min(e.step + (e.step < e.stepCount ? 1 : 0), e.stepCount);
        const QString unit = e.stage == bq::Stage::Quantize ? QObject::tr("block") : QObject::tr("step");
        parts << QStringLiteral("%1 %2/%3").arg(unit).arg(current).arg(e.stepCount);
    }
    if (e.subCount > 0 && e.stage == bq::Stage::Quantize)
        parts << QObject::tr("matrix %1/%2").arg(std::min(e.sub + 1, e.subCount)).arg(e.subCount);
    parts << formatDuration(e.elapsedSec);
    if (e.etaSec >= 0)
        parts << QObject::tr("ETA %1").arg(formatDuration(e.etaSec));
    if (e.rssBytes > 0)
        parts << QObject::tr("RSS %1 MiB").arg(QLocale().toString(double(e.rssBytes) / (1024.0 * 1024.0), 'f', 0));
    return parts.join(QStringLiteral(" · "));
}

} // namespace studio
