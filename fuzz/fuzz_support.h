// Shared by the libFuzzer targets (fuzz/README section of the top-level README): a scratch file per process for
// readers that only take a path, a short text to run a parsed tokenizer on, and the one rule every target
// checks — a reader either succeeds or throws one of the project's documented exceptions (bq::FormatError,
// bq::UnsupportedModel, plus the target's own documented type). Any other exception aborts with its type and
// message, so libFuzzer records it as a crash like a sanitizer report or a signal would be.
#pragma once
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/errors.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <typeinfo>

namespace bqfuzz {

// $TMPDIR/bitstudio-fuzz-<pid>/<name>, holding exactly data[0..size) (the directory goes away at exit).
std::filesystem::path writeScratch(const std::string& name, const std::uint8_t* data, std::size_t size);

[[noreturn]] void undocumented(const char* type, const char* what);
// BQ_FUZZ_VERBOSE=1: print every refusal (to see what a corpus file exercises: fuzz_gguf -runs=0 DIR).
void refused(const char* what);

// Runs fn; returns normally when it succeeds or throws FormatError, UnsupportedModel or one of Allowed.
template <typename... Allowed, typename Fn>
void expectCleanRefusal(Fn&& fn)
{
    try {
        fn();
    } catch (const bq::FormatError& e) {
        refused(e.what());
    } catch (const bq::UnsupportedModel& e) {
        refused(e.what());
    } catch (const std::exception& e) {
        if ((... || (dynamic_cast<const Allowed*>(&e) != nullptr))) {
            refused(e.what());
            return;
        }
        undocumented(typeid(e).name(), e.what());
    } catch (...) {
        undocumented("(not a std::exception)", "");
    }
}

// Encodes and decodes a short mixed text (spaces, digits, punctuation, multi-byte UTF-8, a newline) with a
// tokenizer a reader accepted: a vocabulary that loads must also be usable.
void exerciseTokenizer(const bq::Tokenizer& tokenizer);

} // namespace bqfuzz
