// Typed errors used inside the core. Job functions catch them and turn them into JobResult::Failed;
// CLI commands print what() and exit non-zero. Every message names the file, the field and what was expected.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace bq {

// A malformed or unsupported input file. offset is the byte offset of the field, or -1 when not applicable.
class FormatError : public std::runtime_error {
public:
    FormatError(std::string path, std::string field, std::string expected, std::int64_t offset = -1);
    const std::string& path() const noexcept { return m_path; }
    const std::string& field() const noexcept { return m_field; }
    const std::string& expected() const noexcept { return m_expected; }
    std::int64_t offset() const noexcept { return m_offset; }

private:
    std::string m_path, m_field, m_expected;
    std::int64_t m_offset;
};

// A well-formed model that this build does not know how to run (architecture, dtype, option).
class UnsupportedModel : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown inside a job when its CancelToken is set; the job function turns it into JobStatus::Cancelled.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("cancelled") {}
};

} // namespace bq
