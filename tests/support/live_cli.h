// A bitstudio-cli process the test can talk to (stdin), read (stdout, stderr) and signal while it runs:
// interactive chat, Ctrl-C handling. Header-only because it uses Catch2's REQUIRE.
#pragma once
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace bqtest {

class LiveCli {
public:
    explicit LiveCli(const std::vector<std::string>& args)
    {
        int in[2], out[2], err[2];
        REQUIRE(pipe(in) == 0);
        REQUIRE(pipe(out) == 0);
        REQUIRE(pipe(err) == 0);
        m_pid = fork();
        REQUIRE(m_pid >= 0);
        if (m_pid == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            dup2(err[1], 2);
            close(in[1]);
            close(out[0]);
            close(err[0]);
            std::string exe = bqtest::cliPath().string();
            std::vector<std::string> copy = args;
            std::vector<char*> argv{exe.data()};
            for (auto& a : copy)
                argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(exe.c_str(), argv.data());
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        m_in = in[1];
        m_fds[0] = out[0];
        m_fds[1] = err[0];
    }
    ~LiveCli()
    {
        if (m_in >= 0)
            close(m_in);
        if (m_pid > 0 && !m_reaped) {
            kill(m_pid, SIGKILL);
            waitpid(m_pid, nullptr, 0);
        }
        for (int fd : m_fds)
            if (fd >= 0)
                close(fd);
    }
    LiveCli(const LiveCli&) = delete;
    LiveCli& operator=(const LiveCli&) = delete;
    void write(const std::string& text) { REQUIRE(::write(m_in, text.data(), text.size()) == ssize_t(text.size())); }
    void closeInput()
    {
        close(m_in);
        m_in = -1;
    }
    void interrupt() { kill(m_pid, SIGINT); }
    // Reads output for up to `seconds`, true as soon as `stream` (0 out, 1 err) holds `needle` from byte `from` on.
    bool waitFor(int stream, const std::string& needle, double seconds, std::size_t from = 0)
    {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        const auto found = [&] { return text[stream].find(needle, from) != std::string::npos; };
        while (!found()) {
            const auto left = std::chrono::duration<double>(end - std::chrono::steady_clock::now()).count();
            if (left <= 0)
                return false;
            pump(static_cast<int>(left * 1000) + 1);
        }
        return true;
    }
    // Waits for the exit (reading all output); returns the exit code, or -1 on timeout.
    int wait(double seconds)
    {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (pump(50) || std::chrono::steady_clock::now() < end) {
            int status = 0;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_reaped = true;
                while (pump(50)) {
                }
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
        }
        return -1;
    }
    std::string text[2];

private:
    bool pump(int timeoutMs)
    {
        pollfd p[2] = {{m_fds[0], POLLIN, 0}, {m_fds[1], POLLIN, 0}};
        if (poll(p, 2, timeoutMs) <= 0)
            return false;
        bool any = false;
        for (int i = 0; i < 2; ++i) {
            if (m_fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[4096];
            const ssize_t n = read(m_fds[i], buf, sizeof buf);
            if (n <= 0) {
                close(m_fds[i]);
                m_fds[i] = -1;
            } else {
                text[i].append(buf, static_cast<std::size_t>(n));
                any = true;
            }
        }
        return any;
    }
    pid_t m_pid = -1;
    bool m_reaped = false;
    int m_in = -1;
    int m_fds[2] = {-1, -1};
};

} // namespace bqtest
