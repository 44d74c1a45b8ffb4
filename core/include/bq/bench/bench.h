// The benchmark engine: prefill and decode tokens/s of one or more InferenceModels, set against the memory
// bandwidth roofline measured in the same run (formats-and-runtime.md §9):
//   roofline decode tok/s = BW / (weight bytes per token + KV bytes read per token at the decode context).
#pragma once
#include "bq/jobs/job.h"
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bq {

class InferenceModel;
struct ModelConfig;

struct BenchRequest {
    std::vector<std::shared_ptr<const InferenceModel>> models;
    std::vector<std::string> notes; // optional, one per model: what it is (e.g. which tensors stayed fp32)
    std::vector<std::string> kernels; // optional, one per model: the kernel path it runs ("int8 avx512-vnni")
    int promptTokens = 128; // prefill: one forward of this many tokens
    int decodeTokens = 64;  // then this many single-token forwards
    int repeats = 3;        // figures are the best of the repeats
    int threads = 0;        // reported and used by the bandwidth probe; 0 = the first model's threads()
    bool measureBandwidth = true;
    std::size_t bandwidthBytes = std::size_t(1) << 30; // probe buffer
    double bandwidthGBs = 0;      // what the rooflines use: the higher of the probe and the fastest decode stream
    double bandwidthProbeGBs = 0; // best read-probe figure (before and after the models)
    std::string bandwidthSource = "probe"; // used when !measureBandwidth (0 = no roofline)
    int kvElementBytes = 4;  // bytes per cached K/V element (the runtimes keep an fp32 cache)
    std::vector<int> kvElementBytesPerModel; // optional, one per model (an fp16 cache: 2); overrides the above
};

struct BenchRow {
    std::string backend;
    std::string shape;                   // e.g. "llama 5L d64 v512"
    std::string note;
    std::string kernels;                 // the kernel path (BenchRequest::kernels)
    double prefillTokS = 0, decodeTokS = 0;             // best of the repeats
    double prefillMedianTokS = 0, decodeMedianTokS = 0; // median of the repeats (the machine is shared)
    std::uint64_t weightBytesPerToken = 0;
    std::uint64_t kvBytesPerToken = 0;   // KV cache read per decoded token, averaged over the decode positions
    double rooflineTokS = 0;             // bandwidth / (weight + KV bytes per token); 0 without a bandwidth
    double rooflineShare = 0;            // decodeTokS / rooflineTokS
    std::uint64_t peakRss = 0;           // largest resident set sampled during this model's runs
};

struct BenchReport {
    double bandwidthGBs = 0;      // what the rooflines use: the higher of the probe and the fastest decode stream
    double bandwidthProbeGBs = 0; // best read-probe figure (before and after the models)
    std::string bandwidthSource = "probe";
    std::string cpu;  // model name from /proc/cpuinfo
    std::string isa;  // cpuFeatures().summary()
    int threads = 0;
    int promptTokens = 0, decodeTokens = 0, repeats = 0;
    std::vector<BenchRow> rows;
    std::uint64_t peakRss = 0; // the process's peak resident set (peakRssBytes) at the end of the run
};

// Bytes of K and V cached per position: 2 · layers · kvDim · elementBytes.
std::uint64_t kvBytesPerPosition(const ModelConfig& config, int elementBytes);

// Job contract: deterministic token ids; progress per run (Stage::Bench); cancel checked per run and per
// decoded token. The bandwidth probe runs after the models so its buffer does not inflate their RSS.
JobResult runBench(const BenchRequest& request, BenchReport& report, EventSink& sink, const CancelToken& cancel);

std::string benchReportJson(const BenchReport& report);
// A fixed-width text table for terminals and logs.
std::string formatBenchTable(const BenchReport& report);

} // namespace bq
