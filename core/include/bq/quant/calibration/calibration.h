// Calibration samples for the sequential quantization driver (methods.md §2.2): N windows of L tokens drawn
// with a seeded generator from one or more text files. The exact token ids are kept (they go in the run file),
// so a run is reproducible bit for bit even when the text or the tokenizer changes later.
//
// Sampling modes:
//  - Concat (default; the WikiText-2 variant of the reference scripts): every document of every source is
//    encoded as [BOS] + tokens (BOS when the tokenizer adds one by default), the encodings are concatenated
//    into one stream, and each window starts at a uniform position in [0, total − L].
//  - Documents (the reference C4 protocol): repeat { pick a uniform document; if it has MORE than L tokens,
//    take a uniform window [i, i + L) with i in [0, len − L − 1] } — documents too short are redrawn.
// Random numbers: std::mt19937_64 (its output sequence is fixed by the C++ standard) and our own unbiased
// rejection sampling for integers (std::uniform_int_distribution is implementation-defined), so the windows
// are the same on every platform and compiler.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace bq {
class Tokenizer;
class CancelToken;
}

namespace bq::quant {

enum class CalibrationSampling : std::uint8_t { Concat, Documents };
const char* calibrationSamplingName(CalibrationSampling s) noexcept;
// "concat" | "documents"; throws std::invalid_argument otherwise.
CalibrationSampling parseCalibrationSampling(const std::string& name);

// One text source: a file (read when `text` is empty) restricted to the blank-line separated documents
// [docBegin, docEnd) (docEnd = -1: all).
struct CalibrationSource {
    std::filesystem::path path;
    std::string text;
    int docBegin = 0, docEnd = -1;
};

struct CalibrationOptions {
    int samples = 128;
    int seqLen = 2048;
    std::uint64_t seed = 0;
    CalibrationSampling sampling = CalibrationSampling::Concat;
};

struct CalibrationSet {
    int samples = 0, seqLen = 0;
    std::vector<std::int32_t> tokens;       // samples × seqLen, row-major
    std::vector<std::int64_t> windowStarts; // start of each window in its stream or document
    std::vector<std::int32_t> windowDocs;   // Documents mode: the document each window came from; else -1
    std::string description;                // human-readable provenance (sources, mode, seed)
    nlohmann::json sampling;                // samples, seq_len, seed, sampling, sources (run file /meta)

    std::span<const std::int32_t> sample(int s) const
    {
        return {tokens.data() + std::size_t(s) * std::size_t(seqLen), std::size_t(seqLen)};
    }
    // fingerprint.h calibrationFingerprint over the windows and the sampling parameters.
    std::string fingerprint() const;
};

// Uniform integer in [0, n) from the generator by rejection (no modulo bias); n ≥ 1.
std::uint64_t uniformBelow(std::mt19937_64& rng, std::uint64_t n);

// Draws windows from one token stream (Concat mode). Throws std::invalid_argument when the stream is
// shorter than seqLen.
CalibrationSet sampleStreamWindows(const std::vector<std::int32_t>& stream, const CalibrationOptions& options);
// Documents mode over pre-encoded documents. Throws std::invalid_argument when no document has more than
// seqLen tokens.
CalibrationSet sampleDocumentWindows(const std::vector<std::vector<std::int32_t>>& documents,
                                     const CalibrationOptions& options);

// Reads and encodes the sources, then samples. Throws std::runtime_error naming the file when it cannot be
// read, std::invalid_argument when the text is too short; bq::Cancelled when cancel is set (checked per
// document).
CalibrationSet buildCalibration(const Tokenizer& tokenizer, const std::vector<CalibrationSource>& sources,
                                const CalibrationOptions& options, const CancelToken* cancel = nullptr);

} // namespace bq::quant
