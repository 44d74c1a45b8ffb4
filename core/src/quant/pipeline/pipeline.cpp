#include "bq/quant/pipeline/pipeline.h"
#include "bq/model/model.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/pipeline/block_forward.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/quant/run/fingerprint.h"
#include "bq/quant/methods/method.h"
#include "bq/quant/run/run_file.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/runtime/rope.h"
#include "bq/util/errors.h"
#include "bq/util/progress.h"
#include "bq/util/thread_pool.h"
#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <chrono>
#include <cstring>
#include <set>

namespace bq::quant {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The linear groups quantized one after another inside a block; group g reads site g.
const std::array<std::vector<std::string>, kSiteCount> kGroups{
    std::vector<std::string>{"attn_q", "attn_k", "attn_v"}, std::vector<std::string>{"attn_output"},
    std::vector<std::string>{"ffn_gate", "ffn_up"}, std::vector<std::string>{"ffn_down"}};

struct SiteGrams {
    Eigen::MatrixXd h, hfp, c; // Ĥ, H_fp, C (empty when not collected)
};

// What one collection pass gathers.
struct CollectSpec {
    std::array<bool, kSiteCount> sites{};
    bool fpGram = false;  // H_fp
    bool cross = false;   // C (needs the FP stream's inputs)
    int lastSite() const
    {
        int last = -1;
        for (int s = 0; s < kSiteCount; ++s)
            if (sites[std::size_t(s)])
                last = s;
        return last;
    }
};

// Per-sequence buffers of one wave slot.
struct Slot {
    std::array<std::vector<float>, kSiteCount> inQ, inF;
    std::array<int, kSiteCount> width{};
    std::array<Eigen::MatrixXf, kSiteCount> gQ, gF, gC;
    StreamComparison residual;
    double forwardSeconds = 0, gramSeconds = 0; // this wave's thread time (bench-quant's Gram share)
};

class Driver {
public:
    Driver(const QuantizeJobRequest& request, EventSink& sink, const CancelToken& cancel, QuantizeJobResult& result)
        : m_req(request), m_sink(sink), m_cancel(cancel), m_result(result), m_model(*request.model),
          m_config(request.model->config), m_rope(request.model->config), m_pool(request.threads),
          m_start(Clock::now())
    {
    }

    void run();
    // Records a cancel or failure in the run file (never throws: the job is already ending).
    void setRunStatus(RunStatus status, const std::string& message)
    {
        if (!m_writer)
            return;
        try {
            m_writer->setStatus(status, message);
            m_writer->close();
        } catch (const std::exception& e) {
            m_sink.log(LogLevel::Warning, std::string("run file: ") + e.what());
        }
    }

private:
    void log(LogLevel level, const std::string& text) { m_sink.log(level, text); }
    void progress(Stage stage, int step, int stepCount, int sub, int subCount, bool force = false);
    void prepareCalibration();
    void openRunFile();
    void embed();
    void processBlock(int layer);
    void replayBlock(int layer);
    void finalPass(int layer, const BlockWeights& wq, const BlockWeights& wf, LayerResult* deferred);
    void collect(const CollectSpec& spec,
                 const std::function<void(int sample, Slot& slot, int worker, const CollectSpec& spec)>& produce,
                 std::array<SiteGrams, kSiteCount>& grams);
    void collectBlock(const BlockWeights& wq, const BlockWeights& wf, const CollectSpec& spec,
                      std::array<SiteGrams, kSiteCount>& grams);
    QuantizedLinear quantizeLayer(const ResolvedTensor& rt, const MatrixXfR& weight, const SiteGrams* grams,
                                  LayerResult& out, MatrixXfR& quantized);
    // The part of quantizeLayer that touches no shared state (safe to run for several layers at once): the
    // method's notes are returned instead of logged, the counted bits are left to the caller.
    QuantizedLinear quantizeLayerIsolated(const ResolvedTensor& rt, const MatrixXfR& weight, const SiteGrams* grams,
                                          LayerResult& out, MatrixXfR& quantized, std::vector<std::string>& notes);
    void quantizeEmbedding();
    void quantizeHead();
    void recordLayer(LayerResult& r, const QuantizedLinear* params, bool emit);
    std::size_t sampleOffset(int s) const { return std::size_t(s) * std::size_t(m_T) * std::size_t(m_config.dim); }
    bool twoStreams() const { return m_twoStreams; }

    const QuantizeJobRequest& m_req;
    EventSink& m_sink;
    const CancelToken& m_cancel;
    QuantizeJobResult& m_result;
    const Model& m_model;
    const ModelConfig& m_config;
    Rope m_rope;
    ThreadPool m_pool;
    Clock::time_point m_start;
    ProgressThrottle m_throttle;

    CalibrationSet m_calib;
    int m_N = 0, m_T = 0;
    bool m_twoStreams = false;
    std::vector<float> m_hq, m_hfpIn, m_hfpOut;
    std::vector<BlockScratch> m_scratchQ, m_scratchF;
    std::vector<std::vector<float>> m_xq, m_xf;
    std::vector<Slot> m_slots;

    std::optional<RunFileWriter> m_writer;
    std::string m_modelFp; // computed only with a run file (it reads every byte of the model)
    int m_resumedBlocks = 0;
    std::map<std::string, QuantizedLinear> m_resumedParams;
    std::vector<LayerResult> m_resumedResults;
    std::map<std::string, QuantizedLinear> m_layers;
    std::shared_ptr<const std::vector<float>> m_embedQ; // quantized embedding (null: FP)
    int m_progressSteps = 0;
    AnalysisOptions m_analysis;
};

void Driver::progress(Stage stage, int step, int stepCount, int sub, int subCount, bool force)
{
    if (!force && !m_throttle.shouldEmit(step, stepCount))
        return;
    ProgressEvent e;
    e.stage = stage;
    e.step = step;
    e.stepCount = stepCount;
    e.sub = sub;
    e.subCount = subCount;
    e.elapsedSec = secondsSince(m_start);
    if (stage == Stage::Quantize && step > m_resumedBlocks && stepCount > 0) {
        const double done = double(step - m_resumedBlocks) + (subCount > 0 ? double(sub) / subCount : 0.0);
        const double left = double(stepCount - step) - (subCount > 0 ? double(sub) / subCount : 0.0);
        e.etaSec = e.elapsedSec / std::max(done, 1e-9) * std::max(0.0, left);
    }
    e.rssBytes = currentRssBytes();
    m_sink.progress(e);
}

void Driver::prepareCalibration()
{
    const Recipe& r = m_req.recipe;
    if (m_req.calibration) {
        m_calib = *m_req.calibration;
    } else if (!m_req.calibrationSources.empty()) {
        if (!m_model.tokenizer)
            throw std::invalid_argument(m_model.sourcePath + ": the model has no tokenizer to encode the calibration "
                                                             "text (pass --tokenizer FILE)");
        CalibrationOptions o;
        o.samples = r.samples;
        o.seqLen = r.seqLen;
        o.seed = r.seed;
        o.sampling = parseCalibrationSampling(r.sampling);
        m_calib = buildCalibration(*m_model.tokenizer, m_req.calibrationSources, o, &m_cancel);
    } else if (m_req.resume && std::filesystem::exists(m_req.runPath)) {
        const RunFileReader reader(m_req.runPath);
        const RunHeader& h = reader.header();
        m_calib.samples = int(h.calibrationTokens.samples);
        m_calib.seqLen = int(h.calibrationTokens.seqLen);
        m_calib.tokens = h.calibrationTokens.ids;
        m_calib.sampling = h.calibration.contains("sampling") ? h.calibration["sampling"] : h.calibration;
        m_calib.description = h.calibration.value("description", std::string("windows stored in the run file"));
    } else {
        throw std::invalid_argument("quantize: no calibration text given (--calib FILE)");
    }
    m_N = m_calib.samples;
    m_T = m_calib.seqLen;
    if (m_N <= 0 || m_T <= 0 || m_calib.tokens.size() != std::size_t(m_N) * std::size_t(m_T))
        throw std::invalid_argument("quantize: calibration set has " + std::to_string(m_calib.tokens.size()) +
                                    " tokens, expected samples × seq_len");
    if (m_T > m_config.maxSeqLen)
        log(LogLevel::Warning, "calibration windows of " + std::to_string(m_T) + " tokens exceed the model context " +
                                   std::to_string(m_config.maxSeqLen) + "; RoPE positions beyond it are extrapolated");
    for (std::int32_t t : m_calib.tokens)
        if (t < 0 || t >= m_config.vocabSize)
            throw std::invalid_argument("quantize: calibration token id " + std::to_string(t) +
                                        " is outside the vocabulary of " + m_model.sourcePath);
    m_result.calibrationDescription = m_calib.description;
    log(LogLevel::Info, "calibration: " + m_calib.description);
}

void Driver::openRunFile()
{
    if (m_req.runPath.empty())
        return;
    const nlohmann::json recipeJson = m_req.recipe.toJson();
    m_modelFp = modelFingerprint(m_model, &m_cancel);
    const std::string& modelFp = m_modelFp;
    const std::string calibFp = m_calib.fingerprint();
    if (m_req.resume && std::filesystem::exists(m_req.runPath)) {
        RunFingerprints expected{modelFp, calibFp, recipeFingerprint(recipeJson), ""};
        {
            // Read what is finished before the writer trims unfinished blocks (one open handle at a time).
            const RunFileReader reader(m_req.runPath);
            const RunHeader& h = reader.header();
            std::vector<std::string> diffs;
            if (h.modelFingerprint != expected.model)
                diffs.push_back("model fingerprint differs (run file " + h.modelFingerprint + ", now " + expected.model + ")");
            if (h.calibrationFingerprint != expected.calibration)
                diffs.push_back("calibration fingerprint differs (run file " + h.calibrationFingerprint + ", now " +
                                expected.calibration + ")");
            if (h.recipeFingerprint != expected.recipe)
                diffs.push_back("recipe fingerprint differs (run file " + h.recipeFingerprint + ", now " +
                                expected.recipe + ")");
            if (!diffs.empty()) {
                std::string msg = m_req.runPath.string() + ": cannot resume: ";
                for (std::size_t i = 0; i < diffs.size(); ++i)
                    msg += (i ? "; " : "") + diffs[i];
                throw std::runtime_error(msg);
            }
            m_resumedBlocks = std::min(reader.finishedBlocks(), m_config.nLayers);
            std::set<std::string> withParams;
            for (const auto& n : reader.quantizedLayerNames())
                withParams.insert(n);
            for (const LayerResult& r : reader.layers()) {
                if (r.block >= m_resumedBlocks)
                    continue;
                if (r.block < 0 && r.tensor == "output.weight" && m_resumedBlocks < m_config.nLayers)
                    continue;
                m_resumedResults.push_back(r);
                if (withParams.count(r.tensor))
                    m_resumedParams.emplace(r.tensor, reader.loadQuantizedLinear(r.tensor));
            }
        }
        m_writer.emplace(RunFileWriter::openForResume(m_req.runPath, expected));
        log(LogLevel::Info, "resuming " + m_req.runPath.string() + " after " + std::to_string(m_resumedBlocks) +
                                " finished block(s)");
        return;
    }
    if (m_req.resume)
        log(LogLevel::Info, m_req.runPath.string() + " does not exist yet; starting a new run");
    RunHeader h;
    h.recipe = recipeJson;
    h.modelFingerprint = modelFp;
    h.calibrationFingerprint = calibFp;
    h.modelPath = m_req.modelPath.empty() ? m_model.sourcePath : m_req.modelPath;
    h.tokenizerPath = m_req.tokenizerPath;
    h.calibration = {{"sampling", m_calib.sampling}, {"description", m_calib.description}};
    h.calibrationTokens.samples = m_N;
    h.calibrationTokens.seqLen = m_T;
    h.calibrationTokens.ids = m_calib.tokens;
    h.blockCount = m_config.nLayers;
    m_writer.emplace(RunFileWriter::create(m_req.runPath, h));
}

void Driver::recordLayer(LayerResult& r, const QuantizedLinear* params, bool emit)
{
    if (m_writer)
        m_writer->writeLayer(r, params);
    if (emit)
        m_sink.layerDone(r);
}

QuantizedLinear Driver::quantizeLayer(const ResolvedTensor& rt, const MatrixXfR& weight, const SiteGrams* grams,
                                      LayerResult& out, MatrixXfR& quantized)
{
    std::vector<std::string> notes;
    const auto start = Clock::now();
    QuantizedLinear q = quantizeLayerIsolated(rt, weight, grams, out, quantized, notes);
    m_result.layerSeconds += secondsSince(start);
    for (const std::string& note : notes)
        log(LogLevel::Info, note);
    m_result.countedBits += q.storageBitsPerWeight * double(q.rows) * double(q.cols);
    return q;
}

QuantizedLinear Driver::quantizeLayerIsolated(const ResolvedTensor& rt, const MatrixXfR& weight,
                                              const SiteGrams* grams, LayerResult& out, MatrixXfR& quantized,
                                              std::vector<std::string>& notes)
{
    const MethodInfo& method = findMethod(rt.method);
    LayerStatistics stats;
    if (grams) {
        stats.gram = &grams->h;
        if (grams->hfp.size())
            stats.gramFp = &grams->hfp;
        if (grams->c.size())
            stats.crossGram = &grams->c;
        stats.tokens = std::int64_t(m_N) * m_T;
    }
    if (method.needsTwoStreams && (!stats.gramFp || !stats.crossGram))
        throw std::logic_error(rt.tensor + ": method " + rt.method + " needs the FP stream statistics");
    QuantizeRequest req;
    req.weight = &weight;
    req.stats = stats;
    req.options = rt.options;
    req.tensor = rt.tensor;
    req.cancel = &m_cancel;
    MethodDiagnostics diag;
    const auto t0 = Clock::now();
    QuantizedLinear q = method.quantize(req, diag);
    const double seconds = secondsSince(t0);
    q.tensor = rt.tensor;
    q.validate();
    if (q.rows != weight.rows() || q.cols != weight.cols())
        throw std::logic_error(rt.tensor + ": method " + rt.method + " returned a " + std::to_string(q.rows) + " x " +
                               std::to_string(q.cols) + " result");
    quantized = q.dequantize();
    for (const std::string& note : diag.notes)
        notes.push_back(rt.tensor + ": " + note);
    const auto t1 = Clock::now();
    LayerAnalysis a = analyzeLayer(weight, quantized, grams ? stats : LayerStatistics{}, &diag, m_analysis, &m_cancel);
    a.quantizeSeconds = seconds;
    a.analysisSeconds = secondsSince(t1);
    a.rssBytes = currentRssBytes();
    a.peakRssBytes = peakRssBytes();
    out.tensor = rt.tensor;
    out.block = rt.block;
    out.method = rt.method;
    out.decidedBy = rt.decidedBy;
    packLayerResult(a, out);
    out.bitsPerWeight = q.storageBitsPerWeight;
    out.seconds = seconds;
    return q;
}

void Driver::collect(const CollectSpec& spec,
                     const std::function<void(int, Slot&, int, const CollectSpec&)>& produce,
                     std::array<SiteGrams, kSiteCount>& grams)
{
    const int W = m_pool.size();
    bool started = false;
    for (int s0 = 0; s0 < m_N; s0 += W) {
        m_cancel.throwIfRequested();
        const int wave = std::min(W, m_N - s0);
        std::atomic<bool> cancelled{false};
        const auto waveStart = Clock::now();
        m_pool.parallelFor(std::size_t(wave), [&](std::size_t b, std::size_t e, int worker) {
            for (std::size_t i = b; i < e; ++i) {
                if (m_cancel.requested()) {
                    cancelled = true;
                    return;
                }
                Slot& slot = m_slots[i];
                const auto produceStart = Clock::now();
                produce(s0 + int(i), slot, worker, spec);
                const auto gramStart = Clock::now();
                slot.forwardSeconds = std::chrono::duration<double>(gramStart - produceStart).count();
                // float32 chunk Grams of this sequence (one GEMM shape for every sequence: deterministic). Only
                // the lower triangle of Ĥ and H_fp is formed; collect() mirrors the float64 sums at the end.
                for (int site = 0; site < kSiteCount; ++site) {
                    if (!spec.sites[std::size_t(site)])
                        continue;
                    const int m = slot.width[std::size_t(site)];
                    // X is T × m row-major, i.e. Xᵀ column-major with leading dimension m: XᵀX = (Xᵀ)(Xᵀ)ᵀ.
                    const float* xq = slot.inQ[std::size_t(site)].data();
                    Eigen::MatrixXf& g = slot.gQ[std::size_t(site)];
                    g.resize(m, m);
                    dense::syrkLower(m, m_T, 1.0f, xq, m, 0.0f, g.data(), m);
                    if (spec.fpGram || spec.cross) {
                        const float* xf = slot.inF[std::size_t(site)].data();
                        if (spec.fpGram) {
                            Eigen::MatrixXf& gf = slot.gF[std::size_t(site)];
                            gf.resize(m, m);
                            dense::syrkLower(m, m_T, 1.0f, xf, m, 0.0f, gf.data(), m);
                        }
                        if (spec.cross) {
                            Eigen::MatrixXf& gc = slot.gC[std::size_t(site)];
                            gc.resize(m, m);
                            dense::gemm(false, true, m, m, m_T, 1.0f, xq, m, xf, m, 0.0f, gc.data(), m); // X̂ᵀX
                        }
                    }
                }
                slot.gramSeconds = secondsSince(gramStart);
            }
        });
        if (cancelled)
            throw Cancelled();
        {
            const double waveSeconds = secondsSince(waveStart);
            double fwd = 0, gram = 0;
            for (int i = 0; i < wave; ++i) {
                fwd += m_slots[std::size_t(i)].forwardSeconds;
                gram += m_slots[std::size_t(i)].gramSeconds;
            }
            if (fwd + gram > 0)
                m_result.gramSeconds += waveSeconds * gram / (fwd + gram);
            for (int site = 0; site < kSiteCount; ++site)
                if (spec.sites[std::size_t(site)]) {
                    const double m = m_slots[0].width[std::size_t(site)];
                    m_result.gramFlops += double(wave) * double(m_T) * m * m *
                                          (1.0 + (spec.fpGram ? 1.0 : 0.0) + (spec.cross ? 2.0 : 0.0));
                }
        }
        const auto accumulateStart = Clock::now();
        for (int site = 0; site < kSiteCount; ++site) {
            if (!spec.sites[std::size_t(site)])
                continue;
            const int m = m_slots[0].width[std::size_t(site)];
            SiteGrams& g = grams[std::size_t(site)];
            if (!started) {
                g.h.setZero(m, m);
                if (spec.fpGram)
                    g.hfp.setZero(m, m);
                if (spec.cross)
                    g.c.setZero(m, m);
            }
            // Sequence order within every column: the sums do not depend on the thread count.
            m_pool.parallelFor(std::size_t(m), [&](std::size_t cb, std::size_t ce, int) {
                for (int i = 0; i < wave; ++i) {
                    const Slot& slot = m_slots[std::size_t(i)];
                    for (std::size_t j = cb; j < ce; ++j) {
                        const auto jj = Eigen::Index(j), below = Eigen::Index(m) - jj; // lower triangle from (j, j)
                        g.h.col(jj).tail(below) += slot.gQ[std::size_t(site)].col(jj).tail(below).cast<double>();
                        if (spec.fpGram)
                            g.hfp.col(jj).tail(below) +=
                                slot.gF[std::size_t(site)].col(jj).tail(below).cast<double>();
                        if (spec.cross)
                            g.c.col(jj) += slot.gC[std::size_t(site)].col(jj).cast<double>();
                    }
                }
            });
        }
        m_result.gramSeconds += secondsSince(accumulateStart);
        started = true;
    }
    const auto mirrorStart = Clock::now();
    for (int site = 0; site < kSiteCount; ++site) {
        if (!spec.sites[std::size_t(site)])
            continue;
        SiteGrams& g = grams[std::size_t(site)];
        g.h.triangularView<Eigen::StrictlyUpper>() = g.h.transpose();
        if (spec.fpGram)
            g.hfp.triangularView<Eigen::StrictlyUpper>() = g.hfp.transpose();
    }
    m_result.gramSeconds += secondsSince(mirrorStart);
}

void Driver::collectBlock(const BlockWeights& wq, const BlockWeights& wf, const CollectSpec& spec,
                          std::array<SiteGrams, kSiteCount>& grams)
{
    const int last = spec.lastSite();
    const std::size_t rowFloats = std::size_t(m_T) * std::size_t(m_config.dim);
    collect(spec,
            [&](int s, Slot& slot, int worker, const CollectSpec& sp) {
                auto copyTo = [&](std::array<std::vector<float>, kSiteCount>& dst) {
                    return [&, dstp = &dst](Site site, const float* x, int T, int m) {
                        const auto k = std::size_t(site);
                        if (!sp.sites[k])
                            return;
                        slot.width[k] = m;
                        (*dstp)[k].assign(x, x + std::size_t(T) * std::size_t(m));
                    };
                };
                std::vector<float>& xq = m_xq[std::size_t(worker)];
                xq.assign(m_hq.begin() + std::ptrdiff_t(sampleOffset(s)),
                          m_hq.begin() + std::ptrdiff_t(sampleOffset(s) + rowFloats));
                forwardBlock(m_config, m_rope, wq, xq.data(), m_T, m_scratchQ[std::size_t(worker)], copyTo(slot.inQ),
                             last);
                if (sp.fpGram || sp.cross) {
                    std::vector<float>& xf = m_xf[std::size_t(worker)];
                    xf.assign(m_hfpIn.begin() + std::ptrdiff_t(sampleOffset(s)),
                              m_hfpIn.begin() + std::ptrdiff_t(sampleOffset(s) + rowFloats));
                    forwardBlock(m_config, m_rope, wf, xf.data(), m_T, m_scratchF[std::size_t(worker)],
                                 copyTo(slot.inF), last);
                }
            },
            grams);
}

void Driver::finalPass(int layer, const BlockWeights& wq, const BlockWeights& wf, LayerResult* deferred)
{
    const std::size_t rowFloats = std::size_t(m_T) * std::size_t(m_config.dim);
    const int W = m_pool.size();
    StreamComparison residual;
    TokenSimilarityAccumulator tokenSim;
    const int tokenSimSequences = std::min(m_N, 8);
    for (int s0 = 0; s0 < m_N; s0 += W) {
        m_cancel.throwIfRequested();
        const int wave = std::min(W, m_N - s0);
        std::atomic<bool> cancelled{false};
        m_pool.parallelFor(std::size_t(wave), [&](std::size_t b, std::size_t e, int worker) {
            for (std::size_t i = b; i < e; ++i) {
                if (m_cancel.requested()) {
                    cancelled = true;
                    return;
                }
                const int s = s0 + int(i);
                float* xq = m_hq.data() + sampleOffset(s);
                forwardBlock(m_config, m_rope, wq, xq, m_T, m_scratchQ[std::size_t(worker)]);
                m_slots[i].residual.reset();
                if (m_twoStreams) {
                    float* xf = m_hfpOut.data() + sampleOffset(s);
                    std::memcpy(xf, m_hfpIn.data() + sampleOffset(s), rowFloats * sizeof(float));
                    forwardBlock(m_config, m_rope, wf, xf, m_T, m_scratchF[std::size_t(worker)]);
                    m_slots[i].residual.add(xq, xf, m_T, m_config.dim);
                }
            }
        });
        if (cancelled)
            throw Cancelled();
        if (m_twoStreams)
            for (int i = 0; i < wave; ++i) {
                residual.merge(m_slots[std::size_t(i)].residual);
                const int s = s0 + i;
                if (s < tokenSimSequences)
                    tokenSim.addSequence(Eigen::Map<const MatrixXfR>(m_hq.data() + sampleOffset(s), m_T, m_config.dim),
                                         Eigen::Map<const MatrixXfR>(m_hfpOut.data() + sampleOffset(s), m_T,
                                                                     m_config.dim));
            }
        progress(Stage::Quantize, layer, m_progressSteps, 7, 7);
    }
    if (m_twoStreams)
        std::swap(m_hfpIn, m_hfpOut);
    std::map<std::string, double> blockMetrics;
    if (m_twoStreams) {
        blockMetrics[metric::ResidualRelMse] = residual.relativeMse();
        blockMetrics[metric::ResidualCosine] = residual.meanCosine();
        blockMetrics[metric::TokenSimNormalized] = tokenSim.meanNormalized();
        blockMetrics[metric::TokenSimUnnormalized] = tokenSim.meanUnnormalized();
        if (deferred) {
            for (const auto& [k, v] : blockMetrics)
                deferred->metrics[k] = v;
            auto arrays = deferred->arrays ? std::make_shared<LayerArrays>(*deferred->arrays)
                                           : std::make_shared<LayerArrays>();
            arrays->values[array::TokenSimNormalized] = tokenSim.normalized();
            arrays->values[array::TokenSimUnnormalized] = tokenSim.unnormalized();
            deferred->arrays = arrays;
        }
        char line[160];
        std::snprintf(line, sizeof line, "block %d: residual stream rel. MSE %.4g, mean cosine %.4f", layer,
                      residual.relativeMse(), residual.meanCosine());
        log(LogLevel::Info, line);
    }
    if (m_writer)
        m_writer->writeBlock(layer, blockMetrics);
}

void Driver::processBlock(int layer)
{
    BlockWeightStore fp(m_model, layer);
    const BlockWeights wf = fp.weights();
    BlockWeights wq = wf;
    std::vector<std::shared_ptr<std::vector<float>>> owned; // Ŵ storage the quantized stream points to
    const Resolution& res = m_result.resolution;
    std::array<std::vector<std::pair<std::string, const ResolvedTensor*>>, kSiteCount> todo; // (part, resolution)
    CollectSpec first;
    bool anyTwoStreamDown = false;
    for (int g = 0; g < kSiteCount; ++g)
        for (const std::string& part : kGroups[std::size_t(g)]) {
            const ResolvedTensor* rt = res.find(blockTensorName(layer, part.c_str()));
            if (!rt)
                throw std::logic_error("no resolution for " + blockTensorName(layer, part.c_str()));
            if (rt->keepFp) {
                LayerResult kept;
                kept.tensor = rt->tensor;
                kept.block = layer;
                kept.method = "fp";
                kept.decidedBy = rt->decidedBy;
                kept.bitsPerWeight = 16;
                recordLayer(kept, nullptr, true);
                continue;
            }
            todo[std::size_t(g)].emplace_back(part, rt);
            first.sites[std::size_t(g)] = true;
            anyTwoStreamDown = anyTwoStreamDown || (g == 3 && rt->needsTwoStreams);
        }
    first.fpGram = first.cross = m_twoStreams;
    std::array<SiteGrams, kSiteCount> grams;
    int lastGroup = -1;
    for (int g = 0; g < kSiteCount; ++g)
        if (!todo[std::size_t(g)].empty())
            lastGroup = g;
    if (lastGroup >= 0)
        collectBlock(wq, wf, first, grams);
    const int layersInBlock = 7;
    int layerIndex = 0;
    bool quantizedEarlier = false;
    std::optional<LayerResult> deferred;
    // Layers whose statistics are ready are independent: a batch of them (every group up to the next one that
    // re-collects) runs on the worker threads at once, largest first, and is recorded in the usual order.
    // Each layer's result depends only on its own inputs, so the results do not depend on the thread count.
    struct LayerJob {
        int group = 0;
        std::string part;
        const ResolvedTensor* rt = nullptr;
        MatrixXfR quantized;
        LayerResult result;
        std::optional<QuantizedLinear> params;
        std::vector<std::string> notes;
        std::exception_ptr error;
    };
    std::vector<LayerJob> batch;
    auto runBatch = [&] {
        if (batch.empty())
            return;
        progress(Stage::Quantize, layer, m_progressSteps, layerIndex, layersInBlock);
        std::vector<std::size_t> order(batch.size());
        for (std::size_t i = 0; i < order.size(); ++i)
            order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            const auto cost = [&](std::size_t i) { return double(batch[i].rt->rows) * double(batch[i].rt->cols); };
            return cost(a) > cost(b);
        });
        std::atomic<std::size_t> next{0};
        const auto batchStart = Clock::now();
        m_pool.parallelFor(std::size_t(m_pool.size()), [&](std::size_t, std::size_t, int) {
            for (std::size_t k = next++; k < order.size(); k = next++) {
                LayerJob& job = batch[order[k]];
                try {
                    const std::vector<float>& values = fp.linearValues(job.part);
                    const MatrixXfR weight = Eigen::Map<const MatrixXfR>(values.data(), job.rt->rows, job.rt->cols);
                    job.params = quantizeLayerIsolated(*job.rt, weight, &grams[std::size_t(job.group)], job.result,
                                                       job.quantized, job.notes);
                } catch (...) {
                    job.error = std::current_exception();
                }
            }
        });
        m_result.layerSeconds += secondsSince(batchStart);
        for (LayerJob& job : batch)
            if (job.error)
                std::rethrow_exception(job.error);
        for (LayerJob& job : batch) {
            for (const std::string& note : job.notes)
                log(LogLevel::Info, note);
            QuantizedLinear& q = *job.params;
            m_result.countedBits += q.storageBitsPerWeight * double(q.rows) * double(q.cols);
            auto store = std::make_shared<std::vector<float>>(job.quantized.data(),
                                                              job.quantized.data() + job.quantized.size());
            owned.push_back(store);
            wq.linear(job.part) = store->data();
            const bool last = job.group == lastGroup && job.rt == todo[std::size_t(job.group)].back().second;
            if (last)
                deferred = job.result; // gets the block's residual-stream metrics after the final pass
            else
                recordLayer(job.result, &q, true);
            if (last && m_writer)
                m_writer->writeLayer(job.result, &q); // params now; the result is rewritten with block metrics below
            m_layers.emplace(job.rt->tensor, std::move(q));
            ++layerIndex;
        }
        batch.clear();
    };
    for (int g = 0; g < kSiteCount; ++g) {
        if (todo[std::size_t(g)].empty())
            continue;
        const bool recollect = quantizedEarlier && (m_req.recipe.trueSequential ||
                                                    (g == 3 && m_req.recipe.recollectDown && anyTwoStreamDown));
        if (recollect) {
            runBatch(); // the re-collection reads the quantized weights of every earlier layer
            CollectSpec again;
            again.sites[std::size_t(g)] = true;
            again.cross = m_twoStreams;
            std::array<SiteGrams, kSiteCount> fresh;
            collectBlock(wq, wf, again, fresh);
            grams[std::size_t(g)].h = std::move(fresh[std::size_t(g)].h);
            if (m_twoStreams)
                grams[std::size_t(g)].c = std::move(fresh[std::size_t(g)].c);
            log(LogLevel::Debug, "block " + std::to_string(layer) + ": re-collected " + siteName(Site(g)) +
                                     " statistics after quantizing the earlier layers");
        }
        for (const auto& [part, rt] : todo[std::size_t(g)]) {
            LayerJob job;
            job.group = g;
            job.part = part;
            job.rt = rt;
            batch.push_back(std::move(job));
        }
        quantizedEarlier = true;
    }
    runBatch();
    finalPass(layer, wq, wf, deferred ? &*deferred : nullptr);
    if (deferred) {
        recordLayer(*deferred, &m_layers.at(deferred->tensor), true);
    }
    if (m_writer)
        m_writer->finishBlock(layer);
}

void Driver::replayBlock(int layer)
{
    BlockWeightStore fp(m_model, layer);
    const BlockWeights wf = fp.weights();
    BlockWeights wq = wf;
    std::vector<std::shared_ptr<std::vector<float>>> owned;
    for (const char* part : blockLinearParts()) {
        const std::string name = blockTensorName(layer, part);
        auto it = m_resumedParams.find(name);
        if (it == m_resumedParams.end())
            continue;
        const MatrixXfR w = it->second.dequantize();
        auto store = std::make_shared<std::vector<float>>(w.data(), w.data() + w.size());
        owned.push_back(store);
        wq.linear(part) = store->data();
        m_result.countedBits += it->second.storageBitsPerWeight * double(it->second.rows) * double(it->second.cols);
        m_layers.emplace(name, it->second);
    }
    for (const char* part : blockLinearParts()) // the order the layers were produced in
        for (const LayerResult& r : m_resumedResults)
            if (r.tensor == blockTensorName(layer, part))
                m_sink.layerDone(r);
    const std::size_t rowFloats = std::size_t(m_T) * std::size_t(m_config.dim);
    const int W = m_pool.size();
    for (int s0 = 0; s0 < m_N; s0 += W) {
        m_cancel.throwIfRequested();
        const int wave = std::min(W, m_N - s0);
        m_pool.parallelFor(std::size_t(wave), [&](std::size_t b, std::size_t e, int worker) {
            for (std::size_t i = b; i < e; ++i) {
                const int s = s0 + int(i);
                forwardBlock(m_config, m_rope, wq, m_hq.data() + sampleOffset(s), m_T, m_scratchQ[std::size_t(worker)]);
                if (m_twoStreams) {
                    float* xf = m_hfpOut.data() + sampleOffset(s);
                    std::memcpy(xf, m_hfpIn.data() + sampleOffset(s), rowFloats * sizeof(float));
                    forwardBlock(m_config, m_rope, wf, xf, m_T, m_scratchF[std::size_t(worker)]);
                }
            }
        });
    }
    if (m_twoStreams)
        std::swap(m_hfpIn, m_hfpOut);
    progress(Stage::Quantize, layer + 1, m_progressSteps, 0, 7, true);
}

void Driver::quantizeEmbedding()
{
    const ResolvedTensor* rt = m_result.resolution.find("token_embd.weight");
    if (!rt || rt->keepFp)
        return;
    if (auto it = m_resumedParams.find(rt->tensor); it != m_resumedParams.end()) {
        const MatrixXfR w = it->second.dequantize();
        m_embedQ = std::make_shared<const std::vector<float>>(w.data(), w.data() + w.size());
        m_result.countedBits += it->second.storageBitsPerWeight * double(it->second.rows) * double(it->second.cols);
        m_layers.emplace(rt->tensor, it->second);
        for (const LayerResult& r : m_resumedResults)
            if (r.tensor == rt->tensor)
                m_sink.layerDone(r);
        return;
    }
    const std::vector<float> values = m_model.tensor("token_embd.weight").toFloat();
    const MatrixXfR weight = Eigen::Map<const MatrixXfR>(values.data(), rt->rows, rt->cols);
    MatrixXfR quantized;
    LayerResult r;
    QuantizedLinear q = quantizeLayer(*rt, weight, nullptr, r, quantized);
    m_embedQ = std::make_shared<const std::vector<float>>(quantized.data(), quantized.data() + quantized.size());
    recordLayer(r, &q, true);
    m_layers.emplace(rt->tensor, std::move(q));
}

void Driver::embed()
{
    const std::size_t total = std::size_t(m_N) * std::size_t(m_T) * std::size_t(m_config.dim);
    m_hq.assign(total, 0.0f);
    const std::vector<float> fpEmbed = m_model.tensor("token_embd.weight").toFloat();
    const float* q = m_embedQ ? m_embedQ->data() : fpEmbed.data();
    for (int s = 0; s < m_N; ++s)
        embedTokens(q, m_config.dim, m_calib.sample(s).data(), m_T, m_hq.data() + sampleOffset(s));
    if (m_twoStreams) {
        m_hfpIn.assign(total, 0.0f);
        m_hfpOut.assign(total, 0.0f);
        for (int s = 0; s < m_N; ++s)
            embedTokens(fpEmbed.data(), m_config.dim, m_calib.sample(s).data(), m_T, m_hfpIn.data() + sampleOffset(s));
    }
}

void Driver::quantizeHead()
{
    const ResolvedTensor* rt = m_result.resolution.find("output.weight");
    if (!rt || rt->keepFp)
        return;
    if (auto it = m_resumedParams.find(rt->tensor); it != m_resumedParams.end()) {
        m_result.countedBits += it->second.storageBitsPerWeight * double(it->second.rows) * double(it->second.cols);
        m_layers.emplace(rt->tensor, it->second);
        for (const LayerResult& r : m_resumedResults)
            if (r.tensor == rt->tensor)
                m_sink.layerDone(r);
        return;
    }
    progress(Stage::Quantize, m_config.nLayers, m_progressSteps, 0, 1, true);
    const std::vector<float> outNorm = m_model.tensor("output_norm.weight").toFloat();
    const std::size_t rowFloats = std::size_t(m_T) * std::size_t(m_config.dim);
    std::array<SiteGrams, kSiteCount> grams;
    CollectSpec spec;
    spec.sites[0] = true; // the head's input reuses slot 0
    spec.fpGram = spec.cross = m_twoStreams;
    const int dim = m_config.dim;
    collect(spec,
            [&](int s, Slot& slot, int, const CollectSpec& sp) {
                auto normed = [&](const float* h, std::vector<float>& out) {
                    out.resize(rowFloats);
                    for (int t = 0; t < m_T; ++t)
                        kernels::rmsnorm(out.data() + std::size_t(t) * std::size_t(dim),
                                         h + std::size_t(t) * std::size_t(dim), outNorm.data(), dim, m_config.normEps);
                };
                slot.width[0] = dim;
                normed(m_hq.data() + sampleOffset(s), slot.inQ[0]);
                if (sp.fpGram || sp.cross)
                    normed(m_hfpIn.data() + sampleOffset(s), slot.inF[0]);
            },
            grams);
    const std::vector<float> values = m_model.outputHead().toFloat();
    const MatrixXfR weight = Eigen::Map<const MatrixXfR>(values.data(), rt->rows, rt->cols);
    MatrixXfR quantized;
    LayerResult r;
    QuantizedLinear q = quantizeLayer(*rt, weight, &grams[0], r, quantized);
    recordLayer(r, &q, true);
    m_layers.emplace(rt->tensor, std::move(q));
}

void Driver::run()
{
    const Recipe& recipe = m_req.recipe;
    progress(Stage::Load, 0, 1, 0, 0, true);
    m_result.resolution = resolveRecipe(recipe, m_model);
    for (const std::string& w : m_result.resolution.warnings)
        log(LogLevel::Warning, w);
    m_result.estimate = estimateRun(recipe, m_result.resolution, m_model, m_pool.size(), !m_req.runPath.empty());
    m_twoStreams = recipe.analysis == "full" || m_result.resolution.anyTwoStreams();
    if (recipe.analysis == "light") {
        m_analysis.spectra = false;
        m_analysis.gramSpectrum = false;
        m_analysis.histograms = false;
    }
    m_analysis.percdamp = recipe.damping;
    progress(Stage::Load, 1, 1, 0, 0, true);

    progress(Stage::Calibrate, 0, 1, 0, 0, true);
    prepareCalibration();
    openRunFile();
    progress(Stage::Calibrate, 1, 1, 0, 0, true);

    const int W = m_pool.size();
    m_scratchQ.resize(std::size_t(W));
    m_scratchF.resize(std::size_t(W));
    m_xq.resize(std::size_t(W));
    m_xf.resize(std::size_t(W));
    m_slots.resize(std::size_t(W));
    const ResolvedTensor* head = m_result.resolution.find("output.weight");
    m_progressSteps = m_config.nLayers + (head && !head->keepFp ? 1 : 0);

    quantizeEmbedding();
    embed();
    for (int l = 0; l < m_config.nLayers; ++l) {
        if (l < m_resumedBlocks)
            replayBlock(l);
        else
            processBlock(l);
        progress(Stage::Quantize, l + 1, m_progressSteps, 0, 7, true);
    }
    quantizeHead();
    progress(Stage::Quantize, m_progressSteps, m_progressSteps, 0, 0, true);

    auto qm = std::make_shared<QuantizedModel>();
    qm->base = m_req.model;
    qm->layers = std::move(m_layers);
    qm->recipe = recipe.toJson();
    qm->modelFingerprint = m_modelFp;
    qm->calibrationFingerprint = m_calib.fingerprint();
    qm->runPath = m_req.runPath.string();
    m_result.model = qm;
    m_result.resumedBlocks = m_resumedBlocks;
    if (m_writer) {
        m_writer->setStatus(RunStatus::Completed);
        m_writer->close();
    }
}

} // namespace

QuantizeJobResult runQuantization(const QuantizeJobRequest& request, EventSink& sink, const CancelToken& cancel)
{
    QuantizeJobResult result;
    const auto t0 = Clock::now();
    std::optional<Driver> driver;
    try {
        if (!request.model)
            throw std::invalid_argument("quantize: no model");
        driver.emplace(request, sink, cancel, result);
        driver->run();
        result.job.status = JobStatus::Completed;
        result.job.message = "quantized " + std::to_string(result.model->layers.size()) + " weight matrices";
        if (!request.runPath.empty())
            result.job.outputs.push_back(request.runPath);
    } catch (const Cancelled&) {
        result.job.status = JobStatus::Cancelled;
        result.job.message = "cancelled";
        if (driver)
            driver->setRunStatus(RunStatus::Cancelled, "cancelled");
        sink.log(LogLevel::Warning, "quantization cancelled; the run file keeps the finished blocks (use --resume)");
    } catch (const std::exception& e) {
        result.job.status = JobStatus::Failed;
        result.job.message = e.what();
        if (driver)
            driver->setRunStatus(RunStatus::Failed, e.what());
        sink.log(LogLevel::Error, e.what());
    }
    result.seconds = secondsSince(t0);
    result.peakRssBytes = peakRssBytes();
    return result;
}

} // namespace bq::quant
