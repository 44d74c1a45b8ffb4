#include "bq/quant/pipeline/layer_statistics.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/pipeline/block_weights.h"
#include "bq/quant/quantized_model.h"
#include "bq/util/thread_pool.h"
#include "calibration_streams.h"
#include "gram_collector.h"
#include <deque>
#include <stdexcept>

namespace bq::quant {

namespace {

// Where a tensor reads its input: block `block` at `site`, or (block = nLayers) the output head.
struct InputSite {
    int block = 0;
    int site = 0;
};

InputSite locate(const Model& model, const std::string& tensor)
{
    const int blocks = model.config.nLayers;
    if (tensor == "output.weight")
        return {blocks, 0};
    for (int l = 0; l < blocks; ++l)
        for (int site = 0; site < kBlockSiteCount; ++site)
            for (const std::string& part : siteLinearParts()[std::size_t(site)])
                if (tensor == blockTensorName(l, part.c_str()))
                    return {l, site};
    throw std::invalid_argument(tensor + ": no input statistics for this tensor (only the blocks' linear layers "
                                         "and output.weight read a calibration input)");
}

const QuantizedLinear* quantized(const QuantizedModel* prefix, const std::string& tensor)
{
    if (!prefix)
        return nullptr;
    const auto it = prefix->layers.find(tensor);
    return it == prefix->layers.end() ? nullptr : &it->second;
}

void checkCalibration(const Model& model, const CalibrationSet& calibration)
{
    const int N = calibration.samples, T = calibration.seqLen;
    if (N <= 0 || T <= 0 || calibration.tokens.size() != std::size_t(N) * std::size_t(T))
        throw std::invalid_argument("layer statistics: the calibration set has " +
                                    std::to_string(calibration.tokens.size()) + " tokens, expected samples × seq_len");
    for (std::int32_t t : calibration.tokens)
        if (t < 0 || t >= model.config.vocabSize)
            throw std::invalid_argument("layer statistics: calibration token id " + std::to_string(t) +
                                        " is outside the vocabulary of " + model.sourcePath);
}

} // namespace

LayerGrams collectLayerStatistics(const Model& model, const CalibrationSet& calibration, const std::string& tensor,
                                  const QuantizedModel* prefix, const CancelToken& cancel,
                                  const std::function<void(int, int)>& progress, int threads)
{
    const InputSite target = locate(model, tensor);
    checkCalibration(model, calibration);
    ThreadPool pool(threads);
    CalibrationStreams streams(model.config, calibration, true, pool, cancel);
    GramCollector collector(streams);
    {
        const std::vector<float> fp = model.tensor("token_embd.weight").toFloat();
        MatrixXfR embedding;
        if (const QuantizedLinear* q = quantized(prefix, "token_embd.weight"))
            embedding = q->dequantize();
        streams.embed(embedding.size() ? embedding.data() : fp.data(), fp.data());
    }
    const int total = target.block + 1;
    for (int l = 0; l < target.block; ++l) {
        const BlockWeightStore fp(model, l);
        BlockWeights wq = fp.weights();
        std::deque<MatrixXfR> owned; // the prefix's Ŵ that wq points to (push_back keeps them in place)
        for (const auto& parts : siteLinearParts())
            for (const std::string& part : parts)
                if (const QuantizedLinear* q = quantized(prefix, blockTensorName(l, part.c_str()))) {
                    owned.push_back(q->dequantize());
                    wq.linear(part).w = owned.back().data();
                }
        streams.advance(wq, fp.weights(), false, {});
        if (progress)
            progress(l + 1, total);
    }

    CollectSpec spec;
    spec.sites[std::size_t(target.site)] = true;
    spec.fpGram = spec.cross = true;
    BlockGrams grams;
    if (target.block == model.config.nLayers) {
        const std::vector<float> outNorm = model.tensor("output_norm.weight").toFloat();
        collector.collectHead(outNorm.data(), spec, grams);
    } else {
        const BlockWeightStore fp(model, target.block);
        collector.collectBlock(fp.weights(), fp.weights(), spec, grams);
    }
    if (progress)
        progress(total, total);

    SiteGrams& g = grams[std::size_t(target.site)];
    LayerGrams out;
    out.gram = std::move(g.h);
    out.gramFp = std::move(g.hfp);
    out.crossGram = std::move(g.c);
    out.tokens = streams.tokens();
    return out;
}

} // namespace bq::quant
