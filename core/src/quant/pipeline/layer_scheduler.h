// Which layers are quantized when (methods.md §1.1–§1.5): the embedding first; then per block the groups
// q/k/v → o → gate/up → down, the layers whose statistics are ready quantized side by side on all workers (a
// batch ends where the recipe re-collects statistics: true_sequential before every later group, recollect_down
// before the down-projection of a two-stream method), then the block's final pass moves the streams on and
// reports the block; the output head last. Finished blocks of a resumed run are replayed from their exact
// parameters instead.
#pragma once
#include "bq/quant/pipeline/pipeline.h"
#include "calibration_streams.h"
#include "gram_collector.h"
#include "layer_jobs.h"
#include "run_events.h"
#include "run_setup.h"
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bq::quant {

class LayerScheduler {
public:
    // stats receives the counted bits and the layer-job seconds.
    LayerScheduler(const QuantizeJobRequest& request, const Resolution& resolution, const ResumedRun& resumed,
                   CalibrationStreams& streams, GramCollector& grams, const LayerQuantizer& quantizer,
                   RunEvents& events, QuantizeJobResult& stats);

    // Progress steps of the quantize stage: the blocks, plus the head when it is quantized.
    int progressSteps() const { return m_progressSteps; }

    // token_embd.weight's Ŵ (vocab × dim) when the recipe quantizes it, else null.
    std::shared_ptr<const std::vector<float>> quantizeEmbedding();
    void quantizeBlock(int layer);
    void replayBlock(int layer);
    void quantizeHead();

    // Every layer quantized or replayed so far.
    std::map<std::string, QuantizedLinear> takeLayers() { return std::move(m_layers); }

private:
    // A layer job's outcome: logs its notes, counts its bits, sends and writes its result, keeps its parameters.
    void record(LayerJob& job);
    // A tensor of the resumed run: sends its stored result; its parameters (counted, kept), or null.
    const QuantizedLinear* restore(const std::string& tensor);
    // Runs one job on this thread (the embedding, the head).
    void runSingle(LayerJob& job);
    bool anyQuantized(int layer) const;

    const QuantizeJobRequest& m_request;
    const Model& m_model;
    const Resolution& m_resolution;
    const ResumedRun& m_resumed;
    CalibrationStreams& m_streams;
    GramCollector& m_grams;
    const LayerQuantizer& m_quantizer;
    RunEvents& m_events;
    QuantizeJobResult& m_stats;
    int m_progressSteps = 0;
    std::map<std::string, QuantizedLinear> m_layers;
};

} // namespace bq::quant
