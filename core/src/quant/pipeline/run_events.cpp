#include "run_events.h"
#include <algorithm>

namespace bq::quant {

RunEvents::RunEvents(EventSink& sink) : m_sink(sink), m_start(std::chrono::steady_clock::now()) {}

void RunEvents::progress(Stage stage, int step, int stepCount, int sub, int subCount, bool force)
{
    if (!force && !m_throttle.shouldEmit(step, stepCount))
        return;
    ProgressEvent e;
    e.stage = stage;
    e.step = step;
    e.stepCount = stepCount;
    e.sub = sub;
    e.subCount = subCount;
    e.elapsedSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    if (stage == Stage::Quantize && step > m_resumedBlocks && stepCount > 0) {
        const double done = double(step - m_resumedBlocks) + (subCount > 0 ? double(sub) / subCount : 0.0);
        const double left = double(stepCount - step) - (subCount > 0 ? double(sub) / subCount : 0.0);
        e.etaSec = e.elapsedSec / std::max(done, 1e-9) * std::max(0.0, left);
    }
    e.rssBytes = currentRssBytes();
    m_sink.progress(e);
}

void RunEvents::layerDone(const LayerResult& result, const QuantizedLinear* params)
{
    if (m_runFile)
        m_runFile->writeLayer(result, params);
    m_sink.layerDone(result);
}

void RunEvents::blockDone(const BlockResult& result, bool send)
{
    if (m_runFile)
        m_runFile->writeBlock(result.block, result.metrics);
    if (send)
        m_sink.blockDone(result);
    if (m_runFile)
        m_runFile->finishBlock(result.block);
}

void RunEvents::runCompleted()
{
    if (!m_runFile)
        return;
    m_runFile->setStatus(RunStatus::Completed);
    m_runFile->close();
}

void RunEvents::runStopped(RunStatus status, const std::string& message)
{
    if (!m_runFile)
        return;
    try {
        m_runFile->setStatus(status, message);
        m_runFile->close();
    } catch (const std::exception& e) {
        m_sink.log(LogLevel::Warning, std::string("run file: ") + e.what());
    }
}

} // namespace bq::quant
