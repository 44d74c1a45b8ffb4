// The job contract: every long core operation is a synchronous function taking a request, an EventSink and a
// CancelToken, returning a JobResult. It never throws across this boundary. The sink is called on the job
// thread and must return quickly; progress events are throttled by the core (~20/s plus first and last).
#pragma once
#include "bq/jobs/events.h"
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bq {

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
