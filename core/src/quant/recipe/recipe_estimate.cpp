// The size and peak-memory estimate of a resolved recipe (recipe.h, "Estimate"). What a method stores and needs
// comes from its MethodInfo hooks; this file counts the pipeline's own buffers around them.
#include "bq/model/model.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/recipe/recipe.h"
#include <algorithm>
#include <functional>
#include <stdexcept>

namespace bq::quant {

using nlohmann::json;

json Estimate::toJson() const
{
    return json{{"quantized_weights", quantizedWeights},
                {"kept_weights", keptWeights},
                {"other_params", otherParams},
                {"output_bytes", outputBytes},
                {"bits_per_weight_quantized", bitsPerWeightQuantized},
                {"bits_per_weight_overall", bitsPerWeightOverall},
                {"memory",
                 {{"model_bytes", modelBytes},
                  {"stream_bytes", streamBytes},
                  {"streams", streams},
                  {"gram_bytes", gramBytes},
                  {"scratch_bytes", scratchBytes},
                  {"method_bytes", methodBytes},
                  {"base_bytes", baseBytes},
                  {"result_bytes", resultBytes},
                  {"peak_bytes", peakBytes}}}};
}

namespace {

const MethodInfo& methodOf(const ResolvedTensor& t)
{
    if (!t.methodInfo)
        throw std::logic_error(t.tensor + ": a quantized tensor without its method (ResolvedTensor::methodInfo)");
    return *t.methodInfo;
}

} // namespace

double residentBytesPerWeight(const ResolvedTensor& t)
{
    if (t.keepFp || t.rows <= 0 || t.cols <= 0)
        return 0.0;
    return methodOf(t).residentBytesPerWeight(t.rows, t.cols, t.options);
}

double layerWorkingBytes(const ResolvedTensor& t)
{
    if (t.keepFp)
        return 0.0;
    const double n = double(t.rows), m = double(t.cols), nm = n * m;
    // The job's own copy of W, the dequantized Ŵ and the result being built live through the whole job.
    const double held = 4.0 * nm + 4.0 * nm + residentBytesPerWeight(t) * nm;
    const double method = methodOf(t).workingBytes(t.rows, t.cols, t.options);
    // Analysis after the method: W, Ŵ and W − Ŵ in float64 and one n × m product (outputErrors); the
    // singular values need one float64 copy and the smaller Gram.
    const double small = std::min(n, m);
    const double analysis = 4.0 * 8.0 * nm + 8.0 * small * small;
    return held + std::max(method, analysis);
}

Estimate estimateRun(const Recipe& recipe, const Resolution& resolution, const Model& model, int threads,
                     bool writesRunFile)
{
    Estimate e;
    const ModelConfig& c = model.config;
    std::int64_t matrixParams = 0;
    for (const ResolvedTensor& t : resolution.tensors) {
        const std::int64_t n = t.rows * t.cols;
        if (t.tensor == "output.weight" && c.tiedEmbeddings && t.keepFp)
            continue; // tied head kept: shares token_embd's storage
        matrixParams += n;
        if (t.keepFp) {
            e.keptWeights += n;
        } else {
            e.quantizedWeights += n;
            e.quantizedBits += t.bitsPerWeight * double(n);
        }
    }
    std::int64_t all = 0;
    for (const auto& [name, tensor] : model.tensors)
        all += tensor.numel();
    // Everything that is not an addressable matrix: norms, biases (a separate output head counts above).
    std::int64_t embedAndBlocks = 0;
    for (const ResolvedTensor& t : resolution.tensors)
        if (t.tensor != "output.weight")
            embedAndBlocks += t.rows * t.cols;
    const bool separateHead = model.find("output.weight") != nullptr;
    e.otherParams = all - embedAndBlocks - (separateHead ? std::int64_t(c.vocabSize) * c.dim : 0);
    e.outputBytes = e.quantizedBits / 8 + double(e.keptWeights) * 2 + double(e.otherParams) * 4;
    e.bitsPerWeightQuantized = e.quantizedWeights ? e.quantizedBits / double(e.quantizedWeights) : 0;
    const double totalParams = double(matrixParams + e.otherParams);
    e.bitsPerWeightOverall = totalParams > 0 ? e.outputBytes * 8 / totalParams : 0;

    // Memory (parts documented in recipe.h). Every part is a buffer the pipeline really allocates; the sizes
    // follow quant/pipeline/ (calibration_streams, gram_collector, layer_jobs), runtime/transformer_block.cpp
    // and the methods.
    for (const auto& [name, tensor] : model.tensors)
        e.modelBytes += double(tensor.nbytes);
    const double perBlockF32 = 4.0 * double(2 * c.qDim() * c.dim + 2 * c.kvDim() * c.dim + 3 * c.hiddenDim * c.dim);
    e.modelBytes += 2 * perBlockF32 + 4.0 * double(c.vocabSize) * c.dim; // FP block + Ŵ copies, embedding
    const bool twoStreams = recipe.analysis == "full" || resolution.anyTwoStreams();
    e.streams = twoStreams ? 2 : 1;
    const double stream = double(recipe.samples) * recipe.seqLen * c.dim * 4.0;
    e.streamBytes = stream * (twoStreams ? 3 : 1); // quantized, FP input, FP output
    const double grams = twoStreams ? 3 : 1;       // Ĥ, H_fp, C
    const double d = c.dim, q = c.qDim(), h = c.hiddenDim, kv = c.kvDim();
    const double siteSquares = d * d + q * q + d * d + h * h; // the four input sites of a block
    e.gramBytes = 8.0 * siteSquares * grams;
    // A re-collection builds Ĥ (and C) of one site while the block's first ones are still alive.
    bool downTwoStreams = false;
    for (const ResolvedTensor& t : resolution.tensors)
        if (t.tensor.find("ffn_down") != std::string::npos && t.needsTwoStreams)
            downTwoStreams = true;
    if (recipe.trueSequential)
        e.gramBytes += 8.0 * std::max({q * q, d * d, h * h}) * (twoStreams ? 2 : 1);
    else if (recipe.recollectDown && downTwoStreams)
        e.gramBytes += 8.0 * h * h * (twoStreams ? 2 : 1);
    const double T = recipe.seqLen;
    const double forwardScratch = 4.0 * T * (std::max(d, q) + 2 * q + 2 * kv + 2 * h); // BlockScratch
    const double siteInputs = 4.0 * T * (d + q + d + h);                            // Slot::inQ / inF
    const double perThread = (forwardScratch + siteInputs + 4.0 * T * d) * (twoStreams ? 2 : 1) +
                             4.0 * grams * siteSquares; // + the float32 chunk Grams of one sequence
    const int workers = std::max(1, threads);
    e.scratchBytes = perThread * workers;
    // Layers of a block run `workers` at a time, largest first: the largest working sets of one block.
    std::vector<double> jobs;
    for (const ResolvedTensor& t : resolution.tensors)
        if (!t.keepFp && t.block == 0)
            jobs.push_back(layerWorkingBytes(t));
    std::sort(jobs.begin(), jobs.end(), std::greater<>());
    for (std::size_t i = 0; i < jobs.size() && i < std::size_t(workers); ++i)
        e.methodBytes += jobs[i];
    for (const ResolvedTensor& t : resolution.tensors)
        if (!t.keepFp && t.block < 0) // embedding or head: quantized alone
            e.methodBytes = std::max(e.methodBytes, layerWorkingBytes(t));
    for (const ResolvedTensor& t : resolution.tensors)
        e.resultBytes += residentBytesPerWeight(t) * double(t.rows) * double(t.cols);
    e.baseBytes = (12.5 + (writesRunFile ? 12.0 : 0.0)) * 1048576.0;
    e.peakBytes = e.modelBytes + e.streamBytes + e.gramBytes + e.scratchBytes + e.methodBytes + e.resultBytes +
                  e.baseBytes;
    return e;
}

} // namespace bq::quant
