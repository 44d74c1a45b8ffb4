// Placeholder until the chat command lands (being written in this session).
#include "cli/commands.h"
#include <stdexcept>

namespace bqcli {

void registerChat(CLI::App& app)
{
    auto* cmd = app.add_subcommand("chat", "(in development)");
    cmd->callback([] { throw std::runtime_error("chat: not available in this build yet"); });
}

} // namespace bqcli
