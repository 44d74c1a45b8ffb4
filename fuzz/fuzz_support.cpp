#include "fuzz_support.h"

#include <fstream>
#include <unistd.h>

namespace bqfuzz {
namespace {

// Created on first use and removed at exit. The path lives on the heap (never freed), so the atexit handler
// cannot outlive it: a function-local static would be destroyed before the handler runs.
const std::filesystem::path& scratchDir()
{
    static const std::filesystem::path* dir = [] {
        auto* d = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                            ("bitstudio-fuzz-" + std::to_string(static_cast<long>(getpid()))));
        std::filesystem::create_directories(*d);
        return d;
    }();
    static const bool cleanup = [] {
        return std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(*dir, ec);
        }) == 0;
    }();
    (void)cleanup;
    return *dir;
}

} // namespace

std::filesystem::path writeScratch(const std::string& name, const std::uint8_t* data, std::size_t size)
{
    const std::filesystem::path p = scratchDir() / name;
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    f.close();
    if (!f) {
        std::fprintf(stderr, "fuzz: cannot write the scratch file %s\n", p.c_str());
        std::abort();
    }
    return p;
}

void undocumented(const char* type, const char* what)
{
    std::fprintf(stderr, "fuzz: FINDING: the reader threw an undocumented exception type %s: %s\n", type, what);
    std::abort();
}

void refused(const char* what)
{
    static const bool verbose = std::getenv("BQ_FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "fuzz: refused: %s\n", what);
}

void exerciseTokenizer(const bq::Tokenizer& tokenizer)
{
    const auto ids = tokenizer.encode("Once upon a time, 42 caf\xc3\xa9s \xe2\x96\x81<s> \xf0\x9f\x98\x80!\n");
    (void)tokenizer.decode(ids);
    (void)tokenizer.decode(ids, true);
    const std::int32_t n = tokenizer.vocabSize();
    for (std::int32_t id : {0, 1, 2, n - 1}) {
        if (id < 0 || id >= n)
            continue;
        (void)tokenizer.piece(id);
        (void)tokenizer.decodeToken(-1, id, true);
    }
}

} // namespace bqfuzz
