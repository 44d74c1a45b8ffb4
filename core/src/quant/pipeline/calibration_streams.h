// The calibration hidden states entering the current block (methods.md §1.1): the quantized stream (the windows
// through the blocks quantized so far) and, with two streams, the full-precision stream next to it.
//
// Every sequence runs on one thread, through the runtime's own block (transformer_block.h) with a null pool and
// a KV cache of its own (the runtime's kernels are thread-invariant), a wave of pool-size sequences at a time,
// so the streams never depend on the thread count. Cancel is checked per sequence.
#pragma once
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/runtime/rope.h"
#include "bq/runtime/transformer_block.h"
#include <functional>
#include <vector>

namespace bq {
class CancelToken;
class ThreadPool;
} // namespace bq

namespace bq::quant {

enum class Stream : std::uint8_t { Quantized, Fp };

// The FP stream against the quantized one after a block.
struct BlockComparison {
    StreamComparison residual;
    TokenSimilarityAccumulator tokenSim; // over the first kTokenSimSequences sequences
};
inline constexpr int kTokenSimSequences = 8;

class CalibrationStreams {
public:
    CalibrationStreams(const ModelConfig& config, const CalibrationSet& calibration, bool twoStreams, ThreadPool& pool,
                       const CancelToken& cancel);

    int samples() const { return m_N; }
    int seqLen() const { return m_T; }
    std::int64_t tokens() const { return std::int64_t(m_N) * m_T; }
    bool twoStreams() const { return m_twoStreams; }
    const ModelConfig& config() const { return m_config; }
    ThreadPool& pool() const { return m_pool; }

    // Embedding rows (vocab × dim fp32) of every window: `quantized` for the quantized stream, `fp` for the FP one.
    void embed(const float* quantized, const float* fp);
    // Sequence s of a stream, T × dim row-major.
    const float* sequence(Stream stream, int s) const;

    // perSequence(s, slot, worker) for every sequence s, pool-size sequences at a time on the workers (slot: the
    // place in the wave); then afterWave(first, count, seconds) on this thread. Throws Cancelled.
    void forEachWave(const std::function<void(int s, int slot, int worker)>& perSequence,
                     const std::function<void(int first, int count, double seconds)>& afterWave = {});

    // Runs block `w` on a copy of sequence s of `stream` (the stream is not changed) with `hook` seeing its site
    // inputs; from inside forEachWave, on `worker`'s buffers.
    void inspect(Stream stream, const BlockWeights& w, int s, int worker, const BlockSiteHook& hook);

    // Moves the streams through the block: the quantized one through wq, the FP one through wf. With `compare`
    // (two streams only) returns the residual-stream comparison after the block. afterWave runs after each wave.
    BlockComparison advance(const BlockWeights& wq, const BlockWeights& wf, bool compare,
                            const std::function<void()>& afterWave);

private:
    // One worker's buffers: a sequence copy, its KV cache (T rows) and the block's scratch.
    struct Runner {
        std::vector<float> x, keys, values;
        BlockScratch scratch;
    };
    void runBlock(const BlockWeights& w, float* x, int worker, const BlockSiteHook& hook = {});
    std::size_t offset(int s) const { return std::size_t(s) * std::size_t(m_T) * std::size_t(m_config.dim); }

    const ModelConfig& m_config;
    const CalibrationSet& m_calibration;
    Rope m_rope;
    ThreadPool& m_pool;
    const CancelToken& m_cancel;
    int m_N, m_T;
    bool m_twoStreams;
    std::vector<float> m_quantized, m_fpIn, m_fpOut; // N × T × dim each; the FP stream alternates between two
    std::vector<Runner> m_runners;                    // per worker
};

} // namespace bq::quant
