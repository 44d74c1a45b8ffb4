// The job boundary (job.h): the one place where exceptions become a JobResult, so no job function writes its
// own try/catch. bq::Cancelled becomes Cancelled; std::bad_alloc becomes Failed "out of memory"; any other
// exception becomes Failed with its message after `context` ("perplexity: ..."; empty = the message alone).
#pragma once
#include "bq/jobs/job.h"
#include <functional>
#include <string>

namespace bq {

// body returns the result of a completed job (message, outputs). onStop, when given, runs after a Cancelled or
// Failed outcome with that result (e.g. to mark a run file) and may not throw.
JobResult runJob(const std::string& context, const std::function<JobResult()>& body,
                 const std::function<void(const JobResult&)>& onStop = {}) noexcept;

} // namespace bq
