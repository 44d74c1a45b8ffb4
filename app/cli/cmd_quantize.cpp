// Placeholder until the quantize command lands (being written in this session).
#include "cli/commands.h"
#include <stdexcept>

namespace bqcli {

void registerQuantize(CLI::App& app)
{
    auto* cmd = app.add_subcommand("quantize", "(in development)");
    cmd->callback([] { throw std::runtime_error("quantize: not available in this build yet"); });
}

} // namespace bqcli
