// The job contract: every long core operation is a synchronous function taking a request, an EventSink and a
// CancelToken, returning a JobResult. It never throws across this boundary. The sink is called on the job
// thread and must return quickly; progress events are throttled by the core (~20/s plus first and last).
#pragma once
#include "bq/util/log_level.h"
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bq {

enum class Stage : std::uint8_t { Load, Calibrate, Quantize, Evaluate, Pack, Export, Generate, Bench };
const char* stageName(Stage s) noexcept;

struct ProgressEvent {
    Stage stage = Stage::Load;
    std::int32_t step = 0, stepCount = 0; // e.g. block 12 of 32
    std::int32_t sub = 0, subCount = 0;   // e.g. matrix 3 of 7
    double elapsedSec = 0, etaSec = -1;   // etaSec < 0: unknown
    std::uint64_t rssBytes = 0;
};

// Immutable arrays attached to a layer result (spectra, histograms, masks), shared, never copied.
struct LayerArrays {
    std::map<std::string, std::vector<double>> values;
};

struct LayerResult {
    std::string tensor;
    std::int32_t block = -1;
    std::string method, decidedBy;
    std::map<std::string, double> metrics;
    std::shared_ptr<const LayerArrays> arrays;
    double bitsPerWeight = 0, seconds = 0;
};

// One finished transformer block of a quantization run: the residual stream after the block compared with the
// full-precision model (metrics "residual.rel_mse", "residual.mean_cosine", "token_sim.*"; empty when the run
// keeps no full-precision stream) and the wall seconds the block took.
struct BlockResult {
    std::int32_t block = -1;
    std::map<std::string, double> metrics;
    std::shared_ptr<const LayerArrays> arrays; // per-sequence token-similarity errors; null when not computed
    double seconds = 0;
};

class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void progress(const ProgressEvent&) = 0;
    virtual void layerDone(const LayerResult&) = 0;
    // Once per block, after its last layer's layerDone; never for a block kept entirely in full precision.
    virtual void blockDone(const BlockResult&) {}
    virtual void log(LogLevel, std::string_view) = 0;
};

// Ignores everything (for callers that do not watch).
class NullSink final : public EventSink {
public:
    void progress(const ProgressEvent&) override {}
    void layerDone(const LayerResult&) override {}
    void log(LogLevel, std::string_view) override {}
};

class CancelToken {
public:
    void request() noexcept { m_flag.store(true, std::memory_order_relaxed); }
    bool requested() const noexcept { return m_flag.load(std::memory_order_relaxed); }
    void reset() noexcept { m_flag.store(false, std::memory_order_relaxed); }
    void throwIfRequested() const; // throws bq::Cancelled

private:
    std::atomic<bool> m_flag{false};
};

enum class JobStatus : std::uint8_t { Completed, Cancelled, Failed };

struct JobResult {
    JobStatus status = JobStatus::Completed;
    std::string message;
    std::vector<std::filesystem::path> outputs;
};

// Current resident set size of this process in bytes (0 if unknown), and the peak.
std::uint64_t currentRssBytes() noexcept;
std::uint64_t peakRssBytes() noexcept;

} // namespace bq
