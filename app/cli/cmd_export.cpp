// Placeholder until the export command lands (being written in this session).
#include "cli/commands.h"
#include <stdexcept>

namespace bqcli {

void registerExport(CLI::App& app)
{
    auto* cmd = app.add_subcommand("export", "(in development)");
    cmd->callback([] { throw std::runtime_error("export: not available in this build yet"); });
}

} // namespace bqcli
