#include "bq/eval/perplexity.h"
#include "bq/jobs/run_job.h"
#include "bq/runtime/inference.h"
#include "bq/tokenizer/documents.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/progress.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace bq {

namespace {

// Prefill chunk: bounds the logits buffer to ~128 MB whatever the vocabulary (128k vocab → 256 tokens).
int chunkTokens(int vocab)
{
    const long long budget = 32LL * 1024 * 1024; // floats
    return static_cast<int>(std::clamp<long long>(budget / std::max(vocab, 1), 1, 512));
}

} // namespace


double logSumExp(std::span<const float> x) noexcept
{
    if (x.empty())
        return -std::numeric_limits<double>::infinity();
    double m = -std::numeric_limits<double>::infinity();
    for (float v : x)
        m = std::max(m, static_cast<double>(v));
    if (!std::isfinite(m))
        return m;
    double s = 0;
    for (float v : x)
        s += std::exp(static_cast<double>(v) - m);
    return m + std::log(s);
}

std::string buildEvalSequences(const Tokenizer& tokenizer, const PerplexityRequest& request, int ctx,
                               std::vector<std::vector<std::int32_t>>& sequences, const CancelToken& cancel)
{
    sequences.clear();
    if (ctx < 2)
        return "context of " + std::to_string(ctx) + " tokens is too short (need at least 2)";
    EncodeOptions opts;
    opts.addBos = request.addBos && tokenizer.addsBosByDefault();

    if (request.mode == PerplexityMode::Windows) {
        const std::vector<std::int32_t> tokens = tokenizer.encode(request.text, opts);
        const std::size_t n = tokens.size() / static_cast<std::size_t>(ctx);
        if (n == 0)
            return "text has " + std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                   std::to_string(ctx);
        const std::size_t begin = static_cast<std::size_t>(std::max(0, request.windowBegin));
        const std::size_t end = request.windowEnd < 0 ? n : std::min(n, static_cast<std::size_t>(request.windowEnd));
        if (begin >= end)
            return "window range " + std::to_string(request.windowBegin) + ":" +
                   (request.windowEnd < 0 ? std::string() : std::to_string(request.windowEnd)) + " is empty: the text has " +
                   std::to_string(n) + " windows of " + std::to_string(ctx) + " tokens";
        sequences.reserve(end - begin);
        for (std::size_t i = begin; i < end; ++i)
            sequences.emplace_back(tokens.begin() + static_cast<std::ptrdiff_t>(i * ctx),
                                   tokens.begin() + static_cast<std::ptrdiff_t>((i + 1) * ctx));
        return {};
    }

    const std::vector<std::string> docs = splitDocuments(request.text);
    const int count = static_cast<int>(docs.size());
    const int begin = request.docBegin;
    const int end = request.docEnd < 0 ? count : std::min(request.docEnd, count);
    if (begin < 0 || begin >= end)
        return "document range " + std::to_string(request.docBegin) + ":" + std::to_string(request.docEnd) +
               " selects nothing; the text has " + std::to_string(count) + " documents";
    for (int i = begin; i < end; ++i) {
        cancel.throwIfRequested();
        std::vector<std::int32_t> ids = tokenizer.encode(docs[static_cast<std::size_t>(i)], opts);
        if (ids.size() > static_cast<std::size_t>(ctx))
            ids.resize(static_cast<std::size_t>(ctx));
        if (ids.size() >= 2)
            sequences.push_back(std::move(ids));
    }
    if (sequences.empty())
        return "documents " + std::to_string(begin) + ":" + std::to_string(end) +
               " have no document of two or more tokens to score";
    return {};
}

JobResult evaluatePerplexity(const InferenceModel& model, const PerplexityRequest& request,
                             PerplexityResult& result, EventSink& sink, const CancelToken& cancel)
{
    result = {};
    const auto start = std::chrono::steady_clock::now();
    return runJob("perplexity: ", [&]() -> JobResult {
        const int ctx = request.ctx > 0 ? request.ctx : model.config().maxSeqLen;
        std::vector<std::vector<std::int32_t>> seqs;
        if (auto why = buildEvalSequences(model.tokenizer(), request, ctx, seqs, cancel); !why.empty())
            return {JobStatus::Failed, why, {}};

        std::size_t longest = 0;
        std::int64_t totalPredicted = 0;
        for (const auto& s : seqs) {
            longest = std::max(longest, s.size());
            totalPredicted += static_cast<std::int64_t>(s.size()) - 1;
        }
        auto context = model.newContext(static_cast<int>(longest));
        if (!context || context->capacity() < static_cast<int>(longest))
            return {JobStatus::Failed,
                    "sequences of " + std::to_string(longest) + " tokens do not fit the model context of " +
                        std::to_string(context ? context->capacity() : 0) + " positions",
                    {}};

        const int chunk = chunkTokens(model.config().vocabSize);
        std::vector<float> logits;
        double nllSum = 0;
        std::int64_t predicted = 0;
        ProgressThrottle throttle;
        const int total = static_cast<int>(seqs.size());
        for (int w = 0; w < total; ++w) {
            if (cancel.requested())
                return {JobStatus::Cancelled, "cancelled", {}};
            const auto& seq = seqs[static_cast<std::size_t>(w)];
            const int len = static_cast<int>(seq.size());
            context->reset(); // a fresh sequence: no state carried between windows
            for (int p0 = 0; p0 < len - 1; p0 += chunk) {
                if (cancel.requested())
                    return {JobStatus::Cancelled, "cancelled", {}};
                // The last token is only ever a target, so it is never fed.
                const int n = std::min(chunk, len - 1 - p0);
                context->forward(std::span<const std::int32_t>(seq.data() + p0, static_cast<std::size_t>(n)),
                                 true, logits);
                if (logits.size() % static_cast<std::size_t>(n) != 0 || logits.empty())
                    throw std::runtime_error("the back-end returned " + std::to_string(logits.size()) +
                                             " logits for " + std::to_string(n) + " positions");
                const std::size_t vocab = logits.size() / static_cast<std::size_t>(n);
                for (int j = 0; j < n; ++j) {
                    const std::int32_t target = seq[static_cast<std::size_t>(p0 + j + 1)];
                    if (target < 0 || static_cast<std::size_t>(target) >= vocab)
                        throw std::runtime_error("token id " + std::to_string(target) +
                                                 " is outside the model's vocabulary of " + std::to_string(vocab));
                    const std::span<const float> row(logits.data() + static_cast<std::size_t>(j) * vocab, vocab);
                    nllSum += logSumExp(row) - static_cast<double>(row[static_cast<std::size_t>(target)]);
                }
                predicted += n;
            }
            if (throttle.shouldEmit(w + 1, total)) {
                ProgressEvent ev;
                ev.stage = Stage::Evaluate;
                ev.step = w + 1;
                ev.stepCount = total;
                ev.elapsedSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                ev.etaSec = predicted > 0 ? ev.elapsedSec * static_cast<double>(totalPredicted - predicted) /
                                                static_cast<double>(predicted)
                                          : -1;
                ev.rssBytes = currentRssBytes();
                sink.progress(ev);
            }
        }
        result.tokens = predicted;
        result.sequences = total;
        result.meanNll = nllSum / static_cast<double>(predicted);
        result.ppl = std::exp(result.meanNll);
        sink.log(LogLevel::Info, "perplexity " + std::to_string(result.ppl) + " over " +
                                     std::to_string(predicted) + " predicted tokens in " + std::to_string(total) +
                                     (request.mode == PerplexityMode::Windows ? " windows" : " documents"));
        return {};
    });
}

} // namespace bq
