// Helpers shared by the test binaries: where ../shared is, skipping without it, running the CLI.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace bqtest {

std::filesystem::path sharedDir();
// True when ../shared exists; otherwise prints a clear skip message (Catch2 2.13 has no SKIP) and returns false.
bool haveShared(const char* what);
std::filesystem::path sharedPath(const std::string& relative);
std::string readFile(const std::filesystem::path& path);
std::filesystem::path cliPath();

struct ProcessResult {
    int exitCode = -1;
    std::string out, err;
};
// Runs bitstudio-cli with the given arguments (no shell), capturing stdout and stderr.
ProcessResult runCli(const std::vector<std::string>& args, const std::string& stdinText = "");

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
