// The sequential block-by-block quantization driver (methods.md §1.1–§1.5), as a job (architecture.md §3).
//
//   hidden ← embed(calibration tokens)                       (quantized stream; FP stream next to it)
//   for block ℓ:  one pass of block ℓ over every calibration sequence accumulates, per linear input site,
//                 Ĥ = Σ x̂ x̂ᵀ (and, with two streams, H_fp = Σ x xᵀ and C = Σ x̂ xᵀ): float32 GEMM per
//                 sequence, added into float64 accumulators in sequence order (never all activations);
//                 quantize q/k/v → o → gate/up → down through the method registry (true_sequential re-collects
//                 each group's Gram after the previous groups are quantized; recollect_down does it for the
//                 down-projection of a two-stream method such as output-align);
//                 re-run block ℓ quantized → inputs of block ℓ+1; the FP stream runs the FP block.
//   then the output head (if quantized) on the final normed hidden states.
//
// The block passes are the runtime's own block (bq/runtime/transformer_block.h), so a model run through them
// gives the runtime's logits bit for bit. Two streams run when any layer's method needsTwoStreams or
// recipe.analysis == "full" (the cumulative output error and the residual-stream metrics need the FP stream).
//
// Events: layerDone once per weight matrix as soon as it is finished (kept ones with method "fp"); blockDone
// once per block after its last layer, with the residual-stream metrics (never for a block kept entirely in full
// precision); a resumed run re-sends both for its finished blocks from the run file.
//
// Determinism: every sequence is processed by one thread with the runtime's thread-invariant kernels, and
// per-sequence Grams are summed in sequence order, so results are bit-identical for any thread count.
// Cancel: checked per calibration sequence and inside the methods (per 128-column block); a cancelled run leaves
// the run file with its finished blocks, resumable. Resume: finished blocks are replayed from the run file's
// exact parameters (bit-identical streams), then the run continues.
//
// The parts (core/src/quant/pipeline/): run_setup (calibration windows, run file, resume), calibration_streams
// (the hidden states and the block passes), gram_collector, layer_jobs (one layer's method + analysis, batches
// on all workers), layer_scheduler (what is quantized when), run_events (progress, events, run file writes).
#pragma once
#include "bq/jobs/job.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/quantized_model.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/quant/run/run_file.h"
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::quant {

struct QuantizeJobRequest {
    std::shared_ptr<const Model> model;
    std::string modelPath;     // as given to loadModel (stored in the run file so readers can reopen it)
    std::string tokenizerPath; // LoadOptions::tokenizerPath used ("" = default)
    Recipe recipe;
    // Calibration: prebuilt windows (tests, resume) or text sources sampled with the recipe's
    // samples/seqlen/seed/sampling.
    std::optional<CalibrationSet> calibration;
    std::vector<CalibrationSource> calibrationSources;
    std::filesystem::path runPath; // empty: no run file
    // Continue runPath after its last finished block (a new run when it does not exist). The model, calibration and
    // recipe fingerprints must match the stored ones, else the job fails with the ResumeMismatch message and
    // QuantizeJobResult::resumeMismatch names the fields; checkResume asks before starting.
    bool resume = false;
    int threads = 0;               // 0 = hardware concurrency
};

struct QuantizeJobResult {
    JobResult job;
    std::shared_ptr<QuantizedModel> model; // set when completed
    Resolution resolution;
    Estimate estimate;
    int resumedBlocks = 0;      // blocks replayed from the run file
    double countedBits = 0;     // Σ storageBitsPerWeight × n × m over the quantized layers
    double seconds = 0;
    std::uint64_t peakRssBytes = 0;
    std::string calibrationDescription;
    // Calibration statistics (bench-quant): wall seconds spent in the Gram GEMMs and their float64 accumulation
    // (a parallel wave's wall time split by its threads' Gram vs forward shares), and the Gram flops counted:
    // T·m² per Ĥ or H_fp (symmetric rank-T update), 2·T·m² per C, for every site and sequence collected.
    double gramSeconds = 0;
    double gramFlops = 0;
    // Wall seconds of the layer jobs (method + analysis of every quantized layer; a block's independent layers
    // run on all workers at once, so this is less than the sum of the per-layer times).
    double layerSeconds = 0;
    // Failed because runPath cannot be resumed: the differing fields ("model", "calibration", "recipe").
    std::vector<std::string> resumeMismatch;
};

// Job contract: never throws; Failed carries a message naming the tensor / rule / file.
QuantizeJobResult runQuantization(const QuantizeJobRequest& request, EventSink& sink, const CancelToken& cancel);

// Whether request.runPath could be resumed by this request: the ResumeMismatch naming every differing fingerprint,
// or nothing (also when the run file does not exist yet). Computes the fingerprints as the run does: reads every
// byte of the model (checks `cancel`, throws bq::Cancelled) and builds the calibration windows (without
// calibration text, those stored in the run file). Throws what reading the run file or the calibration throws.
// modelFp: modelFingerprint(*request.model) when the caller has it already (the studio keeps it per model).
std::optional<ResumeMismatch> checkResume(const QuantizeJobRequest& request, const CancelToken& cancel,
                                          const std::string& modelFp = {});

} // namespace bq::quant
