// One-line descriptions of what the pages work on, shared by the Compare, Export and Chat pages. GUI thread.
#pragma once
#include "bq/quant/quantized_model.h"
#include <QString>

namespace studio {

// "28 quantized layers of :demo (q1_0), run run.h5": layer count, base model, methods, run file.
QString describeQuantizedModel(const bq::quant::QuantizedModel& model);

} // namespace studio
