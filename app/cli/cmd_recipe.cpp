// Placeholder until the recipe command lands (being written in this session).
#include "cli/commands.h"
#include <stdexcept>

namespace bqcli {

void registerRecipe(CLI::App& app)
{
    auto* cmd = app.add_subcommand("recipe", "(in development)");
    cmd->callback([] { throw std::runtime_error("recipe: not available in this build yet"); });
}

} // namespace bqcli
