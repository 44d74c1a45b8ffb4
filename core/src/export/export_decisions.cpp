#include "export_decisions.h"
#include "bq/export/ggml_blocks.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/model/model.h"
#include "bq/quant/quantized_model.h"
#include "bq/util/errors.h"
#include <stdexcept>

namespace bq::exporter::detail {

namespace {

const char* kAnyWidth = "Use --format bitstudio, which holds any width";

LayerDecision decideQ1_0(const QuantizedLinear& q, const ExportOptions& options, bool keepBytes)
{
    LayerDecision d;
    d.dtype = DType::Q1_0;
    d.storedAs = "Q1_0";
    if (q.cols % 128 != 0) {
        d.action = PlanAction::Refused;
        d.reason = "K = " + std::to_string(q.cols) +
                   " input columns, not a multiple of the Q1_0 block size 128";
        d.remedy = kAnyWidth;
        return d;
    }
    std::string why = packQ1_0(q.dequantize(), d.bytes);
    if (why.empty()) {
        d.reason = "exactly Q1_0: values ±d with one fp16 d per 128 weights";
    } else if (!options.refit) {
        d.action = PlanAction::Refused;
        d.reason = "method " + q.method +
                   " is not exactly Q1_0 (one fp16 scale per 128 weights, values ±scale): it has " +
                   q1_0Obstacle(q) + "; " + why;
        d.remedy = "Use --refit to convert it (signs of the quantized weights, least-squares fp16 scale per 128; "
                   "the extra KL is reported) or --format bitstudio to keep it exact";
        return d;
    } else {
        QuantizedLinear r = refitToQ1_0(q);
        why = packQ1_0(r.dequantize(), d.bytes);
        if (!why.empty())
            throw std::logic_error("export: the Q1_0 refit of " + q.tensor + " does not pack: " + why);
        d.action = PlanAction::Refit;
        d.reason = "method " + q.method + " is not exactly Q1_0 (it has " + q1_0Obstacle(q) +
                   "): refitted to the signs of the quantized weights with a least-squares fp16 scale per 128 "
                   "(the extra KL is measured)";
        d.refit = std::move(r);
    }
    if (!keepBytes)
        d.bytes = {};
    return d;
}

LayerDecision decideQ4_0(const QuantizedLinear& q, bool keepBytes)
{
    LayerDecision d;
    d.dtype = DType::Q4_0;
    d.storedAs = "Q4_0";
    if (q.cols % 32 != 0) {
        d.action = PlanAction::Refused;
        d.reason = "K = " + std::to_string(q.cols) +
                   " input columns, not a multiple of the Q4_0 block size 32";
        d.remedy = kAnyWidth;
        return d;
    }
    const std::string why = packQ4_0(q.dequantize(), d.bytes);
    if (!why.empty()) {
        d.action = PlanAction::Refused;
        d.reason = "method " + q.method + " is not exactly representable in Q4_0: " + why;
        d.remedy = "Use --format bitstudio to keep it exact";
        return d;
    }
    d.reason = "exactly Q4_0: every 32 weights are d·(q − 8) for one fp16 d (sign × scale: q = 9 / 7)";
    if (!keepBytes)
        d.bytes = {};
    return d;
}

} // namespace

std::map<std::string, LayerDecision> decideLayers(const quant::QuantizedModel& model, const ExportOptions& options,
                                                  bool keepBytes, const CancelToken& cancel,
                                                  const std::function<void(int done, int total)>& progress)
{
    if (!model.base)
        throw std::invalid_argument("export: the quantized model has no base model");
    const Model& base = *model.base;
    if (options.embeddings != DType::F16 && options.embeddings != DType::Q8_0 && options.embeddings != DType::F32)
        throw std::invalid_argument(std::string("export: embeddings/output are stored as F16, Q8_0 or F32, not ") +
                                    dtypeName(options.embeddings));
    if (options.refit && options.format != ExportFormat::Q1_0)
        throw std::invalid_argument("export: --refit applies to --format q1_0 only (" +
                                    std::string(exportFormatName(options.format)) +
                                    " either holds a layer exactly or refuses it)");

    std::map<std::string, LayerDecision> decisions;
    const int total = static_cast<int>(model.layers.size());
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
        LayerDecision d;
        if (options.format == ExportFormat::Q1_0) {
            d = decideQ1_0(q, options, keepBytes);
        } else if (options.format == ExportFormat::Q4_0) {
            d = decideQ4_0(q, keepBytes);
        } else {
            d.storedAs = "bitstudio";
            d.reason = "stored exactly as its component tensors (sign planes, masks, scales, codes: the bitstudio "
                       "layout)";
        }
        decisions.emplace(name, std::move(d));
        if (progress)
            progress(static_cast<int>(decisions.size()), total);
    }
    return decisions;
}

GgufWriteOptions exportWriteOptions(const quant::QuantizedModel& model, const ExportOptions& options,
                                    const std::vector<std::string>& refitted, std::optional<double> refitKl)
{
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
    kv.emplace_back("bitstudio.export.format", GgufValue::str(exportFormatName(options.format)));
    if (!model.recipe.is_null())
        kv.emplace_back("bitstudio.recipe", GgufValue::str(model.recipe.dump()));
    if (!model.modelFingerprint.empty())
        kv.emplace_back("bitstudio.run.model_fingerprint", GgufValue::str(model.modelFingerprint));
    if (!model.calibrationFingerprint.empty())
        kv.emplace_back("bitstudio.run.calibration_fingerprint", GgufValue::str(model.calibrationFingerprint));
    if (!model.runPath.empty())
        kv.emplace_back("bitstudio.run.file",
                        GgufValue::str(std::filesystem::path(model.runPath).filename().string()));
    if (!refitted.empty()) {
        kv.emplace_back("bitstudio.export.refitted_tensors", GgufValue::stringArray(refitted));
        if (refitKl)
            kv.emplace_back("bitstudio.export.refit_kl", GgufValue::f32(static_cast<float>(*refitKl)));
    }
    if (options.format == ExportFormat::Bitstudio) {
        std::vector<std::string> names;
        for (const auto& [name, q] : model.layers) {
            names.push_back(name);
            kv.emplace_back(kBitstudioTensorKeyPrefix + name, GgufValue::str(bitstudioDescriptor(q).dump()));
        }
        kv.emplace_back(kBitstudioTensorsKey, GgufValue::stringArray(names));
    }
    return w;
}

} // namespace bq::exporter::detail
