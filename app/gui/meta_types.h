// The core value types that travel in the studio's signals, declared to Qt's meta-type system once (a second
// Q_DECLARE_METATYPE of the same type in another header would be a redefinition).
#pragma once
#include "bq/jobs/job.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include <QMetaType>
#include <memory>

Q_DECLARE_METATYPE(bq::ProgressEvent)
Q_DECLARE_METATYPE(bq::LayerResult)
Q_DECLARE_METATYPE(bq::BlockResult)
Q_DECLARE_METATYPE(bq::JobResult)
Q_DECLARE_METATYPE(bq::LogLevel)
Q_DECLARE_METATYPE(std::shared_ptr<const bq::Model>)
Q_DECLARE_METATYPE(std::shared_ptr<const bq::quant::QuantizedModel>)
