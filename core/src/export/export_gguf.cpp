#include "bq/export/export_gguf.h"
#include "bq/jobs/run_job.h"
#include "bq/eval/compare.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/export/ggml_blocks.h"
#include "bq/formats/convert.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include "bq/runtime/fp32_model.h"
#include "bq/util/errors.h"
#include <chrono>
#include <cstring>
#include <map>

namespace bq::exporter {

namespace fs = std::filesystem;

const char* exportFormatName(ExportFormat f) noexcept
{
    switch (f) {
    case ExportFormat::Q1_0: return "q1_0";
    case ExportFormat::Q4_0: return "q4_0";
    case ExportFormat::Bitstudio: return "bitstudio";
    }
    return "?";
}

std::optional<ExportFormat> parseExportFormat(std::string_view name) noexcept
{
    if (name == "q1_0") return ExportFormat::Q1_0;
    if (name == "q4_0") return ExportFormat::Q4_0;
    if (name == "bitstudio") return ExportFormat::Bitstudio;
    return std::nullopt;
}

namespace {

// Bytes of `rows` equal-sized rows reordered: row r <- row order[r].
std::vector<std::byte> permuteRowBytes(const std::vector<std::byte>& bytes, std::int64_t rows,
                                       const std::vector<std::int64_t>& order)
{
    if (order.empty())
        return bytes;
    const std::size_t rb = bytes.size() / static_cast<std::size_t>(rows);
    std::vector<std::byte> out(bytes.size());
    for (std::int64_t r = 0; r < rows; ++r)
        std::memcpy(out.data() + static_cast<std::size_t>(r) * rb,
                    bytes.data() + static_cast<std::size_t>(order[static_cast<std::size_t>(r)]) * rb, rb);
    return out;
}

struct Packed {
    DType dtype;
    std::int64_t rows, cols;
    std::vector<std::byte> bytes;
};

// Measures KL(exact fake-quantized ‖ refitted) with the fp32 reference, so only the refit differs.
void measureRefit(const quant::QuantizedModel& model, const std::map<std::string, QuantizedLinear>& refits,
                  const ExportOptions& options, ExportReport& report, EventSink& sink, const CancelToken& cancel)
{
    if (!model.base->tokenizer) {
        report.refitNote = "not measured: the base model has no tokenizer";
        return;
    }
    WeightOverrides exact = model.fakeQuantOverrides();
    WeightOverrides refit = exact;
    for (const auto& [name, q] : refits) {
        const MatrixXfR w = q.dequantize();
        refit[name] = std::make_shared<const std::vector<float>>(w.data(), w.data() + w.size());
    }
    auto a = makeFp32Model(model.base, 0, std::move(exact));
    auto b = makeFp32Model(model.base, 0, std::move(refit));
    if (options.evalText.empty()) {
        report.refitNote = "not measured: no evaluation text was given";
        return;
    }
    PerplexityRequest req;
    req.text = options.evalText;
    if (req.text.size() > options.evalMaxChars)
        req.text.resize(options.evalMaxChars);
    req.ctx = std::min(options.evalCtx, model.base->config.maxSeqLen);
    CompareResult cr;
    const JobResult r = compareModels(*a, *b, req, cr, sink, cancel);
    if (r.status == JobStatus::Cancelled)
        throw Cancelled();
    if (r.status != JobStatus::Completed) {
        report.refitNote = "not measured: " + r.message;
        return;
    }
    report.refitKl = cr.kl;
    report.refitTop1 = cr.top1Agreement;
    report.refitTokens = cr.a.tokens;
}

} // namespace

JobResult exportGguf(const quant::QuantizedModel& model, const fs::path& path, const ExportOptions& options,
                     ExportReport& report, EventSink& sink, const CancelToken& cancel)
{
    const auto t0 = std::chrono::steady_clock::now();
    report = ExportReport{};
    JobResult result;
    result = runJob("", [&]() -> JobResult {
        if (!model.base)
            throw std::invalid_argument("export: the quantized model has no base model");
        const Model& base = *model.base;
        if (options.embeddings != DType::F16 && options.embeddings != DType::Q8_0 && options.embeddings != DType::F32)
            throw std::invalid_argument(std::string("export: embeddings/output are stored as F16, Q8_0 or F32, not ") +
                                        dtypeName(options.embeddings));
        const std::string fmt = exportFormatName(options.format);
        if (options.refit && options.format != ExportFormat::Q1_0)
            throw std::invalid_argument("export: --refit applies to --format q1_0 only (" + fmt +
                                        " either holds a layer exactly or refuses it)");

        // Every check and every packing happens before the file is opened, so a refusal leaves nothing behind.
        std::map<std::string, Packed> packed;
        std::map<std::string, QuantizedLinear> refits;
        ProgressEvent ev;
        ev.stage = Stage::Export;
        ev.stepCount = static_cast<std::int32_t>(model.layers.size());
        for (const auto& [name, q] : model.layers) {
            cancel.throwIfRequested();
            const Tensor* t = base.find(name);
            if (!t)
                throw UnsupportedModel("export: layer " + name + " is not a tensor of the base model" +
                                       (name == "output.weight" && base.config.tiedEmbeddings
                                            ? " (the base model ties the output head to token_embd.weight)"
                                            : ""));
            if (t->shape != std::vector<std::int64_t>{q.rows, q.cols})
                throw UnsupportedModel("export: layer " + name + " is " + std::to_string(q.rows) + " × " +
                                       std::to_string(q.cols) + " but the base tensor is " + t->shapeString());
            q.validate();
            if (options.format == ExportFormat::Q1_0) {
                if (q.cols % 128 != 0)
                    throw UnsupportedModel("cannot export as q1_0: tensor " + name + " has K = " +
                                           std::to_string(q.cols) +
                                           " input columns, not a multiple of the Q1_0 block size 128 (use "
                                           "--format bitstudio, which holds any width)");
                Packed p{DType::Q1_0, q.rows, q.cols, {}};
                std::string why = packQ1_0(q.dequantize(), p.bytes);
                if (!why.empty()) {
                    if (!options.refit)
                        throw UnsupportedModel(
                            "cannot export as q1_0: tensor " + name + " (method " + q.method +
                            ") is not exactly Q1_0 (one fp16 scale per 128 weights, values ±scale): it has " +
                            q1_0Obstacle(q) + "; " + why +
                            ". Use --refit to convert it (signs of the quantized weights, least-squares fp16 "
                            "scale per 128; the extra KL is reported) or --format bitstudio to keep it exact");
                    QuantizedLinear r = refitToQ1_0(q);
                    why = packQ1_0(r.dequantize(), p.bytes);
                    if (!why.empty())
                        throw std::logic_error("export: the Q1_0 refit of " + name + " does not pack: " + why);
                    refits.emplace(name, std::move(r));
                    report.refitted.push_back(name);
                }
                packed.emplace(name, std::move(p));
            } else if (options.format == ExportFormat::Q4_0) {
                if (q.cols % 32 != 0)
                    throw UnsupportedModel("cannot export as q4_0: tensor " + name + " has K = " +
                                           std::to_string(q.cols) +
                                           " input columns, not a multiple of the Q4_0 block size 32 (use "
                                           "--format bitstudio, which holds any width)");
                Packed p{DType::Q4_0, q.rows, q.cols, {}};
                const std::string why = packQ4_0(q.dequantize(), p.bytes);
                if (!why.empty())
                    throw UnsupportedModel("cannot export as q4_0: tensor " + name + " (method " + q.method +
                                           ") is not exactly representable in Q4_0: " + why +
                                           ". Use --format bitstudio to keep it exact");
                packed.emplace(name, std::move(p));
            }
            ++ev.step;
            ev.elapsedSec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            sink.progress(ev);
        }
        report.quantizedTensors = static_cast<int>(model.layers.size());
        if (!refits.empty())
            measureRefit(model, refits, options, report, sink, cancel);

        GgufWriteOptions w;
        w.alignment = options.alignment;
        w.name = options.name;
        auto& kv = w.extraMetadata;
        if (options.format == ExportFormat::Q1_0)
            kv.emplace_back("general.file_type", GgufValue::u32(40)); // LLAMA_FTYPE_MOSTLY_Q1_0
        if (options.format == ExportFormat::Q4_0)
            kv.emplace_back("general.file_type", GgufValue::u32(2)); // LLAMA_FTYPE_MOSTLY_Q4_0
        if (options.format != ExportFormat::Bitstudio)
            kv.emplace_back("general.quantization_version", GgufValue::u32(2));
        kv.emplace_back("bitstudio.quantizer.version", GgufValue::str(BQ_VERSION));
        kv.emplace_back("bitstudio.export.format", GgufValue::str(fmt));
        if (!model.recipe.is_null())
            kv.emplace_back("bitstudio.recipe", GgufValue::str(model.recipe.dump()));
        if (!model.modelFingerprint.empty())
            kv.emplace_back("bitstudio.run.model_fingerprint", GgufValue::str(model.modelFingerprint));
        if (!model.calibrationFingerprint.empty())
            kv.emplace_back("bitstudio.run.calibration_fingerprint", GgufValue::str(model.calibrationFingerprint));
        if (!model.runPath.empty())
            kv.emplace_back("bitstudio.run.file", GgufValue::str(fs::path(model.runPath).filename().string()));
        if (!report.refitted.empty()) {
            kv.emplace_back("bitstudio.export.refitted_tensors", GgufValue::stringArray(report.refitted));
            if (report.refitKl >= 0)
                kv.emplace_back("bitstudio.export.refit_kl", GgufValue::f32(static_cast<float>(report.refitKl)));
        }
        if (options.format == ExportFormat::Bitstudio) {
            std::vector<std::string> names;
            for (const auto& [name, q] : model.layers) {
                names.push_back(name);
                kv.emplace_back(kBitstudioTensorKeyPrefix + name, GgufValue::str(bitstudioDescriptor(q).dump()));
            }
            kv.emplace_back(kBitstudioTensorsKey, GgufValue::stringArray(names));
        }

        ev.step = 0;
        w.tensorHook = [&](const std::string& name,
                           const std::vector<std::int64_t>& order) -> std::optional<std::vector<Tensor>> {
            cancel.throwIfRequested();
            if (auto it = packed.find(name); it != packed.end()) {
                const Packed& p = it->second;
                return std::vector<Tensor>{
                    makeOwnedTensor(name, p.dtype, {p.rows, p.cols}, permuteRowBytes(p.bytes, p.rows, order))};
            }
            if (auto it = model.layers.find(name); it != model.layers.end())
                return bitstudioComponents(permuteRows(it->second, order));
            return std::nullopt;
        };
        writeGguf(base, path, options.embeddings, w);
        report.fileBytes = fs::file_size(path);
        result.outputs.push_back(path);
        result.message = "exported " + std::to_string(report.quantizedTensors) + " quantized tensors as " + fmt +
                         " to " + path.string() + " (" + std::to_string(report.fileBytes) + " bytes)";
        return result;
    });
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

} // namespace bq::exporter
