#include "calibration_streams.h"
#include "bq/jobs/job.h"
#include "bq/util/errors.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

namespace bq::quant {

CalibrationStreams::CalibrationStreams(const ModelConfig& config, const CalibrationSet& calibration, bool twoStreams,
                                       ThreadPool& pool, const CancelToken& cancel)
    : m_config(config), m_calibration(calibration), m_rope(config), m_pool(pool), m_cancel(cancel),
      m_N(calibration.samples), m_T(calibration.seqLen), m_twoStreams(twoStreams),
      m_runners(std::size_t(pool.size()))
{
    const std::size_t kvFloats = std::size_t(m_T) * std::size_t(config.kvDim());
    for (Runner& r : m_runners) {
        r.keys.resize(kvFloats);
        r.values.resize(kvFloats);
    }
}

void CalibrationStreams::embed(const float* quantized, const float* fp)
{
    const std::size_t dim = std::size_t(m_config.dim), total = std::size_t(m_N) * std::size_t(m_T) * dim;
    auto fill = [&](const float* table, std::vector<float>& stream) {
        stream.assign(total, 0.0f);
        for (int s = 0; s < m_N; ++s) {
            const auto tokens = m_calibration.sample(s);
            for (int t = 0; t < m_T; ++t)
                std::memcpy(stream.data() + offset(s) + std::size_t(t) * dim,
                            table + std::size_t(tokens[std::size_t(t)]) * dim, dim * sizeof(float));
        }
    };
    fill(quantized, m_quantized);
    if (m_twoStreams) {
        fill(fp, m_fpIn);
        m_fpOut.assign(total, 0.0f);
    }
}

const float* CalibrationStreams::sequence(Stream stream, int s) const
{
    return (stream == Stream::Quantized ? m_quantized : m_fpIn).data() + offset(s);
}

void CalibrationStreams::forEachWave(const std::function<void(int, int, int)>& perSequence,
                                     const std::function<void(int, int, double)>& afterWave)
{
    const int W = m_pool.size();
    for (int s0 = 0; s0 < m_N; s0 += W) {
        m_cancel.throwIfRequested();
        const int wave = std::min(W, m_N - s0);
        std::atomic<bool> cancelled{false};
        const auto start = std::chrono::steady_clock::now();
        m_pool.parallelFor(std::size_t(wave), [&](std::size_t b, std::size_t e, int worker) {
            for (std::size_t i = b; i < e; ++i) {
                if (m_cancel.requested()) {
                    cancelled = true;
                    return;
                }
                perSequence(s0 + int(i), int(i), worker);
            }
        });
        if (cancelled)
            throw Cancelled();
        if (afterWave)
            afterWave(s0, wave, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
}

void CalibrationStreams::runBlock(const BlockWeights& w, float* x, int worker, const BlockSiteHook& hook)
{
    Runner& r = m_runners[std::size_t(worker)];
    BlockKv kv;
    kv.keys = r.keys.data();
    kv.values = r.values.data();
    forwardBlock(m_config, m_rope, w, x, m_T, kv, r.scratch, nullptr, hook);
}

void CalibrationStreams::inspect(Stream stream, const BlockWeights& w, int s, int worker, const BlockSiteHook& hook)
{
    const float* in = sequence(stream, s);
    std::vector<float>& x = m_runners[std::size_t(worker)].x;
    x.assign(in, in + std::size_t(m_T) * std::size_t(m_config.dim));
    runBlock(w, x.data(), worker, hook);
}

BlockComparison CalibrationStreams::advance(const BlockWeights& wq, const BlockWeights& wf, bool compare,
                                            const std::function<void()>& afterWave)
{
    compare = compare && m_twoStreams;
    const std::size_t rowFloats = std::size_t(m_T) * std::size_t(m_config.dim);
    BlockComparison result;
    std::vector<StreamComparison> residual(std::size_t(m_pool.size())); // per slot, merged in sequence order
    forEachWave(
        [&](int s, int slot, int worker) {
            float* xq = m_quantized.data() + offset(s);
            runBlock(wq, xq, worker);
            if (!m_twoStreams)
                return;
            float* xf = m_fpOut.data() + offset(s);
            std::memcpy(xf, m_fpIn.data() + offset(s), rowFloats * sizeof(float));
            runBlock(wf, xf, worker);
            if (compare) {
                residual[std::size_t(slot)].reset();
                residual[std::size_t(slot)].add(xq, xf, m_T, m_config.dim);
            }
        },
        [&](int first, int count, double) {
            if (compare)
                for (int i = 0; i < count; ++i) {
                    result.residual.merge(residual[std::size_t(i)]);
                    const int s = first + i;
                    if (s < kTokenSimSequences)
                        result.tokenSim.addSequence(
                            Eigen::Map<const MatrixXfR>(m_quantized.data() + offset(s), m_T, m_config.dim),
                            Eigen::Map<const MatrixXfR>(m_fpOut.data() + offset(s), m_T, m_config.dim));
                }
            if (afterWave)
                afterWave();
        });
    if (m_twoStreams)
        std::swap(m_fpIn, m_fpOut);
    return result;
}

} // namespace bq::quant
