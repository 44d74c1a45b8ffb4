#include "bq/bench/quant_bench.h"
#include "bq/jobs/run_job.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/util/errors.h"
#include "bq/util/thread_pool.h"
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sys/resource.h>

namespace bq {

namespace {

using Clock = std::chrono::steady_clock;

double processCpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

std::string cpuName()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "unknown";
}

// Random token ids (uniform over the vocabulary): a synthetic model has no text distribution to follow.
quant::CalibrationSet randomCalibration(const ModelConfig& config, int samples, int seqLen, std::uint64_t seed)
{
    quant::CalibrationSet set;
    set.samples = samples;
    set.seqLen = seqLen;
    std::mt19937_64 rng(seed);
    set.tokens.resize(std::size_t(samples) * std::size_t(seqLen));
    for (std::int32_t& t : set.tokens)
        t = std::int32_t(quant::uniformBelow(rng, std::uint64_t(config.vocabSize)));
    set.windowStarts.assign(std::size_t(samples), 0);
    set.windowDocs.assign(std::size_t(samples), -1);
    set.description = std::to_string(samples) + " × " + std::to_string(seqLen) +
                      " random token ids (uniform, seed " + std::to_string(seed) + ")";
    set.sampling = {{"samples", samples}, {"seq_len", seqLen}, {"seed", seed}, {"sampling", "random-ids"}};
    return set;
}

// Collects the per-layer method and analysis times, forwards everything to the caller's sink.
class TimingSink final : public EventSink {
public:
    explicit TimingSink(EventSink& next) : m_next(next) {}
    void progress(const ProgressEvent& e) override { m_next.progress(e); }
    void layerDone(const LayerResult& r) override
    {
        if (r.method != "fp") {
            methodSeconds += r.seconds;
            if (auto it = r.metrics.find("time.analysis_s"); it != r.metrics.end())
                analysisSeconds += it->second;
        }
        m_next.layerDone(r);
    }
    void blockDone(const BlockResult& r) override { m_next.blockDone(r); }
    void log(LogLevel level, std::string_view text) override { m_next.log(level, text); }
    double methodSeconds = 0, analysisSeconds = 0;

private:
    EventSink& m_next;
};

} // namespace

double blockForwardFlops(const ModelConfig& c, int seqLen)
{
    const double T = seqLen, d = c.dim;
    const double linearWeights = d * (double(c.qDim()) + 2.0 * c.kvDim()) + double(c.qDim()) * d + 3.0 * d * c.hiddenDim;
    // Causal attention: QKᵀ and AV each T²/2 · qDim multiply-adds.
    return 2.0 * T * linearWeights + 2.0 * T * T * double(c.qDim());
}

double measureGemmGflops(int m, int T, int threads, double seconds)
{
    ThreadPool pool(threads);
    const int W = pool.size();
    std::atomic<long long> products{0};
    const auto t0 = Clock::now();
    pool.parallelFor(std::size_t(W), [&](std::size_t, std::size_t, int worker) {
        Eigen::MatrixXf a = Eigen::MatrixXf::Random(T, m), b = Eigen::MatrixXf::Random(T, m);
        Eigen::MatrixXf c(m, m);
        long long n = 0;
        const auto start = Clock::now();
        do {
            // The kernel the Gram accumulation uses (dense_kernels: this CPU's widest SIMD).
            quant::dense::gemm(true, false, m, m, T, 1.0f, a.data(), T, b.data(), T, 0.0f, c.data(), m);
            a(0, 0) += c(worker % m, 0) * 1e-30f; // a data dependence, so no product is skipped
            ++n;
        } while (std::chrono::duration<double>(Clock::now() - start).count() < seconds);
        products += n;
    });
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    return double(products.load()) * 2.0 * double(T) * double(m) * double(m) / wall * 1e-9;
}

JobResult runQuantBench(const QuantBenchRequest& request, QuantBenchReport& report, EventSink& sink,
                        const CancelToken& cancel)
{
    JobResult job;
    job = runJob("", [&]() -> JobResult {
        SyntheticShape shape = syntheticShape(request.shape);
        if (request.blocks > 0)
            shape.config.nLayers = std::min(shape.config.nLayers, request.blocks);
        report = QuantBenchReport{};
        report.shape = shape.name;
        report.method = request.method;
        report.analysis = request.analysis;
        report.cpu = cpuName();
        report.samples = request.samples;
        report.seqLen = request.seqLen;
        report.tokens = std::int64_t(request.samples) * request.seqLen;

        // The GEMM rate first, at the model's width and the window length (the Gram GEMM shape).
        sink.log(LogLevel::Info, "measuring the Eigen GEMM rate");
        const int m = shape.config.dim;
        report.gemmGflopsOneThread = measureGemmGflops(m, request.seqLen, 1, request.gemmProbeSeconds);
        report.gemmGflops = measureGemmGflops(m, request.seqLen, request.threads, request.gemmProbeSeconds);
        cancel.throwIfRequested();

        quant::QuantizeJobRequest qreq;
        qreq.model = makeSyntheticModel(shape);
        qreq.modelPath = ":synthetic:" + shape.name;
        qreq.recipe = quant::builtinRecipe(request.method);
        qreq.recipe.samples = request.samples;
        qreq.recipe.seqLen = request.seqLen;
        qreq.recipe.seed = request.seed;
        qreq.recipe.analysis = request.analysis;
        qreq.calibration = randomCalibration(shape.config, request.samples, request.seqLen, request.seed);
        qreq.threads = request.threads;
        ThreadPool probe(request.threads);
        report.threads = probe.size();

        TimingSink timing(sink);
        const double cpu0 = processCpuSeconds();
        const quant::QuantizeJobResult result = quant::runQuantization(qreq, timing, cancel);
        report.cpuSeconds = processCpuSeconds() - cpu0;
        if (result.job.status != JobStatus::Completed)
            return result.job;

        report.wallSeconds = result.seconds;
        report.gramSeconds = result.gramSeconds;
        report.otherSeconds = result.seconds - result.gramSeconds;
        // The layer jobs' wall time, split in the ratio of the per-layer method and analysis times (those are
        // thread times: layers of a block run on all workers at once).
        report.methodThreadSeconds = timing.methodSeconds;
        report.analysisThreadSeconds = timing.analysisSeconds;
        const double layerThread = timing.methodSeconds + timing.analysisSeconds;
        report.methodSeconds = layerThread > 0 ? result.layerSeconds * timing.methodSeconds / layerThread : 0.0;
        report.analysisSeconds = layerThread > 0 ? result.layerSeconds * timing.analysisSeconds / layerThread : 0.0;
        report.gramFlops = result.gramFlops;
        report.quantizedTensors = result.model ? int(result.model->layers.size()) : 0;
        report.bitsPerWeight = result.estimate.quantizedWeights
                                   ? result.countedBits / double(result.estimate.quantizedWeights)
                                   : 0.0;
        // Block forwards per block: the collection pass and the final pass per stream, plus the re-collection
        // of the down-projection (output-align, recollect_down) or of every group (true_sequential; counted as
        // one pass per later group).
        bool downTwoStreams = false;
        for (const quant::ResolvedTensor& t : result.resolution.tensors)
            if (t.tensor.find("ffn_down") != std::string::npos && t.needsTwoStreams)
                downTwoStreams = true;
        int passes = 2;
        if (qreq.recipe.trueSequential)
            passes += 3;
        else if (qreq.recipe.recollectDown && downTwoStreams)
            passes += 1;
        report.forwardFlops = double(result.estimate.streams) * passes * double(shape.config.nLayers) *
                              double(request.samples) * blockForwardFlops(shape.config, request.seqLen);
        report.gramBoundSeconds = report.gramFlops / (report.gemmGflops * 1e9);
        report.forwardBoundSeconds = report.forwardFlops / (report.gemmGflops * 1e9);
        report.peakRssBytes = result.peakRssBytes;
        report.estimatedPeakBytes = result.estimate.peakBytes;
        job.status = JobStatus::Completed;
        job.message = "quantized " + std::to_string(report.quantizedTensors) + " weight matrices";
        return job;
    });
    return job;
}

nlohmann::json quantBenchJson(const QuantBenchReport& r)
{
    return {{"shape", r.shape},
            {"method", r.method},
            {"analysis", r.analysis},
            {"cpu", r.cpu},
            {"threads", r.threads},
            {"samples", r.samples},
            {"seq_len", r.seqLen},
            {"tokens", r.tokens},
            {"quantized_tensors", r.quantizedTensors},
            {"bits_per_weight", r.bitsPerWeight},
            {"wall_seconds", r.wallSeconds},
            {"cpu_seconds", r.cpuSeconds},
            {"gram_seconds", r.gramSeconds},
            {"other_seconds", r.otherSeconds},
            {"method_seconds", r.methodSeconds},
            {"analysis_seconds", r.analysisSeconds},
            {"method_thread_seconds", r.methodThreadSeconds},
            {"analysis_thread_seconds", r.analysisThreadSeconds},
            {"gemm_path", quant::dense::pathName(quant::dense::bestPath())},
            {"gram_flops", r.gramFlops},
            {"forward_flops", r.forwardFlops},
            {"gemm_gflops_one_thread", r.gemmGflopsOneThread},
            {"gemm_gflops", r.gemmGflops},
            {"gram_bound_seconds", r.gramBoundSeconds},
            {"forward_bound_seconds", r.forwardBoundSeconds},
            {"gram_gflops", r.gramSeconds > 0 ? r.gramFlops / r.gramSeconds * 1e-9 : 0.0},
            {"peak_rss", r.peakRssBytes},
            {"estimated_peak_bytes", r.estimatedPeakBytes}};
}

std::string formatQuantBench(const QuantBenchReport& r)
{
    char buf[2048];
    const double gib = 1024.0 * 1024.0 * 1024.0;
    std::snprintf(buf, sizeof buf,
                  "bench-quant %s on synthetic %s, %d × %d random tokens, %d thread(s), analysis %s\n"
                  "cpu: %s\n"
                  "GEMM (%s, %s): %.1f GFLOP/s on one thread, %.1f GFLOP/s on all workers at once\n"
                  "wall %.1f s, CPU %.1f s (%.2f cores busy), peak RSS %.2f GiB (estimate %.2f GiB)\n"
                  "  Gram accumulation  %8.1f s  %.3g flops -> %.1f GFLOP/s; GEMM bound %.1f s (%.0f%% of it)\n"
                  "  rest               %8.1f s  of which methods %.1f s, analysis %.1f s;\n"
                  "                                block forwards %.3g flops, GEMM bound %.1f s\n"
                  "%d quantized matrices, %.3f bits/weight (counted)\n",
                  r.method.c_str(), r.shape.c_str(), r.samples, r.seqLen, r.threads, r.analysis.c_str(), r.cpu.c_str(),
                  "T × m by T × m", quant::dense::pathName(quant::dense::bestPath()), r.gemmGflopsOneThread, r.gemmGflops, r.wallSeconds, r.cpuSeconds,
                  r.wallSeconds > 0 ? r.cpuSeconds / r.wallSeconds : 0.0, double(r.peakRssBytes) / gib,
                  r.estimatedPeakBytes / gib, r.gramSeconds, r.gramFlops,
                  r.gramSeconds > 0 ? r.gramFlops / r.gramSeconds * 1e-9 : 0.0, r.gramBoundSeconds,
                  r.gramSeconds > 0 ? 100.0 * r.gramBoundSeconds / r.gramSeconds : 0.0, r.otherSeconds,
                  r.methodSeconds, r.analysisSeconds, r.forwardFlops, r.forwardBoundSeconds, r.quantizedTensors,
                  r.bitsPerWeight);
    return buf;
}

} // namespace bq
