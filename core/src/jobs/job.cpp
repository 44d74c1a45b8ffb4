#include "bq/jobs/job.h"
#include "bq/util/errors.h"
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

namespace bq {

const char* stageName(Stage s) noexcept
{
    switch (s) {
    case Stage::Load: return "load";
    case Stage::Calibrate: return "calibrate";
    case Stage::Quantize: return "quantize";
    case Stage::Evaluate: return "evaluate";
    case Stage::Pack: return "pack";
    case Stage::Export: return "export";
    case Stage::Generate: return "generate";
    case Stage::Bench: return "bench";
    }
    return "?";
}

void CancelToken::throwIfRequested() const
{
    if (requested())
        throw Cancelled();
}

std::uint64_t currentRssBytes() noexcept
{
    std::ifstream f("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    if (!(f >> size >> resident))
        return 0;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t peakRssBytes() noexcept
{
    struct rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024u;
}

} // namespace bq
