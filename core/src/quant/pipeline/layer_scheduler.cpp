#include "layer_scheduler.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/pipeline/block_weights.h"
#include "bq/util/thread_pool.h"
#include <chrono>
#include <cstdio>

namespace bq::quant {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int kLayersPerBlock = 7;

// Owns Ŵ values and points `linear` at them (the quantized stream then runs Ŵ).
void useQuantized(Linear& linear, std::vector<std::shared_ptr<const std::vector<float>>>& owned,
                  std::shared_ptr<const std::vector<float>> values)
{
    linear.w = values->data();
    owned.push_back(std::move(values));
}

std::shared_ptr<const std::vector<float>> valuesOf(const MatrixXfR& m)
{
    return std::make_shared<const std::vector<float>>(m.data(), m.data() + m.size());
}

} // namespace

LayerScheduler::LayerScheduler(const QuantizeJobRequest& request, const Resolution& resolution,
                               const ResumedRun& resumed, CalibrationStreams& streams, GramCollector& grams,
                               const LayerQuantizer& quantizer, RunEvents& events, QuantizeJobResult& stats)
    : m_request(request), m_model(*request.model), m_resolution(resolution), m_resumed(resumed), m_streams(streams),
      m_grams(grams), m_quantizer(quantizer), m_events(events), m_stats(stats)
{
    const ResolvedTensor* head = resolution.find("output.weight");
    m_progressSteps = m_model.config.nLayers + (head && !head->keepFp ? 1 : 0);
}

void LayerScheduler::record(LayerJob& job)
{
    for (const std::string& note : job.notes)
        m_events.log(LogLevel::Info, note);
    QuantizedLinear& q = *job.params;
    m_stats.countedBits += q.storageBitsPerWeight * double(q.rows) * double(q.cols);
    m_events.layerDone(job.result, &q);
    m_layers.emplace(job.rt->tensor, std::move(q));
}

const QuantizedLinear* LayerScheduler::restore(const std::string& tensor)
{
    const auto it = m_resumed.params.find(tensor);
    if (it != m_resumed.params.end()) {
        const QuantizedLinear& q = it->second;
        m_stats.countedBits += q.storageBitsPerWeight * double(q.rows) * double(q.cols);
        m_layers.emplace(tensor, q);
    }
    for (const LayerResult& r : m_resumed.layers)
        if (r.tensor == tensor)
            m_events.layerReplayed(r);
    return it != m_resumed.params.end() ? &it->second : nullptr;
}

void LayerScheduler::runSingle(LayerJob& job)
{
    const auto start = Clock::now();
    m_quantizer.run(job);
    m_stats.layerSeconds += secondsSince(start);
    record(job);
}

bool LayerScheduler::anyQuantized(int layer) const
{
    for (const auto& parts : siteLinearParts())
        for (const std::string& part : parts)
            if (const ResolvedTensor* rt = m_resolution.find(blockTensorName(layer, part.c_str())); rt && !rt->keepFp)
                return true;
    return false;
}

std::shared_ptr<const std::vector<float>> LayerScheduler::quantizeEmbedding()
{
    const ResolvedTensor* rt = m_resolution.find("token_embd.weight");
    if (!rt || rt->keepFp)
        return nullptr;
    if (const QuantizedLinear* q = restore(rt->tensor))
        return valuesOf(q->dequantize());
    const std::vector<float> values = m_model.tensor("token_embd.weight").toFloat();
    LayerJob job;
    job.rt = rt;
    job.weight = values.data();
    runSingle(job);
    return valuesOf(job.quantized);
}

void LayerScheduler::quantizeBlock(int layer)
{
    const auto start = Clock::now();
    const bool twoStreams = m_streams.twoStreams();
    const BlockWeightStore fp(m_model, layer);
    const BlockWeights& wf = fp.weights();
    BlockWeights wq = wf;
    std::vector<std::shared_ptr<const std::vector<float>>> owned; // the Ŵ values wq points to

    // The layers to quantize per site (kept ones are reported right away), and what the first pass collects.
    std::array<std::vector<std::pair<std::string, const ResolvedTensor*>>, kBlockSiteCount> todo;
    CollectSpec first;
    bool anyTwoStreamDown = false, anyLayer = false;
    for (int g = 0; g < kBlockSiteCount; ++g)
        for (const std::string& part : siteLinearParts()[std::size_t(g)]) {
            const ResolvedTensor* rt = m_resolution.find(blockTensorName(layer, part.c_str()));
            if (!rt)
                throw std::logic_error("no resolution for " + blockTensorName(layer, part.c_str()));
            if (rt->keepFp) {
                LayerResult kept;
                kept.tensor = rt->tensor;
                kept.block = layer;
                kept.method = "fp";
                kept.decidedBy = rt->decidedBy;
                kept.bitsPerWeight = 16;
                m_events.layerDone(kept, nullptr);
                continue;
            }
            todo[std::size_t(g)].emplace_back(part, rt);
            first.sites[std::size_t(g)] = true;
            anyTwoStreamDown = anyTwoStreamDown || (g == int(BlockSite::FfnMid) && rt->needsTwoStreams);
            anyLayer = true;
        }
    first.fpGram = first.cross = twoStreams;
    BlockGrams grams;
    if (anyLayer)
        m_grams.collectBlock(wq, wf, first, grams);

    // Layers whose statistics are ready are independent: a batch of them (every group up to the next one that
    // re-collects) runs on the workers at once and is recorded in the usual order.
    int layerIndex = 0;
    bool quantizedEarlier = false;
    std::vector<LayerJob> batch;
    std::vector<std::string> batchParts;
    auto runBatch = [&] {
        if (batch.empty())
            return;
        m_events.progress(Stage::Quantize, layer, m_progressSteps, layerIndex, kLayersPerBlock);
        const auto batchStart = Clock::now();
        m_quantizer.runAll(batch, m_streams.pool());
        m_stats.layerSeconds += secondsSince(batchStart);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            useQuantized(wq.linear(batchParts[i]), owned, valuesOf(batch[i].quantized));
            record(batch[i]);
            ++layerIndex;
        }
        batch.clear();
        batchParts.clear();
    };
    for (int g = 0; g < kBlockSiteCount; ++g) {
        if (todo[std::size_t(g)].empty())
            continue;
        const bool recollect =
            quantizedEarlier && (m_request.recipe.trueSequential ||
                                 (g == int(BlockSite::FfnMid) && m_request.recipe.recollectDown && anyTwoStreamDown));
        if (recollect) {
            runBatch(); // the re-collection reads the quantized weights of every earlier layer
            CollectSpec again;
            again.sites[std::size_t(g)] = true;
            again.cross = twoStreams;
            BlockGrams fresh;
            m_grams.collectBlock(wq, wf, again, fresh);
            grams[std::size_t(g)].h = std::move(fresh[std::size_t(g)].h);
            if (twoStreams)
                grams[std::size_t(g)].c = std::move(fresh[std::size_t(g)].c);
            m_events.log(LogLevel::Debug, "block " + std::to_string(layer) + ": re-collected " +
                                              siteName(BlockSite(g)) +
                                              " statistics after quantizing the earlier layers");
        }
        for (const auto& [part, rt] : todo[std::size_t(g)]) {
            LayerJob job;
            job.rt = rt;
            job.weight = fp.linearValues(part).data();
            job.grams = &grams[std::size_t(g)];
            batch.push_back(std::move(job));
            batchParts.push_back(part);
        }
        quantizedEarlier = true;
    }
    runBatch();

    // The final pass: the inputs of the next block, and how far the quantized stream is from the FP one.
    const BlockComparison cmp = m_streams.advance(wq, wf, true, [&] {
        m_events.progress(Stage::Quantize, layer, m_progressSteps, kLayersPerBlock, kLayersPerBlock);
    });
    BlockResult block;
    block.block = layer;
    if (twoStreams) {
        block.metrics[metric::ResidualRelMse] = cmp.residual.relativeMse();
        block.metrics[metric::ResidualCosine] = cmp.residual.meanCosine();
        block.metrics[metric::TokenSimNormalized] = cmp.tokenSim.meanNormalized();
        block.metrics[metric::TokenSimUnnormalized] = cmp.tokenSim.meanUnnormalized();
        auto arrays = std::make_shared<LayerArrays>();
        arrays->values[array::TokenSimNormalized] = cmp.tokenSim.normalized();
        arrays->values[array::TokenSimUnnormalized] = cmp.tokenSim.unnormalized();
        block.arrays = arrays;
        char line[160];
        std::snprintf(line, sizeof line, "block %d: residual stream rel. MSE %.4g, mean cosine %.4f", layer,
                      cmp.residual.relativeMse(), cmp.residual.meanCosine());
        m_events.log(LogLevel::Info, line);
    }
    block.seconds = secondsSince(start);
    m_events.blockDone(block, anyLayer);
}

void LayerScheduler::replayBlock(int layer)
{
    const auto start = Clock::now();
    const BlockWeightStore fp(m_model, layer);
    const BlockWeights& wf = fp.weights();
    BlockWeights wq = wf;
    std::vector<std::shared_ptr<const std::vector<float>>> owned;
    for (const auto& parts : siteLinearParts()) // the order the layers were produced in
        for (const std::string& part : parts)
            if (const QuantizedLinear* q = restore(blockTensorName(layer, part.c_str())))
                useQuantized(wq.linear(part), owned, valuesOf(q->dequantize()));
    m_streams.advance(wq, wf, false, {});
    if (anyQuantized(layer)) {
        BlockResult block;
        block.block = layer;
        if (const auto it = m_resumed.blockMetrics.find(layer); it != m_resumed.blockMetrics.end())
            block.metrics = it->second;
        block.seconds = secondsSince(start);
        m_events.blockReplayed(block);
    }
    m_events.progress(Stage::Quantize, layer + 1, m_progressSteps, 0, kLayersPerBlock, true);
}

void LayerScheduler::quantizeHead()
{
    const ResolvedTensor* rt = m_resolution.find("output.weight");
    if (!rt || rt->keepFp)
        return;
    if (restore(rt->tensor))
        return;
    m_events.progress(Stage::Quantize, m_model.config.nLayers, m_progressSteps, 0, 1, true);
    const std::vector<float> outNorm = m_model.tensor("output_norm.weight").toFloat();
    CollectSpec spec;
    spec.sites[0] = true; // the head's input takes site 0's place
    spec.fpGram = spec.cross = m_streams.twoStreams();
    BlockGrams grams;
    m_grams.collectHead(outNorm.data(), spec, grams);
    const std::vector<float> values = m_model.outputHead().toFloat();
    LayerJob job;
    job.rt = rt;
    job.weight = values.data();
    job.grams = &grams[0];
    runSingle(job);
}

} // namespace bq::quant
