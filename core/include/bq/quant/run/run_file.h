// The HDF5 run file: one file per quantization run holding the recipe, fingerprints, calibration windows,
// every per-layer result, per-block residual-stream metrics, the exact quantized parameters of every finished
// layer and the final evaluation. Readable by h5py; the layout is documented in README ("Run file layout").
//
//   /                               attrs schema="bitstudio.run/1", tool_version, created (ISO 8601 UTC),
//                                         status ("running"|"completed"|"cancelled"|"failed"), status_message,
//                                         finished_blocks (int32), block_count (int32)
//   /meta/recipe                    scalar variable-length UTF-8 string: the recipe JSON
//   /meta                           attrs model_fingerprint, calibration_fingerprint, recipe_fingerprint,
//                                         model_path, tokenizer_path, calibration (JSON text: sampling params)
//   /calib/tokens                   int32 [samples, seq_len]
//   /blocks/<i>                     attrs: metric name -> float64
//   /layers/<tensor>                attrs block (int32), method, decided_by, bits_per_weight, seconds
//     metrics                       attrs: metric name -> float64
//     arrays/<name>                 float64 [k]
//     params                        attrs method, rows, cols (int64), storage_bits_per_weight, plane_count,
//                                         has_codes (int32)
//       plane_<p>                   attrs group (int32), mask_kind ("all"|"columns"|"elements")
//         signs                     uint8 [n, ceil(m/8)], bit j%8 of byte j/8 (LSB first) = 1 for +1
//         mask_columns              uint8 [m] (mask_kind "columns"), 1 = applies
//         mask_elements             uint8 [n, ceil(m/8)] packed like signs (mask_kind "elements")
//         row_scale, mean           float32 [n, groups]; col_scale float32 [m] (absent when empty)
//       codes                       attrs bits, group (int32); codes uint8 [n, m]; scale, zero float32 [n, groups]
//   /eval                           attrs: numeric fields -> float64, string fields -> string; json (string)
//
// Thread affinity: a writer is used by one thread (the job thread). Crash safety: the file is created under
// "<path>.tmp-<pid>" and renamed once its header is complete; every writeLayer / finishBlock / setStatus flushes
// (H5Fflush), so a process killed between two writes leaves a readable file whose finished_blocks counter tells
// resume where to start. Layers of blocks >= finished_blocks are incomplete and discarded on resume.
#pragma once
#include "bq/jobs/job.h"
#include "bq/model/quantized_linear.h"
#include "bq/quant/quantized_model.h"
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bq {
struct Model;
}

namespace bq::quant {

inline constexpr const char* kRunFileSchema = "bitstudio.run/1";

enum class RunStatus : std::uint8_t { Running, Completed, Cancelled, Failed };
const char* runStatusName(RunStatus s) noexcept; // "running", "completed", "cancelled", "failed"
std::optional<RunStatus> parseRunStatus(std::string_view name) noexcept;

// The calibration windows exactly as the run used them: samples × seqLen token ids, row-major.
struct CalibrationTokens {
    std::int64_t samples = 0, seqLen = 0;
    std::vector<std::int32_t> ids; // samples * seqLen entries
};

struct RunHeader {
    nlohmann::json recipe;              // the recipe as resolved for this run
    std::string toolVersion;            // create(): filled with BQ_VERSION when empty
    std::string created;                // create(): filled with the current UTC time (ISO 8601) when empty
    RunStatus status = RunStatus::Running;
    std::string statusMessage;          // e.g. the failure message
    std::string modelFingerprint;       // fingerprint.h modelFingerprint()
    std::string calibrationFingerprint; // fingerprint.h calibrationFingerprint()
    std::string recipeFingerprint;      // create(): filled with recipeFingerprint(recipe) when empty
    std::string modelPath;              // as given to loadModel (":demo" for the demo model)
    std::string tokenizerPath;          // LoadOptions::tokenizerPath used to open the model ("" = default)
    nlohmann::json calibration;         // sampling parameters: source, samples, seq_len, seed, ...
    CalibrationTokens calibrationTokens;
    std::int32_t blockCount = 0;        // transformer blocks of the model (progress / completeness)
};

// What a resumed run must match. Empty strings are not compared.
struct RunFingerprints {
    std::string model, calibration, recipe, toolVersion;
};

// Thrown by openForResume when the stored fingerprints differ; what() explains every differing field
// ("<file>: cannot resume: model fingerprint differs (run file: ..., now: ...); ...").
class ResumeMismatch : public std::runtime_error {
public:
    ResumeMismatch(std::string message, std::vector<std::string> fields)
        : std::runtime_error(std::move(message)), m_fields(std::move(fields))
    {
    }
    const std::vector<std::string>& fields() const noexcept { return m_fields; } // "model", "calibration", ...

private:
    std::vector<std::string> m_fields;
};

// Whether a run stored with `stored` can be resumed with `expected`: the ResumeMismatch that openForResume
// throws (naming `path` and every differing field), or nothing when the fingerprints match.
std::optional<ResumeMismatch> resumeMismatch(const std::filesystem::path& path, const RunHeader& stored,
                                             const RunFingerprints& expected);

class RunFileWriter {
public:
    // Creates (or replaces) the run file at `path` with the header, status "running" and 0 finished blocks.
    // Throws std::runtime_error naming the path when the file cannot be written.
    static RunFileWriter create(const std::filesystem::path& path, const RunHeader& header);
    // Reopens an existing run to continue it: checks `expected` (throws ResumeMismatch), removes the layers
    // and block metrics of unfinished blocks (block >= finishedBlocks(); block < 0 layers are kept), sets the
    // status back to "running". Throws bq::FormatError for a file that is not a run file.
    static RunFileWriter openForResume(const std::filesystem::path& path, const RunFingerprints& expected);

    RunFileWriter(RunFileWriter&&) noexcept;
    RunFileWriter& operator=(RunFileWriter&&) noexcept;
    ~RunFileWriter(); // closes the file (flushes); never throws
    RunFileWriter(const RunFileWriter&) = delete;
    RunFileWriter& operator=(const RunFileWriter&) = delete;

    const std::filesystem::path& path() const noexcept;
    std::int32_t finishedBlocks() const noexcept;

    // Writes (or replaces) /layers/<result.tensor>: the result, and the exact parameters when `params` is
    // given (null for kept / skipped tensors). Validates params first (std::logic_error). Flushes.
    void writeLayer(const LayerResult& result, const QuantizedLinear* params);
    // Writes (or replaces) the residual-stream metrics of one block (/blocks/<block> attributes).
    void writeBlock(std::int32_t block, const std::map<std::string, double>& metrics);
    // Marks blocks 0..block as complete (finished_blocks = block + 1; never decreases) and flushes. Call
    // after every layer of the block went through writeLayer.
    void finishBlock(std::int32_t block);
    // Stores the final evaluation: numeric fields as float64 attributes, strings as string attributes, the
    // whole object as JSON text. Flushes.
    void writeFinalEval(const nlohmann::json& eval);
    void setStatus(RunStatus status, std::string_view message = {});
    void flush();
    void close(); // idempotent; the writer is unusable afterwards

private:
    struct Impl;
    explicit RunFileWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Stores an evaluation in an existing run that is not running (completed, cancelled or failed): replaces /eval
// as RunFileWriter::writeFinalEval does and flushes, leaving the status, blocks and layers untouched. Throws
// bq::FormatError for a file that is not a run file, std::runtime_error naming the file for a run whose status
// is "running" (a job may be writing it, or it was interrupted: resume it first) or when the write fails.
void writeRunEval(const std::filesystem::path& run, const nlohmann::json& eval);

// How loadQuantizedModel reopens the base model: (stored model path, stored tokenizer path) -> model.
using ModelOpener = std::function<std::shared_ptr<const Model>(const std::filesystem::path& modelPath,
                                                               const std::filesystem::path& tokenizerPath)>;
// workflow/open_model.h runFileModelOpener() opens any model spec the run was started from.

class RunFileReader {
public:
    // Opens and checks the file (schema, /meta, /calib, /layers). Throws bq::FormatError naming the file and
    // the missing or malformed item (also for files that are not HDF5 or are truncated).
    explicit RunFileReader(const std::filesystem::path& path);
    RunFileReader(RunFileReader&&) noexcept;
    RunFileReader& operator=(RunFileReader&&) noexcept;
    ~RunFileReader();

    const std::filesystem::path& path() const noexcept;
    const RunHeader& header() const noexcept; // status and statusMessage as stored
    std::int32_t finishedBlocks() const noexcept;

    // Every stored layer result (block order, then name), including those of unfinished blocks.
    std::vector<LayerResult> layers() const;
    // Names of layers with stored parameters, sorted.
    std::vector<std::string> quantizedLayerNames() const;
    std::map<std::string, double> blockMetrics(std::int32_t block) const; // empty when not written
    std::vector<std::int32_t> blocksWithMetrics() const;
    std::optional<nlohmann::json> finalEval() const;

    // The exact parameters of one layer (bit-identical to what writeLayer got). FormatError when absent.
    QuantizedLinear loadQuantizedLinear(const std::string& tensor) const;
    // The quantized model: base reopened from the stored model path, every layer with parameters whose block
    // is finished (block < finishedBlocks(), or block < 0), recipe, fingerprints and runPath. With
    // verifyFingerprint the reopened model is hashed (reads every byte, ~1 s per GB) and must match a stored
    // "fnv1a64:" fingerprint (FormatError otherwise: the model file changed since the run).
    QuantizedModel loadQuantizedModel(const ModelOpener& open,
                                      bool verifyFingerprint = true) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace bq::quant
