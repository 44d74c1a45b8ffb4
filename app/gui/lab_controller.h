// Runs the Layer lab's job on its own worker thread (studio::JobController "lab"): the matrix's input statistics
// (bq::quant::collectLayerStatistics), then each method with QuantizeRequest::recordSteps and a light analysis
// (the weight error and both output errors; no spectra). The statistics are computed once per model, calibration,
// tensor and input stream and reused for both methods and for later runs with the same inputs (only the method or
// its options changed); a calibration built from settings is kept the same way. cancel() reaches the job at
// once: the statistics check it per calibration sequence, the methods per 128-column block.
//
// Results travel in the outcome (lastOutcome(), valid from finished() on); a method that fails (bad options,
// a shape it cannot take) fails alone, with its message in its result. GUI thread.
#pragma once
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/pipeline/layer_statistics.h"
#include "gui/job_controller.h"
#include "widgets/calibration_panel.h"
#include "widgets/lab_method_panel.h"
#include <QObject>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace bq {
struct Model;
}
namespace bq::quant {
struct QuantizedModel;
}

namespace studio {

struct LabMethodSpec {
    std::string id;
    nlohmann::json options; // overrides of the defaults
};

struct LabRequest {
    std::shared_ptr<const bq::Model> model;
    std::optional<bq::quant::CalibrationSet> calibration; // prebuilt windows; without them, built from `settings`
    CalibrationSettings settings;                         // … with the model's tokenizer
    std::string tensor;
    std::shared_ptr<const bq::quant::QuantizedModel> prefix; // null: the inputs of the full-precision model
    std::vector<LabMethodSpec> methods;                      // one or two
};

struct LabOutcome {
    std::string tensor;
    std::shared_ptr<const bq::MatrixXfR> weight;
    std::shared_ptr<const bq::quant::LayerGrams> statistics;
    bool statisticsReused = false;
    bool quantizedInputs = false; // the inputs came through a quantized run's blocks
    std::string calibration; // the calibration's description
    std::vector<LabMethodResult> results; // one per requested method, in order
};

class LabController : public QObject {
    Q_OBJECT
public:
    explicit LabController(QObject* parent = nullptr);

    // False when a job is running, there is no model or no method.
    bool start(LabRequest request);
    void cancel();
    bool isRunning() const { return m_job.isRunning(); }
    std::shared_ptr<const LabOutcome> lastOutcome() const { return m_last; }

signals:
    void started();
    void progress(const bq::ProgressEvent& event); // Calibrate: blocks run for the statistics; Quantize: methods
    void logLine(bq::LogLevel level, const QString& text);
    void finished(const bq::JobResult& result);

private:
    struct Cache;
    void onFinished(const bq::JobResult& result);

    JobController m_job;
    std::shared_ptr<Cache> m_cache;             // shared with the jobs (one at a time)
    std::shared_ptr<LabOutcome> m_running;      // written by the job, read in onFinished
    std::shared_ptr<const LabOutcome> m_last;
};

} // namespace studio
