#include "support/test_support.h"
#include "bq/util/cpu_features.h"
#include <catch2/catch.hpp>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <csignal>
#include <cstdlib>
#include <poll.h>
#include <sys/resource.h>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace bqtest {

std::filesystem::path sharedDir()
{
    if (const char* env = std::getenv("BQ_SHARED_DIR"); env && *env)
        return std::filesystem::path(env);
    return std::filesystem::path(BQ_SHARED_DIR);
}

bool inCi()
{
    const char* ci = std::getenv("CI");
    if (!ci)
        return false;
    const std::string v = ci;
    return !v.empty() && v != "0" && v != "false" && v != "False" && v != "FALSE";
}

bool haveShared(const char* what)
{
    const auto manifest = sharedDir() / "MANIFEST.md";
    if (std::filesystem::exists(manifest))
        return true;
    if (inCi())
        FAIL(std::string("MISSING DATA: ") + what + " needs ../shared, but " + manifest.string() +
             " is absent (CI is set, so a missing reference directory is a failure, not a skip)");
    WARN(std::string("SKIPPED: ") + what + " needs ../shared (" + sharedDir().string() + "), which is absent");
    return false;
}

std::filesystem::path sharedPath(const std::string& relative) { return sharedDir() / relative; }

std::filesystem::path smollm2Path()
{
    if (const char* explicitPath = std::getenv("BQ_SMOLLM2_GGUF"); explicitPath && *explicitPath)
        return explicitPath;
    std::filesystem::path cache;
    if (const char* c = std::getenv("BQ_MODEL_CACHE"); c && *c)
        cache = c;
    else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        cache = std::filesystem::path(x) / "bitstudio" / "models";
    else if (const char* h = std::getenv("HOME"); h && *h)
        cache = std::filesystem::path(h) / ".cache" / "bitstudio" / "models";
    return cache / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

bool haveSmolLM2(const char* what)
{
    const auto path = smollm2Path();
    if (std::filesystem::exists(path))
        return true;
    if (inCi())
        FAIL(std::string("MISSING DATA: ") + what + " needs SmolLM2-135M-Instruct at " + path.string() +
             " (CI is set: run `bash packaging/fetch-models.sh` first)");
    WARN(std::string("SKIPPED: ") + what + " needs SmolLM2-135M-Instruct (" + path.string() +
         "): run `bash packaging/fetch-models.sh` to fetch it");
    return false;
}

std::string readFile(const std::filesystem::path& path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::filesystem::path cliPath() { return std::filesystem::path(BQ_CLI_PATH); }

ProcessResult runCli(const std::vector<std::string>& args, const std::string& stdinText)
{
    RunOptions o;
    o.stdinText = stdinText;
    return runProcess(args, o);
}

ProcessResult runProcess(const std::vector<std::string>& args, const RunOptions& options)
{
    const std::string& stdinText = options.stdinText;
    int inPipe[2], outPipe[2], errPipe[2];
    if (pipe(inPipe) != 0 || pipe(outPipe) != 0 || pipe(errPipe) != 0)
        throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(inPipe[0], 0);
        dup2(outPipe[1], 1);
        dup2(errPipe[1], 2);
        close(inPipe[1]);
        close(outPipe[0]);
        close(errPipe[0]);
        for (const auto& [k, v] : options.env)
            setenv(k.c_str(), v.c_str(), 1);
        if (options.fileSizeLimit > 0) {
            signal(SIGXFSZ, SIG_IGN); // survives execv: the writer sees EFBIG instead of being killed
            rlimit lim{};
            lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(options.fileSizeLimit);
            if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
                _exit(126);
        }
        std::vector<char*> argv;
        std::string exe = options.executable.empty() ? cliPath().string() : options.executable;
        argv.push_back(exe.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    close(inPipe[0]);
    close(outPipe[1]);
    close(errPipe[1]);
    if (!stdinText.empty()) {
        const ssize_t w = write(inPipe[1], stdinText.data(), stdinText.size());
        (void)w;
    }
    close(inPipe[1]);
    ProcessResult r;
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        if (poll(fds, 2, -1) < 0)
            break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

TempDir::TempDir()
{
    std::random_device rd;
    m_path = std::filesystem::temp_directory_path() / ("bqtest-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(m_path);
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

std::vector<std::string> missingCpuFeatures(const std::vector<std::string>& needs)
{
    const bq::CpuFeatures& f = bq::cpuFeatures();
    const std::map<std::string, bool> have = {{"avx2", f.avx2},
                                              {"fma", f.fma},
                                              {"f16c", f.f16c},
                                              {"avxvnni", f.avxvnni},
                                              {"avx512f", f.avx512f},
                                              {"avx512bw", f.avx512bw},
                                              {"avx512vl", f.avx512vl},
                                              {"avx512vnni", f.avx512vnni},
                                              {"avx512vpopcntdq", f.avx512vpopcntdq}};
    std::vector<std::string> missing;
    for (const auto& n : needs) {
        const auto it = have.find(n);
        REQUIRE(it != have.end()); // a typo in a test's feature list
        if (!it->second)
            missing.push_back(n);
    }
    return missing;
}

bool reportKernelPath(const std::string& what, const std::vector<std::string>& needs)
{
    const auto missing = missingCpuFeatures(needs);
    std::string line;
    if (missing.empty()) {
        line = "RUN: " + what;
    } else {
        line = "NOT RUN: " + what + " (this CPU lacks";
        for (const auto& m : missing)
            line += " " + m;
        line += ")";
        if (const char* cap = std::getenv("BQ_CPU"))
            line += std::string(" [capped by BQ_CPU=") + cap + "]";
    }
    WARN(line);
    return missing.empty();
}

} // namespace bqtest
