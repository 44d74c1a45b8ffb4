#include "bq/quant/calibration/calibration.h"
#include "bq/tokenizer/documents.h"
#include "bq/jobs/job.h"
#include "bq/quant/run/fingerprint.h"
#include "bq/tokenizer/tokenizer.h"
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace bq::quant {

const char* calibrationSamplingName(CalibrationSampling s) noexcept
{
    return s == CalibrationSampling::Documents ? "documents" : "concat";
}

CalibrationSampling parseCalibrationSampling(const std::string& name)
{
    if (name == "concat")
        return CalibrationSampling::Concat;
    if (name == "documents")
        return CalibrationSampling::Documents;
    throw std::invalid_argument("calibration sampling '" + name + "': expected \"concat\" or \"documents\"");
}

std::string CalibrationSet::fingerprint() const
{
    return calibrationFingerprint(samples, seqLen, tokens, sampling);
}

std::uint64_t uniformBelow(std::mt19937_64& rng, std::uint64_t n)
{
    if (n == 0)
        throw std::invalid_argument("uniformBelow: empty range");
    // Largest multiple of n that fits in 2^64: accept draws below it, so every residue is equally likely.
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    for (;;) {
        const std::uint64_t x = rng();
        if (x < limit)
            return x % n;
    }
}

namespace {

// Only the parameters go into the fingerprint (the token ids cover the text); paths would break resume from
// another working directory.
nlohmann::json samplingJson(const CalibrationOptions& o)
{
    return {{"samples", o.samples}, {"seq_len", o.seqLen}, {"seed", o.seed},
            {"sampling", calibrationSamplingName(o.sampling)}};
}

void checkOptions(const CalibrationOptions& o)
{
    if (o.samples <= 0 || o.seqLen <= 1)
        throw std::invalid_argument("calibration: need samples ≥ 1 and seq_len ≥ 2 (got " + std::to_string(o.samples) +
                                    " × " + std::to_string(o.seqLen) + ")");
}

} // namespace

CalibrationSet sampleStreamWindows(const std::vector<std::int32_t>& stream, const CalibrationOptions& options)
{
    checkOptions(options);
    if (stream.size() < std::size_t(options.seqLen))
        throw std::invalid_argument("calibration: the text has " + std::to_string(stream.size()) +
                                    " tokens, fewer than one window of " + std::to_string(options.seqLen) +
                                    " (use more text or a smaller --seqlen)");
    CalibrationSet set;
    set.samples = options.samples;
    set.seqLen = options.seqLen;
    set.tokens.reserve(std::size_t(options.samples) * std::size_t(options.seqLen));
    set.sampling = samplingJson(options);
    std::mt19937_64 rng(options.seed);
    const std::uint64_t starts = stream.size() - std::size_t(options.seqLen) + 1;
    for (int s = 0; s < options.samples; ++s) {
        const std::uint64_t i = uniformBelow(rng, starts);
        set.windowStarts.push_back(std::int64_t(i));
        set.windowDocs.push_back(-1);
        set.tokens.insert(set.tokens.end(), stream.begin() + std::ptrdiff_t(i),
                          stream.begin() + std::ptrdiff_t(i) + options.seqLen);
    }
    return set;
}

CalibrationSet sampleDocumentWindows(const std::vector<std::vector<std::int32_t>>& documents,
                                     const CalibrationOptions& options)
{
    checkOptions(options);
    bool any = false;
    for (const auto& d : documents)
        any = any || d.size() > std::size_t(options.seqLen);
    if (!any)
        throw std::invalid_argument("calibration (documents mode): no document has more than " +
                                    std::to_string(options.seqLen) +
                                    " tokens; use --calib-sampling concat or a smaller --seqlen");
    CalibrationSet set;
    set.samples = options.samples;
    set.seqLen = options.seqLen;
    set.sampling = samplingJson(options);
    std::mt19937_64 rng(options.seed);
    for (int s = 0; s < options.samples; ++s) {
        for (;;) {
            const auto d = std::size_t(uniformBelow(rng, documents.size()));
            const auto& doc = documents[d];
            if (doc.size() <= std::size_t(options.seqLen))
                continue; // the reference redraws documents that are not longer than a window
            const std::uint64_t i = uniformBelow(rng, doc.size() - std::size_t(options.seqLen));
            set.windowStarts.push_back(std::int64_t(i));
            set.windowDocs.push_back(std::int32_t(d));
            set.tokens.insert(set.tokens.end(), doc.begin() + std::ptrdiff_t(i),
                              doc.begin() + std::ptrdiff_t(i) + options.seqLen);
            break;
        }
    }
    return set;
}

CalibrationSet buildCalibration(const Tokenizer& tokenizer, const std::vector<CalibrationSource>& sources,
                                const CalibrationOptions& options, const CancelToken* cancel)
{
    checkOptions(options);
    if (sources.empty())
        throw std::invalid_argument("calibration: no text source given (--calib FILE)");
    EncodeOptions enc;
    enc.addBos = tokenizer.addsBosByDefault() && tokenizer.bosId() >= 0;
    std::vector<std::vector<std::int32_t>> documents;
    std::string described;
    for (const CalibrationSource& src : sources) {
        std::string text = src.text;
        if (text.empty()) {
            std::ifstream f(src.path, std::ios::binary);
            if (!f)
                throw std::runtime_error(src.path.string() + ": cannot open the calibration text");
            std::stringstream ss;
            ss << f.rdbuf();
            text = ss.str();
        }
        const std::vector<std::string> docs = splitDocuments(text);
        const int begin = std::max(0, src.docBegin);
        const int end = src.docEnd < 0 ? int(docs.size()) : std::min(src.docEnd, int(docs.size()));
        if (begin >= end)
            throw std::invalid_argument((src.path.empty() ? std::string("calibration text") : src.path.string()) +
                                        ": document range [" + std::to_string(src.docBegin) + ", " +
                                        std::to_string(src.docEnd) + ") selects nothing (it has " +
                                        std::to_string(docs.size()) + " documents)");
        for (int d = begin; d < end; ++d) {
            if (cancel)
                cancel->throwIfRequested();
            documents.push_back(tokenizer.encode(docs[std::size_t(d)], enc));
        }
        if (!described.empty())
            described += ", ";
        described += (src.path.empty() ? std::string("<text>") : src.path.filename().string()) + " docs [" +
                     std::to_string(begin) + ", " + std::to_string(end) + ")";
    }
    CalibrationSet set;
    if (options.sampling == CalibrationSampling::Documents) {
        set = sampleDocumentWindows(documents, options);
    } else {
        std::vector<std::int32_t> stream;
        for (const auto& d : documents)
            stream.insert(stream.end(), d.begin(), d.end());
        set = sampleStreamWindows(stream, options);
    }
    set.description = std::to_string(options.samples) + " × " + std::to_string(options.seqLen) + " tokens, " +
                      calibrationSamplingName(options.sampling) + " sampling, seed " + std::to_string(options.seed) +
                      ", from " + described;
    return set;
}

} // namespace bq::quant
