#include "bq/eval/compare.h"
#include "bq/jobs/run_job.h"
#include "bq/runtime/inference.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/progress.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace bq {

namespace {

std::size_t argmax(std::span<const float> x)
{
    return static_cast<std::size_t>(std::max_element(x.begin(), x.end()) - x.begin());
}

// Runs `n` tokens through one model's context and checks the logits it returns.
std::size_t forwardChunk(InferenceContext& ctx, std::span<const std::int32_t> tokens, std::vector<float>& logits,
                         const char* which)
{
    ctx.forward(tokens, true, logits);
    if (logits.empty() || logits.size() % tokens.size() != 0)
        throw std::runtime_error(std::string("model ") + which + " returned " + std::to_string(logits.size()) +
                                 " logits for " + std::to_string(tokens.size()) + " positions");
    return logits.size() / tokens.size();
}

} // namespace

JobResult compareModels(const InferenceModel& a, const InferenceModel& b, const PerplexityRequest& request,
                        CompareResult& result, EventSink& sink, const CancelToken& cancel)
{
    result = {};
    const auto start = std::chrono::steady_clock::now();
    return runJob("compare: ", [&]() -> JobResult {
        const Tokenizer& ta = a.tokenizer();
        const Tokenizer& tb = b.tokenizer();
        if (ta.vocabSize() != tb.vocabSize())
            return {JobStatus::Failed,
                    "the tokenizers differ: vocabulary of " + std::to_string(ta.vocabSize()) + " (model A) vs " +
                        std::to_string(tb.vocabSize()) + " (model B)",
                    {}};
        if (a.config().vocabSize != b.config().vocabSize)
            return {JobStatus::Failed,
                    "the models' vocabularies differ: " + std::to_string(a.config().vocabSize) + " vs " +
                        std::to_string(b.config().vocabSize),
                    {}};
        const int ctx = request.ctx > 0 ? request.ctx : std::min(a.config().maxSeqLen, b.config().maxSeqLen);
        std::vector<std::vector<std::int32_t>> seqs, seqsB;
        if (auto why = buildEvalSequences(ta, request, ctx, seqs, cancel); !why.empty())
            return {JobStatus::Failed, why, {}};
        if (auto why = buildEvalSequences(tb, request, ctx, seqsB, cancel); !why.empty())
            return {JobStatus::Failed, "model B: " + why, {}};
        if (seqs != seqsB) {
            std::size_t s = 0;
            while (s < std::min(seqs.size(), seqsB.size()) && seqs[s] == seqsB[s])
                ++s;
            return {JobStatus::Failed,
                    "the tokenizers differ: they give different token ids on the text (first in sequence " +
                        std::to_string(s) + ")",
                    {}};
        }
        seqsB.clear();

        std::size_t longest = 0;
        std::int64_t totalPredicted = 0;
        for (const auto& s : seqs) {
            longest = std::max(longest, s.size());
            totalPredicted += static_cast<std::int64_t>(s.size()) - 1;
        }
        auto ca = a.newContext(static_cast<int>(longest));
        auto cb = b.newContext(static_cast<int>(longest));
        for (const auto* c : {ca.get(), cb.get()})
            if (!c || c->capacity() < static_cast<int>(longest))
                return {JobStatus::Failed,
                        "sequences of " + std::to_string(longest) + " tokens do not fit model " +
                            (c == ca.get() ? "A" : "B") + "'s context of " +
                            std::to_string(c ? c->capacity() : 0) + " positions",
                        {}};

        // Both models advance in lockstep one chunk at a time, so only a chunk of logits is held for each.
        const int chunk = static_cast<int>(
            std::clamp<long long>(16LL * 1024 * 1024 / std::max(a.config().vocabSize, 1), 1, 512));
        std::vector<float> la, lb;
        double nllA = 0, nllB = 0, klSum = 0;
        std::int64_t predicted = 0, agree = 0;
        ProgressThrottle throttle;
        const int total = static_cast<int>(seqs.size());
        for (int w = 0; w < total; ++w) {
            const auto& seq = seqs[static_cast<std::size_t>(w)];
            const int len = static_cast<int>(seq.size());
            ca->reset();
            cb->reset();
            for (int p0 = 0; p0 < len - 1; p0 += chunk) {
                if (cancel.requested())
                    return {JobStatus::Cancelled, "cancelled", {}};
                const int n = std::min(chunk, len - 1 - p0);
                const std::span<const std::int32_t> toks(seq.data() + p0, static_cast<std::size_t>(n));
                const std::size_t va = forwardChunk(*ca, toks, la, "A");
                if (cancel.requested())
                    return {JobStatus::Cancelled, "cancelled", {}};
                const std::size_t vb = forwardChunk(*cb, toks, lb, "B");
                if (va != vb)
                    throw std::runtime_error("the models return " + std::to_string(va) + " and " +
                                             std::to_string(vb) + " logits per position");
                for (int j = 0; j < n; ++j) {
                    const auto target = static_cast<std::size_t>(seq[static_cast<std::size_t>(p0 + j + 1)]);
                    if (target >= va)
                        throw std::runtime_error("token id " + std::to_string(target) +
                                                 " is outside the models' vocabulary of " + std::to_string(va));
                    const std::span<const float> ra(la.data() + static_cast<std::size_t>(j) * va, va);
                    const std::span<const float> rb(lb.data() + static_cast<std::size_t>(j) * va, va);
                    const double lseA = logSumExp(ra), lseB = logSumExp(rb);
                    nllA += lseA - static_cast<double>(ra[target]);
                    nllB += lseB - static_cast<double>(rb[target]);
                    // KL(P_a || P_b) = Σ p_a (log p_a − log p_b), with log p = logit − lse.
                    double kl = 0;
                    for (std::size_t i = 0; i < va; ++i) {
                        const double lpa = static_cast<double>(ra[i]) - lseA;
                        const double lpb = static_cast<double>(rb[i]) - lseB;
                        kl += std::exp(lpa) * (lpa - lpb);
                    }
                    klSum += kl;
                    agree += argmax(ra) == argmax(rb) ? 1 : 0;
                }
                predicted += n;
            }
            if (throttle.shouldEmit(w + 1, total)) {
                ProgressEvent ev;
                ev.stage = Stage::Evaluate;
                ev.step = w + 1;
                ev.stepCount = total;
                ev.elapsedSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                ev.etaSec = ev.elapsedSec * static_cast<double>(totalPredicted - predicted) /
                            static_cast<double>(predicted);
                ev.rssBytes = currentRssBytes();
                sink.progress(ev);
            }
        }
        const double np = static_cast<double>(predicted);
        result.kl = klSum / np;
        result.top1Agreement = static_cast<double>(agree) / np;
        for (auto [r, nll] : {std::pair{&result.a, nllA}, std::pair{&result.b, nllB}}) {
            r->tokens = predicted;
            r->sequences = total;
            r->meanNll = nll / np;
            r->ppl = std::exp(r->meanNll);
        }
        sink.log(LogLevel::Info, "KL " + std::to_string(result.kl) + " nats, top-1 agreement " +
                                     std::to_string(result.top1Agreement) + ", perplexity " +
                                     std::to_string(result.a.ppl) + " vs " + std::to_string(result.b.ppl) +
                                     " over " + std::to_string(predicted) + " predicted tokens");
        return {};
    });
}

} // namespace bq
