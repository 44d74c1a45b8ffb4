// Helpers shared by the test binaries: where ../shared is, skipping without it, running the CLI.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace bqtest {

// The BQ_SHARED_DIR compile definition, or the environment variable BQ_SHARED_DIR when set (so a test can point
// a child test run at a missing directory).
std::filesystem::path sharedDir();
// True when the environment says this is CI (CI set to anything but "", "0" or "false").
bool inCi();
// True when ../shared exists; otherwise prints a clear skip message (Catch2 2.13 has no SKIP) and returns false.
// In CI (inCi()) a missing ../shared fails the test instead (Catch2 FAIL naming the missing path).
bool haveShared(const char* what);
std::filesystem::path sharedPath(const std::string& relative);

// The real test model, SmolLM2-135M-Instruct (Q4_1 GGUF): the environment variable BQ_SMOLLM2_GGUF, else the cache
// that packaging/fetch-models.sh fills (${BQ_MODEL_CACHE:-${XDG_CACHE_HOME:-~/.cache}/bitstudio/models}).
std::filesystem::path smollm2Path();
// True when smollm2Path() exists; otherwise a skip message naming the fetch command, or a failure in CI.
bool haveSmolLM2(const char* what);
std::string readFile(const std::filesystem::path& path);
std::filesystem::path cliPath();

struct ProcessResult {
    int exitCode = -1;
    std::string out, err;
};
// Runs bitstudio-cli with the given arguments (no shell), capturing stdout and stderr.
ProcessResult runCli(const std::vector<std::string>& args, const std::string& stdinText = "");

struct RunOptions {
    std::string stdinText;
    // > 0: the child runs under setrlimit(RLIMIT_FSIZE) of this many bytes with SIGXFSZ ignored, so a write past
    // the limit fails with EFBIG (a full disk, as far as the writer can tell).
    long long fileSizeLimit = 0;
    std::vector<std::pair<std::string, std::string>> env; // set in the child
    std::string executable;                               // default: bitstudio-cli
};
ProcessResult runProcess(const std::vector<std::string>& args, const RunOptions& options);

// Kernel paths the CPU (or the BQ_CPU cap) does not allow. `needs` names the cpuFeatures() flags a path requires
// ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avx512vpopcntdq"); returns
// the ones missing. reportKernelPath reports "RUN: <what>" or "NOT RUN: <what> (this CPU lacks <missing>)" as a
// Catch2 WARN (always printed), and returns whether the path runs. The "kernel paths" test cases use it; CTest marks a
// test whose output says "NOT RUN:" as skipped, so the skipped path shows by name in the CTest summary.
std::vector<std::string> missingCpuFeatures(const std::vector<std::string>& needs);
bool reportKernelPath(const std::string& what, const std::vector<std::string>& needs);

// A fresh temporary directory removed at destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return m_path; }
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
    std::filesystem::path m_path;
};

} // namespace bqtest
