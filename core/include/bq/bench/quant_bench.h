// The quantization benchmark (issue 3): wall time, CPU time and peak memory of one quantization run on a
// synthetic model with random calibration tokens, split into the Gram accumulation (methods.md §1.2) and the
// rest, each set against its GEMM-bound estimate from this machine's achieved Eigen GEMM rate, measured in the
// same run:
//   Gram bound    = Gram flops counted by the pipeline / GEMM rate (T·m² per Ĥ or H_fp, 2·T·m² per C)
//   forward bound = block-forward flops of the calibration passes / GEMM rate (the rest's GEMM-shaped part;
//                   the methods' own work and the analysis are reported next to it, not bounded)
// A benchmark, not a test: figures depend on the machine and its load.
#pragma once
#include "bq/jobs/job.h"
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace bq {

struct ModelConfig;

struct QuantBenchRequest {
    std::string shape = "opt125m";   // model/synthetic.h shape name
    std::string method = "arb-rc";   // quant/recipe.h builtinRecipe(method)
    int samples = 128, seqLen = 512; // random calibration token ids (uniform over the vocabulary, seeded)
    std::uint64_t seed = 0;
    int threads = 0;                 // 0 = hardware concurrency
    std::string analysis = "full";   // the recipe's analysis level ("full" keeps the FP stream for every method)
    double gemmProbeSeconds = 0.5;   // time spent measuring the GEMM rate (per probe)
    int blocks = 0;                  // > 0: only the first `blocks` transformer blocks (profiling a short run)
};

struct QuantBenchReport {
    std::string shape, method, analysis, cpu;
    int samples = 0, seqLen = 0, threads = 0;
    std::int64_t tokens = 0;
    int quantizedTensors = 0;
    double bitsPerWeight = 0;               // counted over the quantized matrices
    double wallSeconds = 0, cpuSeconds = 0; // the quantization run (process CPU time: user + system)
    double gramSeconds = 0, otherSeconds = 0;
    // Parts of "other": the wall time of the layer jobs split by method vs analysis; and the per-layer times
    // summed (thread seconds: a block's independent layers run on all workers at once).
    double methodSeconds = 0, analysisSeconds = 0;
    double methodThreadSeconds = 0, analysisThreadSeconds = 0;
    double gramFlops = 0, forwardFlops = 0;
    double gemmGflopsOneThread = 0; // Eigen float32 GEMM (m×T)·(T×m), one thread alone
    double gemmGflops = 0;          // the same GEMM on every worker at once (aggregate): the bound's rate
    double gramBoundSeconds = 0, forwardBoundSeconds = 0;
    std::uint64_t peakRssBytes = 0;
    double estimatedPeakBytes = 0; // the recipe estimator's figure, for comparison
};

// Flops of one block forward over T tokens: 2·T·(linear weights) + 2·T²·d for causal attention.
double blockForwardFlops(const ModelConfig& config, int seqLen);

// Measures the GEMM rate: float32 C = Aᵀ·B with A, B of T × m, repeated for about `seconds`, on `threads`
// workers at once (threads = 1: alone). Returns GFLOP/s (2·T·m² flops per product), aggregate.
double measureGemmGflops(int m, int T, int threads, double seconds);

// Job contract: never throws; progress from the quantization run; cancel checked by the pipeline.
JobResult runQuantBench(const QuantBenchRequest& request, QuantBenchReport& report, EventSink& sink,
                        const CancelToken& cancel);

nlohmann::json quantBenchJson(const QuantBenchReport& report);
std::string formatQuantBench(const QuantBenchReport& report);

} // namespace bq
