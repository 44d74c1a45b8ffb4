#include "layer_jobs.h"
#include "bq/quant/methods/method.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <numeric>

namespace bq::quant {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

} // namespace

void LayerQuantizer::run(LayerJob& job) const
{
    const ResolvedTensor& rt = *job.rt;
    const MatrixXfR weight = Eigen::Map<const MatrixXfR>(job.weight, rt.rows, rt.cols);
    const MethodInfo& method = *rt.methodInfo; // resolved once, by resolveRecipe
    LayerStatistics stats;
    if (job.grams) {
        stats.gram = &job.grams->h;
        if (job.grams->hfp.size())
            stats.gramFp = &job.grams->hfp;
        if (job.grams->c.size())
            stats.crossGram = &job.grams->c;
        stats.tokens = m_tokens;
    }
    if (method.needsTwoStreams && (!stats.gramFp || !stats.crossGram))
        throw std::logic_error(rt.tensor + ": method " + rt.method + " needs the FP stream statistics");
    QuantizeRequest req;
    req.weight = &weight;
    req.stats = stats;
    req.options = rt.options;
    req.tensor = rt.tensor;
    req.cancel = &m_cancel;
    MethodDiagnostics diag;
    const auto t0 = Clock::now();
    QuantizedLinear q = method.quantize(req, diag);
    const double seconds = secondsSince(t0);
    q.tensor = rt.tensor;
    q.validate();
    if (q.rows != weight.rows() || q.cols != weight.cols())
        throw std::logic_error(rt.tensor + ": method " + rt.method + " returned a " + std::to_string(q.rows) + " x " +
                               std::to_string(q.cols) + " result");
    job.quantized = q.dequantize();
    for (const std::string& note : diag.notes)
        job.notes.push_back(rt.tensor + ": " + note);
    const auto t1 = Clock::now();
    LayerAnalysis a = analyzeLayer(weight, job.quantized, job.grams ? stats : LayerStatistics{}, &diag, m_analysis,
                                   &m_cancel);
    a.quantizeSeconds = seconds;
    a.analysisSeconds = secondsSince(t1);
    a.rssBytes = currentRssBytes();
    a.peakRssBytes = peakRssBytes();
    LayerResult& out = job.result;
    out.tensor = rt.tensor;
    out.block = rt.block;
    out.method = rt.method;
    out.decidedBy = rt.decidedBy;
    packLayerResult(a, out);
    out.bitsPerWeight = q.storageBitsPerWeight;
    out.seconds = seconds;
    job.params = std::move(q);
}

void LayerQuantizer::runAll(std::vector<LayerJob>& jobs, ThreadPool& pool) const
{
    std::vector<std::size_t> order(jobs.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const auto cost = [&](std::size_t i) { return double(jobs[i].rt->rows) * double(jobs[i].rt->cols); };
        return cost(a) > cost(b);
    });
    std::vector<std::exception_ptr> errors(jobs.size());
    std::atomic<std::size_t> next{0};
    pool.parallelFor(std::size_t(pool.size()), [&](std::size_t, std::size_t, int) {
        for (std::size_t k = next++; k < order.size(); k = next++) {
            try {
                run(jobs[order[k]]);
            } catch (...) {
                errors[order[k]] = std::current_exception();
            }
        }
    });
    for (const std::exception_ptr& error : errors)
        if (error)
            std::rethrow_exception(error);
}

} // namespace bq::quant
