#include "bq/bench/bench.h"
#include "bq/jobs/run_job.h"
#include "bq/bench/bandwidth.h"
#include "bq/runtime/inference.h"
#include "bq/util/cpu_features.h"
#include "bq/util/errors.h"
#include "bq/util/progress.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace bq {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// Best of the repeats: slow outliers (other load, VM placement) only ever make a run slower.
double best(const std::vector<double>& v)
{
    return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string cpuModelName()
{
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                auto name = line.substr(colon + 1);
                name.erase(0, name.find_first_not_of(" \t"));
                return name;
            }
        }
    }
    return "unknown";
}

std::string shapeOf(const ModelConfig& c)
{
    return c.arch + " " + std::to_string(c.nLayers) + "L d" + std::to_string(c.dim) + " v" +
           std::to_string(c.vocabSize);
}

// Deterministic, spread over the vocabulary, never id 0 (often <unk>).
std::int32_t benchToken(int i, int vocab)
{
    if (vocab <= 1)
        return 0;
    return static_cast<std::int32_t>(1 + (static_cast<long long>(i) * 7919 + 17) % (vocab - 1));
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string padLeft(const std::string& s, std::size_t w)
{
    return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

std::string padRight(const std::string& s, std::size_t w)
{
    return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

} // namespace

std::uint64_t kvBytesPerPosition(const ModelConfig& config, int elementBytes)
{
    return 2ull * static_cast<std::uint64_t>(std::max(config.nLayers, 0)) *
           static_cast<std::uint64_t>(std::max(config.kvDim(), 0)) * static_cast<std::uint64_t>(std::max(elementBytes, 0));
}

JobResult runBench(const BenchRequest& request, BenchReport& report, EventSink& sink, const CancelToken& cancel)
{
    report = {};
    const auto start = Clock::now();
    return runJob("bench: ", [&]() -> JobResult {
        if (request.models.empty())
            return {JobStatus::Failed, "bench: no model to measure", {}};
        for (const auto& m : request.models)
            if (!m)
                return {JobStatus::Failed, "bench: a model slot is empty", {}};
        if (request.promptTokens < 1 || request.decodeTokens < 0 || request.repeats < 1)
            return {JobStatus::Failed,
                    "bench: need promptTokens >= 1, decodeTokens >= 0 and repeats >= 1 (got " +
                        std::to_string(request.promptTokens) + ", " + std::to_string(request.decodeTokens) +
                        ", " + std::to_string(request.repeats) + ")",
                    {}};

        report.cpu = cpuModelName();
        report.isa = cpuFeatures().summary();
        report.threads = request.threads > 0 ? request.threads : request.models.front()->threads();
        report.promptTokens = request.promptTokens;
        report.decodeTokens = request.decodeTokens;
        report.repeats = request.repeats;

        const double probeBefore =
            request.measureBandwidth ? measureReadBandwidthGBs(report.threads, request.bandwidthBytes, 10) : 0.0;
        const int P = request.promptTokens, D = request.decodeTokens;
        const int runs = static_cast<int>(request.models.size()) * request.repeats;
        int run = 0;
        ProgressThrottle throttle;
        std::vector<float> logits;
        for (std::size_t mi = 0; mi < request.models.size(); ++mi) {
            const auto& model = request.models[mi];
            const ModelConfig& cfg = model->config();
            auto ctx = model->newContext(P + D);
            if (!ctx || ctx->capacity() < P + D)
                return {JobStatus::Failed,
                        "bench: the " + model->backendName() + " model holds " +
                            std::to_string(ctx ? ctx->capacity() : 0) + " positions; " + std::to_string(P) +
                            " prompt + " + std::to_string(D) + " decode tokens need " + std::to_string(P + D),
                        {}};
            std::vector<std::int32_t> prompt(static_cast<std::size_t>(P));
            for (int i = 0; i < P; ++i)
                prompt[static_cast<std::size_t>(i)] = benchToken(i, cfg.vocabSize);

            BenchRow row;
            row.backend = model->backendName();
            if (mi < request.notes.size())
                row.note = request.notes[mi];
            if (mi < request.kernels.size())
                row.kernels = request.kernels[mi];
            row.shape = shapeOf(cfg);
            row.weightBytesPerToken = model->weightBytesPerToken();
            // Decode step at position p attends to p + 1 cached positions, p = P .. P+D-1: mean P + (D+1)/2.
            row.kvBytesPerToken = D > 0 ? static_cast<std::uint64_t>(
                                              static_cast<double>(kvBytesPerPosition(
                                                  cfg, mi < request.kvElementBytesPerModel.size()
                                                           ? request.kvElementBytesPerModel[mi]
                                                           : request.kvElementBytes)) *
                                              (P + (D + 1) / 2.0))
                                        : 0;

            // Warm-up: one token pages the weights in (every weight is read once per token).
            if (cancel.requested())
                return {JobStatus::Cancelled, "cancelled", {}};
            ctx->forward(std::span<const std::int32_t>(prompt.data(), 1), false, logits);

            std::vector<double> prefill, decode;
            for (int r = 0; r < request.repeats; ++r) {
                if (cancel.requested())
                    return {JobStatus::Cancelled, "cancelled", {}};
                ctx->reset();
                const auto t0 = Clock::now();
                ctx->forward(prompt, false, logits);
                const auto t1 = Clock::now();
                prefill.push_back(P / std::max(seconds(t0, t1), 1e-9));
                row.peakRss = std::max(row.peakRss, currentRssBytes());
                if (D > 0) {
                    const auto d0 = Clock::now();
                    for (int i = 0; i < D; ++i) {
                        if (cancel.requested())
                            return {JobStatus::Cancelled, "cancelled", {}};
                        const std::int32_t tok = benchToken(P + i, cfg.vocabSize);
                        ctx->forward(std::span<const std::int32_t>(&tok, 1), false, logits);
                    }
                    decode.push_back(D / std::max(seconds(d0, Clock::now()), 1e-9));
                    row.peakRss = std::max(row.peakRss, currentRssBytes());
                }
                ++run;
                if (throttle.shouldEmit(run, runs)) {
                    ProgressEvent ev;
                    ev.stage = Stage::Bench;
                    ev.step = run;
                    ev.stepCount = runs;
                    ev.elapsedSec = seconds(start, Clock::now());
                    ev.etaSec = ev.elapsedSec * (runs - run) / run;
                    ev.rssBytes = currentRssBytes();
                    sink.progress(ev);
                }
            }
            row.prefillTokS = best(prefill);
            row.decodeTokS = best(decode);
            row.prefillMedianTokS = median(prefill);
            row.decodeMedianTokS = median(decode);
            report.rows.push_back(std::move(row));
        }

        if (request.measureBandwidth) {
            if (cancel.requested())
                return {JobStatus::Cancelled, "cancelled", {}};
            // Probe before the models too: the best of both (the host's bandwidth moves with its other tenants).
            report.bandwidthProbeGBs =
                std::max(probeBefore, measureReadBandwidthGBs(report.threads, request.bandwidthBytes, 10));
            if (report.bandwidthProbeGBs <= 0)
                sink.log(LogLevel::Warning, "bench: the bandwidth probe could not allocate its buffer");
            // A decode that streamed its weights faster than the probe proves the machine can: the roofline
            // uses the higher of the two, so no share exceeds 100 % because of a pessimistic probe.
            report.bandwidthGBs = report.bandwidthProbeGBs;
            for (const auto& row : report.rows) {
                const double streamed = row.decodeTokS * static_cast<double>(row.weightBytesPerToken + row.kvBytesPerToken) / 1e9;
                if (streamed > report.bandwidthGBs) {
                    report.bandwidthGBs = streamed;
                    report.bandwidthSource = row.backend + " decode";
                }
            }
        } else {
            report.bandwidthGBs = request.bandwidthGBs;
        }
        for (auto& row : report.rows) {
            const double bytes = static_cast<double>(row.weightBytesPerToken + row.kvBytesPerToken);
            if (report.bandwidthGBs > 0 && bytes > 0) {
                row.rooflineTokS = report.bandwidthGBs * 1e9 / bytes;
                row.rooflineShare = row.decodeTokS / row.rooflineTokS;
            }
        }
        report.peakRss = peakRssBytes();
        sink.log(LogLevel::Info, formatBenchTable(report));
        return {};
    });
}

std::string benchReportJson(const BenchReport& report)
{
    nlohmann::json j;
    j["bandwidth_gbs"] = report.bandwidthGBs;
    j["bandwidth_probe_gbs"] = report.bandwidthProbeGBs;
    j["bandwidth_source"] = report.bandwidthSource;
    j["cpu"] = report.cpu;
    j["isa"] = report.isa;
    j["threads"] = report.threads;
    j["prompt_tokens"] = report.promptTokens;
    j["decode_tokens"] = report.decodeTokens;
    j["repeats"] = report.repeats;
    j["rows"] = nlohmann::json::array();
    for (const auto& r : report.rows) {
        j["rows"].push_back({{"backend", r.backend},
                             {"shape", r.shape},
                             {"prefill_tok_s", r.prefillTokS},
                             {"decode_tok_s", r.decodeTokS},
                             {"prefill_tok_s_median", r.prefillMedianTokS},
                             {"decode_tok_s_median", r.decodeMedianTokS},
                             {"note", r.note},
                             {"kernels", r.kernels},
                             {"weight_bytes_per_token", r.weightBytesPerToken},
                             {"kv_bytes_per_token", r.kvBytesPerToken},
                             {"roofline_tok_s", r.rooflineTokS},
                             {"roofline_share", r.rooflineShare},
                             {"peak_rss", r.peakRss}});
    }
    j["peak_rss"] = report.peakRss;
    return j.dump(2);
}

std::string formatBenchTable(const BenchReport& report)
{
    std::string out = "CPU: " + report.cpu + " (" + report.isa + "), " + std::to_string(report.threads) +
                      " threads; read bandwidth " +
                      (report.bandwidthGBs > 0 ? fixed(report.bandwidthGBs, 1) + " GB/s" : std::string("n/a")) +
                      (report.bandwidthSource != "probe"
                           ? " (from the " + report.bandwidthSource + "; the probe read " +
                                 fixed(report.bandwidthProbeGBs, 1) + " GB/s)"
                           : std::string()) +
                      "; pp" + std::to_string(report.promptTokens) + " tg" + std::to_string(report.decodeTokens) +
                      ", best of " + std::to_string(report.repeats) + "\n";
    std::size_t wb = 8, ws = 5, wk = 7;
    for (const auto& r : report.rows) {
        wb = std::max(wb, r.backend.size());
        ws = std::max(ws, r.shape.size());
        wk = std::max(wk, r.kernels.size());
    }
    out += padRight("backend", wb) + "  " + padRight("kernels", wk) + "  " + padRight("shape", ws) + "  " +
           padLeft("prefill t/s", 12) +
           padLeft("(median)", 10) + padLeft("decode t/s", 12) + padLeft("(median)", 10) + padLeft("MB/token", 10) +
           padLeft("roofline t/s", 14) + padLeft("share", 8) + padLeft("RSS MB", 9) + "\n";
    for (const auto& r : report.rows) {
        const double mb = static_cast<double>(r.weightBytesPerToken + r.kvBytesPerToken) / 1e6;
        out += padRight(r.backend, wb) + "  " + padRight(r.kernels.empty() ? "-" : r.kernels, wk) + "  " +
               padRight(r.shape, ws) + "  " + padLeft(fixed(r.prefillTokS, 1), 12) +
               padLeft(fixed(r.prefillMedianTokS, 1), 10) + padLeft(fixed(r.decodeTokS, 1), 12) +
               padLeft(fixed(r.decodeMedianTokS, 1), 10) + padLeft(fixed(mb, 2), 10) +
               padLeft(r.rooflineTokS > 0 ? fixed(r.rooflineTokS, 1) : "-", 14) +
               padLeft(r.rooflineTokS > 0 ? fixed(100 * r.rooflineShare, 1) + "%" : "-", 8) +
               padLeft(fixed(static_cast<double>(r.peakRss) / 1e6, 1), 9) + "\n";
    }
    for (const auto& r : report.rows)
        if (!r.note.empty())
            out += "  " + r.backend + ": " + r.note + "\n";
    if (report.peakRss > 0)
        out += "peak RSS of the process: " + fixed(static_cast<double>(report.peakRss) / 1e6, 1) + " MB\n";
    return out;
}

} // namespace bq
