// Output paths that never lose a user's data. Every directory bitstudio writes (Hugging Face directories from
// `convert --to hf`, `quantize --out`, the workflow's fake-quantized directory) carries a marker file,
// ".bitstudio-output", so a later write can tell a previous output (replaced without asking) from anything else
// (refused unless the caller forces it):
//
//   target absent / empty directory / directory holding the marker  -> written
//   non-empty directory without the marker, regular file, other     -> OutputRefused, unless force
//
// Single-file outputs (GGUF files, run files) follow the same rule with a caller-given test for "a previous
// output" (e.g. a GGUF whose metadata has bitstudio.format_version); the file itself is then replaced by an
// atomic rename (AtomicFile), so the old file stays whole until the new one is complete. A directory is never
// replaced by a file, even with force.
//
// writeOutputDirectory is the one place that swaps a directory into place: the content is written into a fresh
// sibling "<target>.tmp-<pid>-<n>", the marker added, then the old target is renamed aside to
// "<target>.old-<pid>-<n>", the new one renamed in and the old one removed. If any step before the last fails,
// the temporary directory is removed and the original target is put back where it was.
#pragma once
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace bq {

inline constexpr const char* kOutputMarkerName = ".bitstudio-output";

// An output path that holds something that is not a previous bitstudio output. The message names the path and
// the override (--force).
class OutputRefused : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws OutputRefused unless `dir` may receive a new output directory (see above).
void checkOutputDirectory(const std::filesystem::path& dir, bool force);

// Throws OutputRefused unless `file` may receive a new single-file output: absent, or a regular file that
// isPreviousOutput(file) accepts (or any regular file with force). A directory (or other non-regular entry) at
// `file` is always refused. isPreviousOutput may be empty (then only force allows replacing a file).
void checkOutputFile(const std::filesystem::path& file, bool force,
                     const std::function<bool(const std::filesystem::path&)>& isPreviousOutput);

// Checks `dir` (checkOutputDirectory), calls fill(tmp) to write the content into a fresh temporary sibling
// directory, writes the marker there, checks `dir` again and swaps it into place (see above). Errors
// (std::runtime_error naming the path) leave `dir` as it was and no temporary directory behind.
void writeOutputDirectory(const std::filesystem::path& dir, const std::function<void(const std::filesystem::path&)>& fill,
                          bool force);

// Test hook: when the environment variable BQ_FAIL_OUTPUT_SWAP is set to "rename-in", writeOutputDirectory fails
// after moving the old target aside (as a rename failure would), so the restore path can be tested end to end.

} // namespace bq
