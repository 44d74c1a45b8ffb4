#include "gram_collector.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/util/thread_pool.h"
#include <chrono>

namespace bq::quant {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

} // namespace

GramCollector::GramCollector(CalibrationStreams& streams)
    : m_streams(streams), m_slots(std::size_t(streams.pool().size()))
{
}

void GramCollector::collect(const CollectSpec& spec, const std::function<void(int, Slot&, int)>& produce,
                            BlockGrams& grams)
{
    const int T = m_streams.seqLen();
    bool started = false;
    m_streams.forEachWave(
        [&](int s, int slot, int worker) {
            Slot& sl = m_slots[std::size_t(slot)];
            const auto produceStart = Clock::now();
            produce(s, sl, worker);
            const auto gramStart = Clock::now();
            sl.forwardSeconds = std::chrono::duration<double>(gramStart - produceStart).count();
            // float32 chunk Grams of this sequence (one GEMM shape for every sequence: deterministic). Only the
            // lower triangle of Ĥ and H_fp is formed; the float64 sums are mirrored at the end.
            for (int site = 0; site < kBlockSiteCount; ++site) {
                if (!spec.sites[std::size_t(site)])
                    continue;
                const int m = sl.width[std::size_t(site)];
                // X is T × m row-major, i.e. Xᵀ column-major with leading dimension m: XᵀX = (Xᵀ)(Xᵀ)ᵀ.
                const float* xq = sl.inQ[std::size_t(site)].data();
                Eigen::MatrixXf& g = sl.gQ[std::size_t(site)];
                g.resize(m, m);
                dense::syrkLower(m, T, 1.0f, xq, m, 0.0f, g.data(), m);
                if (spec.fpGram || spec.cross) {
                    const float* xf = sl.inF[std::size_t(site)].data();
                    if (spec.fpGram) {
                        Eigen::MatrixXf& gf = sl.gF[std::size_t(site)];
                        gf.resize(m, m);
                        dense::syrkLower(m, T, 1.0f, xf, m, 0.0f, gf.data(), m);
                    }
                    if (spec.cross) {
                        Eigen::MatrixXf& gc = sl.gC[std::size_t(site)];
                        gc.resize(m, m);
                        dense::gemm(false, true, m, m, T, 1.0f, xq, m, xf, m, 0.0f, gc.data(), m); // X̂ᵀX
                    }
                }
            }
            sl.gramSeconds = secondsSince(gramStart);
        },
        [&](int, int wave, double waveSeconds) {
            double fwd = 0, gram = 0;
            for (int i = 0; i < wave; ++i) {
                fwd += m_slots[std::size_t(i)].forwardSeconds;
                gram += m_slots[std::size_t(i)].gramSeconds;
            }
            if (fwd + gram > 0)
                m_gramSeconds += waveSeconds * gram / (fwd + gram);
            for (int site = 0; site < kBlockSiteCount; ++site)
                if (spec.sites[std::size_t(site)]) {
                    const double m = m_slots[0].width[std::size_t(site)];
                    m_gramFlops += double(wave) * double(T) * m * m *
                                   (1.0 + (spec.fpGram ? 1.0 : 0.0) + (spec.cross ? 2.0 : 0.0));
                }
            const auto accumulateStart = Clock::now();
            for (int site = 0; site < kBlockSiteCount; ++site) {
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
                m_streams.pool().parallelFor(std::size_t(m), [&](std::size_t cb, std::size_t ce, int) {
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
            m_gramSeconds += secondsSince(accumulateStart);
            started = true;
        });
    const auto mirrorStart = Clock::now();
    for (int site = 0; site < kBlockSiteCount; ++site) {
        if (!spec.sites[std::size_t(site)])
            continue;
        SiteGrams& g = grams[std::size_t(site)];
        g.h.triangularView<Eigen::StrictlyUpper>() = g.h.transpose();
        if (spec.fpGram)
            g.hfp.triangularView<Eigen::StrictlyUpper>() = g.hfp.transpose();
    }
    m_gramSeconds += secondsSince(mirrorStart);
}

void GramCollector::collectBlock(const BlockWeights& wq, const BlockWeights& wf, const CollectSpec& spec,
                                 BlockGrams& grams)
{
    int last = -1;
    for (int s = 0; s < kBlockSiteCount; ++s)
        if (spec.sites[std::size_t(s)])
            last = s;
    collect(
        spec,
        [&](int s, Slot& slot, int worker) {
            // Copies the inputs of the collected sites; the pass ends after the last one.
            auto copyTo = [&](std::array<std::vector<float>, kBlockSiteCount>& dst) {
                return [&slot, &spec, &dst, last](BlockSite site, const float* x, int T, int m) {
                    const auto k = std::size_t(site);
                    if (spec.sites[k]) {
                        slot.width[k] = m;
                        dst[k].assign(x, x + std::size_t(T) * std::size_t(m));
                    }
                    return int(site) < last;
                };
            };
            m_streams.inspect(Stream::Quantized, wq, s, worker, copyTo(slot.inQ));
            if (spec.fpGram || spec.cross)
                m_streams.inspect(Stream::Fp, wf, s, worker, copyTo(slot.inF));
        },
        grams);
}

void GramCollector::collectHead(const float* outNorm, const CollectSpec& spec, BlockGrams& grams)
{
    const ModelConfig& c = m_streams.config();
    const std::size_t rowFloats = std::size_t(m_streams.seqLen()) * std::size_t(c.dim);
    collect(
        spec,
        [&](int s, Slot& slot, int) {
            auto normed = [&](Stream stream, std::vector<float>& out) {
                out.resize(rowFloats);
                rmsnormTokens(c, outNorm, m_streams.sequence(stream, s), m_streams.seqLen(), out.data());
            };
            slot.width[0] = c.dim;
            normed(Stream::Quantized, slot.inQ[0]);
            if (spec.fpGram || spec.cross)
                normed(Stream::Fp, slot.inF[0]);
        },
        grams);
}

} // namespace bq::quant
