#include "bq/workflow/open_model.h"
#include "bq/demo/demo_model.h"
#include "bq/export/bitstudio_runtime.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/formats/model_loader.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/quant/fake_quant_model.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/packed_model.h"
#include <map>
#include <stdexcept>

namespace bq::workflow {

namespace {

// "exact": the bitstudio layers with fp32 activations (the reference); otherwise int8 where a layer fits.
BitstudioKernel bitstudioKernel(const OpenOptions& options)
{
    return options.backend == "exact" ? BitstudioKernel::Fp32 : BitstudioKernel::Auto;
}

std::shared_ptr<const Model> openBaseModel(const std::string& spec, const std::filesystem::path& tokenizer,
                                           bool requireTokenizer = true)
{
    if (spec == ":demo")
        return makeDemoModel();
    if (spec.rfind(":synthetic:", 0) == 0)
        return makeSyntheticModel(syntheticShape(spec.substr(11)));
    LoadOptions load;
    load.tokenizerPath = tokenizer;
    load.requireTokenizer = requireTokenizer;
    return loadModel(spec, load);
}

} // namespace

bool isRunFileSpec(const std::string& spec)
{
    return spec.size() > 3 && spec.compare(spec.size() - 3, 3, ".h5") == 0;
}

quant::ModelOpener runFileModelOpener(std::filesystem::path tokenizer)
{
    return [tokenizer](const std::filesystem::path& model, const std::filesystem::path& stored) {
        if (isRunFileSpec(model.string()))
            throw std::runtime_error(model.string() + ": a run file cannot start from another run file");
        return openBaseModel(model.string(), tokenizer.empty() ? stored : tokenizer);
    };
}

quant::QuantizedModel openRunFile(const std::filesystem::path& run, const OpenOptions& options)
{
    return quant::RunFileReader(run).loadQuantizedModel(runFileModelOpener(options.tokenizer));
}

std::shared_ptr<const Model> openModel(const std::string& spec, const OpenOptions& options)
{
    if (isRunFileSpec(spec))
        return quant::makeFakeQuantizedModel(openRunFile(spec, options));
    return openBaseModel(spec, options.tokenizer, options.requireTokenizer);
}

bool isBitstudioGguf(const Model& model)
{
    if (model.sourceFormat != "gguf")
        return false;
    for (const auto& [key, value] : model.metadata)
        if (key == kBitstudioTensorsKey)
            return true;
    return false;
}

std::shared_ptr<const InferenceModel> makeQuantizedInference(const quant::QuantizedModel& q,
                                                             const OpenOptions& options)
{
    if (!q.base->tokenizer)
        throw std::runtime_error(q.runPath + ": the base model has no tokenizer; pass --tokenizer FILE");
    if (options.backend != "packed" && options.backend != "exact")
        return makeFp32Model(q.base, options.threads, q.fakeQuantOverrides());
    // Every quantized layer through the bitstudio kernels (as the bitstudio export runs), the rest fp32.
    // A quantized tied embedding would also need a quantized lookup table, which only an exported file has.
    if (q.base->config.tiedEmbeddings && q.layers.count("token_embd.weight"))
        throw std::runtime_error(q.runPath + ": --backend packed: the run quantized the tied embedding; export it "
                                             "(bitstudio-cli export --format bitstudio) and run the exported file");
    auto linears = std::make_shared<std::map<std::string, std::shared_ptr<const PackedLinear>>>();
    for (const auto& [name, layer] : q.layers)
        linears->emplace(name, makeBitstudioPackedLinear(layer, bitstudioKernel(options)));
    PackedModelOptions packed;
    packed.linearFactory = [linears](const Model&, const std::string& name) {
        const auto it = linears->find(name);
        return it == linears->end() ? nullptr : it->second;
    };
    return makePackedModel(q.base, options.threads, std::move(packed));
}

std::shared_ptr<const InferenceModel> openInference(const std::string& spec, const OpenOptions& options)
{
    if (isRunFileSpec(spec))
        return makeQuantizedInference(openRunFile(spec, options), options);
    return makeInference(openModel(spec, options), spec, options);
}

std::shared_ptr<const InferenceModel> makeInference(std::shared_ptr<const Model> model, const std::string& spec,
                                                    const OpenOptions& options)
{
    if (!model->tokenizer)
        throw std::runtime_error(spec + ": no tokenizer found; pass --tokenizer FILE");
    if (options.backend == "fp32")
        return makeFp32Model(model, options.threads);
    if (isRunFileSpec(spec)) // openModel gave the fake-quantized model; the packed run needs the layers themselves
        return options.backend == "packed" || options.backend == "exact" ? openInference(spec, options)
                                                                          : makeFp32Model(model, options.threads);
    if (isBitstudioGguf(*model)) { // every quantized layer exactly, through the bitstudio kernels
        PackedModelOptions packed;
        packed.linearFactory = exporter::bitstudioLinearFactory(model->sourcePath, bitstudioKernel(options));
        return makePackedModel(model, options.threads, std::move(packed));
    }
    // Q1_0 / Q4_0 / Q8_0 linear weights: the packed runtime, used in place.
    if (options.backend == "packed" || options.backend == "exact" || hasPackedLinears(*model))
        return makePackedModel(model, options.threads);
    return makeFp32Model(model, options.threads);
}

} // namespace bq::workflow
