// Each bitstudio-cli subcommand registers itself on the application; its options live in the callback's
// closure. Callbacks throw std::exception on failure; main prints the message and exits 1.
#pragma once
#include <CLI/CLI.hpp>

namespace bqcli {

void registerInfo(CLI::App& app);
void registerGenerate(CLI::App& app);
void registerTokenize(CLI::App& app);
void registerPerplexity(CLI::App& app);
void registerCompare(CLI::App& app);
void registerConvert(CLI::App& app);
void registerBench(CLI::App& app);
void registerQuantize(CLI::App& app); // cmd_quantize.cpp
void registerRecipe(CLI::App& app);   // cmd_recipe.cpp (resolve / estimate)
void registerExport(CLI::App& app);   // cmd_export.cpp
void registerChat(CLI::App& app);     // cmd_chat.cpp
void registerBenchQuant(CLI::App& app); // cmd_bench_quant.cpp

} // namespace bqcli
