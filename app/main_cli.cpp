// bitstudio-cli: the command-line front end over bq_core (no Qt).
#include "cli/commands.h"
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

namespace {

// The files named on the command line (the arguments that exist on disk): what was being opened or read.
std::string inputFiles(int argc, char** argv)
{
    std::string out;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        if (argv[i][0] != '-' && std::filesystem::exists(argv[i], ec))
            out += (out.empty() ? "" : ", ") + std::string(argv[i]);
    }
    return out.empty() ? "the command's inputs" : out;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"bitstudio-cli — 1-bit post-training quantization of LLMs, on the command line"};
    app.set_version_flag("--version", "bitstudio-cli " BQ_VERSION);
    app.require_subcommand(1);
    bqcli::registerInfo(app);
    bqcli::registerGenerate(app);
    bqcli::registerTokenize(app);
    bqcli::registerPerplexity(app);
    bqcli::registerCompare(app);
    bqcli::registerConvert(app);
    bqcli::registerBench(app);
    bqcli::registerQuantize(app);
    bqcli::registerRecipe(app);
    bqcli::registerExport(app);
    bqcli::registerChat(app);
    bqcli::registerBenchQuant(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::bad_alloc&) {
        std::fflush(stdout);
        std::fprintf(stderr, "error: out of memory while reading %s\n", inputFiles(argc, argv).c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
