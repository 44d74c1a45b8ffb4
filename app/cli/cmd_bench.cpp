// `bitstudio-cli bench (MODEL | --synthetic SHAPE) [--threads N] [--json]`: prefill and decode tokens/s, the
// machine's measured read bandwidth in the same run, and each decode's share of its bandwidth roofline.
// One run measures several back-ends of the same model: fp32, and the packed runtime on Q1_0 / Q4_0 / Q8_0 /
// Q6_K / TQ2_0 / TQ1_0 versions built in memory (sign × mean|w| per 128 for Q1_0, ggml's reference quantizers for
// Q4_0 / Q8_0, superblock_quantize.cpp's for the others; TYPE:HEAD gives a back-end its own head type), or the
// packed tensors as stored for a packed GGUF. Every row names the kernel path it runs on this CPU.
#include "bq/bench/bench.h"
#include "bq/export/bitstudio_runtime.h"
#include "bq/model/synthetic.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/runtime/kernels_q.h"
#include "bq/util/cpu_features.h"
#include "bq/runtime/packed_model.h"
#include "bq/runtime/packed_quantize.h"
#include "bq/util/thread_pool.h"
#include <map>
#include <sstream>
#include "cli/cli_common.h"
#include "bq/runtime/bitstudio_linear.h"
#include "cli/commands.h"
#include <cstdio>
#include <iostream>

namespace bqcli {

namespace {

// "blk.3.ffn_down.weight" ×16 → "ffn_down ×16": which tensors a conversion left alone, compactly.
std::string summarizeNames(const std::vector<std::string>& names)
{
    std::map<std::string, int> counts;
    for (const auto& n : names) {
        std::string key = n;
        if (key.rfind("blk.", 0) == 0)
            key = key.substr(key.find('.', 4) + 1);
        if (key.size() > 7 && key.compare(key.size() - 7, 7, ".weight") == 0)
            key.resize(key.size() - 7);
        ++counts[key];
    }
    std::string out;
    for (const auto& [k, c] : counts)
        out += (out.empty() ? "" : ", ") + k + (c > 1 ? " x" + std::to_string(c) : "");
    return out.empty() ? "none" : out;
}

bq::DType packedType(const std::string& name)
{
    if (name == "q1_0")
        return bq::DType::Q1_0;
    if (name == "q4_0")
        return bq::DType::Q4_0;
    if (name == "q8_0")
        return bq::DType::Q8_0;
    if (name == "q6_k")
        return bq::DType::Q6_K;
    if (name == "tq2_0")
        return bq::DType::TQ2_0;
    if (name == "tq1_0")
        return bq::DType::TQ1_0;
    if (name == "f32")
        return bq::DType::F32;
    throw std::runtime_error("unknown type '" + name + "' (q1_0, q4_0, q8_0, q6_k, tq2_0, tq1_0, f32)");
}

// The kernel paths a back-end runs on this CPU (BQ_CPU caps them): the int8 block kernels of packed weights,
// the bitstudio row kernels, and the fp32 kernels of everything else (attention, norms, unpacked matrices).
std::string kernelPath(const std::string& kind)
{
    const std::string f32 = std::string("f32 ") + bq::kernels::f32PathName(bq::kernels::bestF32Path());
    if (kind == "fp32")
        return f32;
    const std::string bitstudioFp32 = std::string("bitstudio fp32-act ") + (bq::cpuFeatures().avx2 ? "avx2" : "scalar");
    if (kind == "bitstudio-fp32")
        return bitstudioFp32 + ", " + f32;
    if (kind == "bitstudio")
        return std::string("bitstudio int8 ") + bq::kernels::qPathName(bq::kernels::bestQPath()) + " (" + bitstudioFp32 +
               " for layers the int8 form cannot hold), " + f32;
    return std::string("int8 ") + bq::kernels::qPathName(bq::kernels::bestQPath()) + ", " + f32;
}

// "Q1_0 x42, Q6_K x1, F32 x13": the storage types of a model's tensors.
std::string typeMix(const bq::Model& model)
{
    std::map<std::string, int> counts;
    for (const auto& [name, t] : model.tensors)
        ++counts[bq::dtypeName(t.dtype)];
    std::string out;
    for (const auto& [k, c] : counts)
        out += (out.empty() ? "" : ", ") + k + " x" + std::to_string(c);
    return out;
}

} // namespace

void registerBench(CLI::App& app)
{
    struct Opts {
        std::string model, synthetic;
        ModelOptions modelOptions;
        int promptTokens = 128, decodeTokens = 32, repeats = 3, ctx = 2048;
        bool json = false;
        std::string backends, head = "same", kv = "f32";
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("bench", "Measure prefill/decode speed against the memory-bandwidth roofline");
    cmd->add_option("MODEL", o->model, "Model to benchmark (or --synthetic SHAPE)");
    std::string shapes;
    for (const auto& s : bq::syntheticShapes())
        shapes += (shapes.empty() ? "" : ", ") + s.name;
    cmd->add_option("--synthetic", o->synthetic, "A synthetic model of a real architecture's shape: " + shapes);
    cmd->add_option("--prompt-tokens", o->promptTokens, "Prefill length")->check(CLI::PositiveNumber);
    cmd->add_option("--decode-tokens", o->decodeTokens, "Decoded tokens per repeat")->check(CLI::PositiveNumber);
    cmd->add_option("--repeats", o->repeats, "Repeats (the best is reported)")->check(CLI::PositiveNumber);
    cmd->add_option("--ctx", o->ctx, "Context cap for synthetic models")->check(CLI::PositiveNumber);
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_option("--backends", o->backends,
                    "Comma-separated: fp32, q1_0, q4_0, q8_0, q6_k, tq2_0, tq1_0 (packed versions built in memory; TYPE:HEAD "
                    "gives one its own head type, e.g. q1_0:q6_k,q1_0:q8_0), packed (the model's "
                    "own packed tensors), bitstudio (int8 activations where a layer fits), bitstudio-fp32 (the "
                    "same layers with fp32 activations, the exact reference). Default: fp32,q1_0,q4_0 (fp32,packed "
                    "for a packed model)");
    cmd->add_option("--head", o->head, "Output head of the in-memory packed versions: same (as the linears), "
                                       "q8_0, q4_0, q6_k or f32");
    cmd->add_option("--kv", o->kv, "KV cache of the packed runtime: f32 or f16")
        ->check(CLI::IsMember({"f32", "f16"}));
    addModelOptions(*cmd, o->modelOptions);
    cmd->callback([o] {
        std::shared_ptr<const bq::Model> model;
        if (!o->synthetic.empty()) {
            bq::SyntheticShape shape = bq::syntheticShape(o->synthetic);
            shape.config.maxSeqLen = std::min(shape.config.maxSeqLen, o->ctx);
            std::fprintf(stderr, "generating synthetic %s model...\n", shape.name.c_str());
            model = bq::makeSyntheticModel(shape);
        } else if (!o->model.empty()) {
            model = openModel(o->model, o->modelOptions);
        } else {
            throw std::runtime_error("give a MODEL or --synthetic SHAPE");
        }
        bq::BenchRequest request;
        const bool packedInput = bq::hasPackedLinears(*model);
        std::string list = o->backends.empty() ? (packedInput ? "fp32,packed" : "fp32,q1_0,q4_0") : o->backends;
        bq::PackedModelOptions packedOptions;
        packedOptions.f16KvCache = o->kv == "f16";
        std::stringstream ss(list);
        std::string name;
        while (std::getline(ss, name, ',')) {
            if (name == "fp32") {
                request.models.push_back(bq::makeFp32Model(model, o->modelOptions.threads));
                request.notes.push_back(packedInput ? "packed tensors dequantized to fp32" : "");
                request.kernels.push_back(kernelPath("fp32"));
                request.kvElementBytesPerModel.push_back(4);
            } else if (name == "packed") {
                request.models.push_back(bq::makePackedModel(model, o->modelOptions.threads, packedOptions));
                request.notes.push_back("the model's packed tensors as stored (" + typeMix(*model) + "; llama.cpp types "
                                        "without packed kernels repacked to Q8_0 at load); KV cache " + o->kv);
                request.kernels.push_back(kernelPath("packed"));
                request.kvElementBytesPerModel.push_back(packedOptions.f16KvCache ? 2 : 4);
            } else if (name == "bitstudio" || name == "bitstudio-fp32") {
                // A bitstudio export runs as exported; any other model gets XNOR sign layers built in memory.
                const bool exported = bq::workflow::isBitstudioGguf(*model);
                if (!exported && packedInput)
                    throw std::runtime_error("bench: the bitstudio back-end runs a bitstudio export or an fp32 model; " +
                                             model->sourcePath + " holds other packed tensors");
                const bq::BitstudioKernel kernel =
                    name == "bitstudio" ? bq::BitstudioKernel::Auto : bq::BitstudioKernel::Fp32;
                bq::PackedModelOptions bitstudio = packedOptions;
                bitstudio.linearFactory = exported ? bq::exporter::bitstudioLinearFactory(model->sourcePath, kernel)
                                                   : bq::bitstudioSignFactory(kernel);
                if (!exported)
                    std::fprintf(stderr, "building bitstudio sign layers...\n");
                request.models.push_back(bq::makePackedModel(model, o->modelOptions.threads, bitstudio));
                request.notes.push_back(std::string(exported ? "bitstudio layers as exported"
                                                             : "bitstudio layout, sign x fp16 mean|w| per row (every "
                                                               "matrix incl. head), built in memory") +
                                        (name == "bitstudio" ? " (int8 activations where a layer fits)"
                                                             : " (fp32 activations)") +
                                        "; KV cache " + o->kv);
                request.kvElementBytesPerModel.push_back(bitstudio.f16KvCache ? 2 : 4);
                request.kernels.push_back(kernelPath(name));
            } else {
                // "q1_0" (head per --head) or "q1_0:q6_k" (this back-end's own head type).
                const auto colon = name.find(':');
                const bq::DType type = packedType(name.substr(0, colon));
                const std::string headName = colon != std::string::npos ? name.substr(colon + 1) : o->head;
                const bq::DType head = headName == "same" ? type : packedType(headName);
                std::fprintf(stderr, "packing the linear layers as %s (head %s)...\n", bq::dtypeName(type),
                             bq::dtypeName(head));
                bq::ThreadPool pool(o->modelOptions.threads);
                const auto conv = bq::packModelLinears(model, type, head, &pool);
                request.models.push_back(bq::makePackedModel(conv.model, o->modelOptions.threads, packedOptions));
                request.notes.push_back(std::string(conv.packed.empty() ? "NOTHING FITS THE BLOCK, runs as fp32: " : "") +
                                        bq::dtypeName(type) + " linears, " + bq::dtypeName(head) +
                                        " head (" + std::to_string(conv.packed.size()) +
                                        " tensors packed); left as they were: " + summarizeNames(conv.keptFloat) +
                                        "; norms fp32; KV cache " + o->kv);
                request.kvElementBytesPerModel.push_back(packedOptions.f16KvCache ? 2 : 4);
                request.kernels.push_back(kernelPath("packed"));
            }
        }
        if (request.models.empty())
            throw std::runtime_error("bench: --backends names no back-end");
        request.promptTokens = std::min(o->promptTokens, model->config.maxSeqLen - o->decodeTokens - 1);
        request.decodeTokens = o->decodeTokens;
        request.repeats = o->repeats;
        request.threads = request.models.front()->threads();
        bq::BenchReport report;
        ProgressPrinter progress("bench", o->json);
        bq::CancelToken cancel;
        checkJob(bq::runBench(request, report, progress, cancel));
        progress.finish();
        if (o->json)
            std::cout << bq::benchReportJson(report) << std::endl;
        else
            std::cout << bq::formatBenchTable(report);
    });
}

} // namespace bqcli
