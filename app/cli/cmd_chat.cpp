// `bitstudio-cli chat MODEL ...`: an interactive chat on stdin/stdout over bq::ChatSession. Each input line is a
// user message; the reply streams to stdout; statistics go to stderr after each reply. Commands: /reset,
// /stats, /quit. Ctrl-C during a reply stops it (the partial reply stays in the history); at the prompt a
// second Ctrl-C in a row quits; end of input quits. The "> " prompt marker is printed only when stdin is a
// terminal, so piped sessions print nothing but the replies.
#include "bq/chat/chat_session.h"
#include "bq/runtime/fp32_model.h"
#include "bq/tokenizer/tokenizer.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace bqcli {

namespace {

// The SIGINT handler requests cancel of the running reply and writes a byte to a self-pipe, which the prompt's
// poll() sees even when the signal lands just before it starts waiting.
bq::CancelToken g_cancel;
int g_wakePipe[2] = {-1, -1};

extern "C" void onSigint(int)
{
    g_cancel.request(); // a lock-free atomic store: async-signal-safe
    const int saved = errno;
    const ssize_t ignored = ::write(g_wakePipe[1], "i", 1);
    (void)ignored;
    errno = saved;
}

void drainWakePipe()
{
    char buf[64];
    while (::read(g_wakePipe[0], buf, sizeof buf) > 0) {
    }
}

// Installs the handler (and its non-blocking self-pipe); restores the previous handler on exit.
class SigintGuard {
public:
    SigintGuard()
    {
        if (::pipe(g_wakePipe) != 0)
            throw std::runtime_error("chat: cannot create the signal pipe");
        for (int fd : g_wakePipe)
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct sigaction sa {};
        sa.sa_handler = onSigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(SIGINT, &sa, &m_old);
    }
    ~SigintGuard()
    {
        sigaction(SIGINT, &m_old, nullptr);
        for (int& fd : g_wakePipe) {
            ::close(fd);
            fd = -1;
        }
    }
    SigintGuard(const SigintGuard&) = delete;
    SigintGuard& operator=(const SigintGuard&) = delete;

private:
    struct sigaction m_old {};
};

// Line reader over fd 0 that reports Ctrl-C (a byte on the wake pipe) instead of waiting on.
class LineReader {
public:
    enum class Result { Line, Eof, Interrupted };
    Result next(std::string& line)
    {
        for (;;) {
            const auto nl = m_buffer.find('\n');
            if (nl != std::string::npos) {
                line = m_buffer.substr(0, nl);
                m_buffer.erase(0, nl + 1);
                if (!line.empty() && line.back() == '\r')
                    line.pop_back();
                return Result::Line;
            }
            pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {g_wakePipe[0], POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR)
                    continue; // the handler's byte is in the pipe: the next poll reports it
                throw std::runtime_error(std::string("chat: poll on stdin failed: ") + std::strerror(errno));
            }
            if (fds[1].revents & POLLIN) {
                drainWakePipe();
                return Result::Interrupted;
            }
            char chunk[4096];
            const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
            if (n > 0) {
                m_buffer.append(chunk, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (m_buffer.empty())
                return Result::Eof;
            line.swap(m_buffer); // a last line without a newline
            m_buffer.clear();
            return Result::Line;
        }
    }

private:
    std::string m_buffer;
};

class StdoutEvents final : public bq::ChatEvents {
public:
    void text(std::string_view piece, const bq::ChatStats&) override
    {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
    }
    void log(bq::LogLevel, std::string_view text) override
    {
        std::fprintf(stderr, "[%.*s]\n", static_cast<int>(text.size()), text.data());
    }
};

std::string templateNameList()
{
    std::string names;
    for (const std::string& n : bq::chatTemplateNames())
        names += (names.empty() ? "" : ", ") + n;
    return names;
}

void printStats(const bq::ChatStats& s)
{
    std::fprintf(stderr,
                 "[prompt: %d tokens (%d reused) in %.3f s, %.1f tok/s | reply: %d tokens in %.3f s, %.1f tok/s | "
                 "context %d/%d]\n",
                 s.promptTokens, s.reusedTokens, s.promptSeconds, s.promptTokensPerSecond(), s.generatedTokens,
                 s.generationSeconds, s.generationTokensPerSecond(), s.contextUsed, s.contextCapacity);
}

// --render: [{"role": "system"|"user"|"assistant", "content": "..."}, ...]
std::vector<bq::ChatMessage> readMessages(const std::string& file)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readTextFile(file));
    } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error(file + ": json: expected an array of messages (" + e.what() + ")");
    }
    if (!j.is_array())
        throw std::runtime_error(file + ": json: expected an array of messages");
    std::vector<bq::ChatMessage> out;
    for (std::size_t i = 0; i < j.size(); ++i) {
        const std::string at = file + ": [" + std::to_string(i) + "]";
        if (!j[i].is_object() || !j[i].contains("role") || !j[i]["role"].is_string() || !j[i].contains("content") ||
            !j[i]["content"].is_string())
            throw std::runtime_error(at + ": expected {\"role\": string, \"content\": string}");
        const std::string role = j[i]["role"].get<std::string>();
        bq::ChatMessage m;
        if (role == "system")
            m.role = bq::ChatRole::System;
        else if (role == "user")
            m.role = bq::ChatRole::User;
        else if (role == "assistant")
            m.role = bq::ChatRole::Assistant;
        else
            throw std::runtime_error(at + ".role: expected system, user or assistant (got \"" + role + "\")");
        m.content = j[i]["content"].get<std::string>();
        out.push_back(std::move(m));
    }
    return out;
}

} // namespace

void registerChat(CLI::App& app)
{
    struct Opts {
        std::string model, templateName, system, render;
        ModelOptions modelOptions;
        bq::ChatOptions chat;
        bool slidingWindow = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("chat", "Chat with a model on the terminal (stdin/stdout)");
    cmd->add_option("MODEL", o->model, "Model file, Hugging Face directory, or :demo")->required();
    cmd->add_option("--template", o->templateName,
                    "Chat template (" + templateNameList() + "); default: detected from the model");
    cmd->add_option("--system", o->system, "System message");
    cmd->add_option("--render", o->render,
                    "Print the prompt the template renders for a JSON file of messages "
                    "([{\"role\": \"system|user|assistant\", \"content\": ...}], generation prompt added) and exit");
    cmd->add_option("--temp,-t", o->chat.sampler.temperature, "Temperature (0 = greedy)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-k", o->chat.sampler.topK, "Keep the K most likely tokens (0 = off)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p,-p", o->chat.sampler.topP, "Nucleus sampling threshold (1 = off)")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--min-p", o->chat.sampler.minP, "Drop tokens below min-p × the top probability (0 = off)")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--repeat-penalty", o->chat.sampler.repetitionPenalty, "Repetition penalty (1 = off)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--seed,-s", o->chat.sampler.seed, "Random seed (0 = from the clock)");
    cmd->add_option("-n,--max-tokens", o->chat.maxTokens, "Tokens per reply at most (0 = no limit: until the end of the turn, a full context or Ctrl-C)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--context", o->chat.contextTokens, "Context size in tokens (0 = the model's, at most 4096)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--sliding-window", o->slidingWindow,
                  "When the context is full, drop the oldest turns instead of refusing the message");
    addModelOptions(*cmd, o->modelOptions);
    addBackendOption(*cmd, o->modelOptions);
    cmd->callback([o] {
        auto model = openModel(o->model, o->modelOptions);
        if (!model->tokenizer)
            throw std::runtime_error(o->model + ": no tokenizer found; pass --tokenizer FILE");
        bq::ChatTemplate chatTemplate = bq::chatTemplateForModel(model->chatTemplate);
        if (!o->templateName.empty()) {
            const auto named = bq::chatTemplateFromName(o->templateName);
            if (!named)
                throw std::runtime_error("--template " + o->templateName + ": unknown template; choose one of " +
                                         templateNameList());
            chatTemplate = bq::ChatTemplate(*named);
        }
        if (!o->render.empty()) {
            const auto messages = readMessages(o->render);
            const std::string text = chatTemplate.render(messages, true, bq::chatSpecialStrings(*model->tokenizer));
            std::fwrite(text.data(), 1, text.size(), stdout);
            return;
        }
        o->chat.overflow = o->slidingWindow ? bq::ContextOverflow::SlidingWindow : bq::ContextOverflow::Error;
        auto inference = makeInference(model, o->model, o->modelOptions);
        bq::ChatSession session(inference, chatTemplate, o->chat);
        session.setSystemPrompt(o->system);

        const bool interactive = ::isatty(STDIN_FILENO) != 0;
        std::fprintf(stderr, "chat: %s, template %s%s, context %d, %s %d threads%s\n", o->model.c_str(),
                     session.chatTemplate().name(),
                     chatTemplate.defaultSystem().empty() ? "" : " (with the model's default system prompt)",
                     session.contextCapacity(), inference->backendName().c_str(),
                     inference->threads(),
                     interactive ? "; /reset /stats /quit, Ctrl-C stops a reply" : "");

        SigintGuard guard;
        LineReader reader;
        StdoutEvents events;
        bool warnedQuit = false;
        for (;;) {
            if (interactive) {
                std::fputs("> ", stdout);
                std::fflush(stdout);
            }
            std::string line;
            const LineReader::Result r = reader.next(line);
            if (r == LineReader::Result::Eof)
                break;
            if (r == LineReader::Result::Interrupted) {
                if (warnedQuit)
                    break;
                warnedQuit = true;
                std::fputs("\n", stdout);
                std::fprintf(stderr, "[Ctrl-C again or /quit to exit]\n");
                continue;
            }
            warnedQuit = false;
            if (line.empty())
                continue;
            if (line == "/quit" || line == "/exit")
                break;
            if (line == "/reset") {
                session.reset();
                std::fprintf(stderr, "[conversation cleared]\n");
                continue;
            }
            if (line == "/stats") {
                printStats(session.lastStats());
                continue;
            }
            if (line[0] == '/') {
                std::fprintf(stderr, "[unknown command %s; commands: /reset /stats /quit]\n", line.c_str());
                continue;
            }
            g_cancel.reset();
            const bq::ChatReply reply = session.send(line, events, g_cancel);
            drainWakePipe(); // a Ctrl-C that stopped this reply is not a Ctrl-C at the next prompt
            std::fputs("\n", stdout);
            std::fflush(stdout);
            if (reply.reason == bq::ChatStopReason::Error) {
                std::fprintf(stderr, "error: %s\n", reply.message.c_str());
                continue;
            }
            if (reply.reason == bq::ChatStopReason::Cancelled)
                std::fprintf(stderr, "[reply stopped]\n");
            else if (reply.reason == bq::ChatStopReason::ContextFull)
                std::fprintf(stderr, "[context full: /reset, or restart with --sliding-window]\n");
            printStats(reply.stats);
        }
        std::fflush(stdout);
    });
}

} // namespace bqcli
