// One line for a job's progress, for status bars and page headers: stage, step i/N (block i/N while
// quantizing, counting the block being worked on), sub-step (matrix), elapsed time, ETA and RSS, e.g.
// "Quantize · block 3/4 · matrix 2/7 · 12.3 s · ETA 8 s · RSS 240 MiB". Formatting only.
#pragma once
#include "bq/jobs/events.h"
#include <QString>

namespace studio {

QString progressText(const bq::ProgressEvent& event);
// "850 ms", "12.3 s", "4 min 05 s", "1 h 02 min".
QString formatDuration(double seconds);

} // namespace studio
