// What a quantization run reports, in one place: progress (throttled, with an ETA over the blocks this run
// computes), log lines, and every finished layer and block, both to the EventSink and to the run file when
// there is one. Job thread only.
#pragma once
#include "bq/jobs/job.h"
#include "bq/quant/run/run_file.h"
#include "bq/util/progress.h"
#include <chrono>
#include <optional>
#include <string>

namespace bq::quant {

class RunEvents {
public:
    explicit RunEvents(EventSink& sink);

    void log(LogLevel level, const std::string& text) { m_sink.log(level, text); }
    // Unless forced, at most ~20 per second (plus the first and last of a step count).
    void progress(Stage stage, int step, int stepCount, int sub, int subCount, bool force = false);
    // Blocks replayed from the run file: the ETA counts only the blocks after them.
    void setResumedBlocks(int blocks) { m_resumedBlocks = blocks; }

    void setRunFile(RunFileWriter writer) { m_runFile.emplace(std::move(writer)); }
    bool hasRunFile() const { return m_runFile.has_value(); }

    // A layer this run finished: written to the run file (with its parameters; null for a kept layer), then sent.
    void layerDone(const LayerResult& result, const QuantizedLinear* params);
    // A layer of a finished block read back from the run file: sent only.
    void layerReplayed(const LayerResult& result) { m_sink.layerDone(result); }
    // A block this run finished: its metrics written to the run file; sent when `send` (a block with at least one
    // quantized layer). The block is marked finished in the run file after its layers and metrics.
    void blockDone(const BlockResult& result, bool send);
    // A finished block read back from the run file: sent only.
    void blockReplayed(const BlockResult& result) { m_sink.blockDone(result); }

    // Marks the run file completed and closes it.
    void runCompleted();
    // Marks the run file cancelled or failed with `message` and closes it; a run file error becomes a warning
    // (the job is ending anyway).
    void runStopped(RunStatus status, const std::string& message);

private:
    EventSink& m_sink;
    std::optional<RunFileWriter> m_runFile;
    ProgressThrottle m_throttle;
    std::chrono::steady_clock::time_point m_start;
    int m_resumedBlocks = 0;
};

} // namespace bq::quant
