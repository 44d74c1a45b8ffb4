#include "bq/jobs/run_job.h"
#include "bq/util/errors.h"
#include <new>

namespace bq {

JobResult runJob(const std::string& context, const std::function<JobResult()>& body,
                 const std::function<void(const JobResult&)>& onStop) noexcept
{
    JobResult result;
    try {
        return body();
    } catch (const Cancelled&) {
        result = {JobStatus::Cancelled, "cancelled", {}};
    } catch (const std::bad_alloc&) {
        result = {JobStatus::Failed, context + "out of memory", {}};
    } catch (const std::exception& e) {
        result = {JobStatus::Failed, context + e.what(), {}};
    } catch (...) {
        result = {JobStatus::Failed, context + "unknown error", {}};
    }
    if (onStop) {
        try {
            onStop(result);
        } catch (...) {
        }
    }
    return result;
}

} // namespace bq
