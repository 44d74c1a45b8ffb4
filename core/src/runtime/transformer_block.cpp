#include "bq/runtime/transformer_block.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/runtime/kernels_q.h"
#include "bq/runtime/packed_linear_q.h"
#include "bq/runtime/rope.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace bq {

void Linear::apply(const float* X, int T, float* Y, ThreadPool* pool) const
{
    if (!packed)
        kernels::matmul(w, rows, cols, X, T, Y, pool);
    else if (T == 1)
        packed->gemv(X, Y, pool);
    else
        packed->gemm(X, T, Y, pool);
}

std::uint64_t Linear::bytes() const
{
    return packed ? packed->weightBytes() : 4ull * static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols);
}

Linear& BlockWeights::linear(std::string_view part)
{
    return const_cast<Linear&>(static_cast<const BlockWeights&>(*this).linear(part));
}

const Linear& BlockWeights::linear(std::string_view part) const
{
    if (part == "attn_q") return wq;
    if (part == "attn_k") return wk;
    if (part == "attn_v") return wv;
    if (part == "attn_output") return wo;
    if (part == "ffn_gate") return gate;
    if (part == "ffn_up") return up;
    if (part == "ffn_down") return down;
    throw std::invalid_argument("BlockWeights: '" + std::string(part) + "' is not a block linear");
}

namespace {

// Projections of the same input (q/k/v, gate/up): built-in block-packed ones of one type share one activation
// quantization and one pool dispatch; anything else runs one by one. Same results either way.
void applyShared(std::initializer_list<std::pair<const Linear*, float*>> list, const float* X, int T, ThreadPool* pool)
{
    kernels::PackedMatrixOut mats[4];
    DType types[4]{};
    int count = 0;
    bool fused = list.size() > 1 && list.size() <= 4;
    for (const auto& [lin, y] : list) {
        if (!fused)
            break;
        fused = lin->blockPacked && blockOperands(*lin->packed, mats[count], types[count]) &&
                types[count] == types[0] && lin->cols == list.begin()->first->cols;
        mats[count++].Y = y;
    }
    if (!fused) {
        for (const auto& [lin, y] : list)
            lin->apply(X, T, y, pool);
        return;
    }
    kernels::packedMatmulMulti(types[0], mats, count, list.begin()->first->cols, X, T, pool);
}

// Queries whose attention runs as one tile (their score rows: kQueryBlock × span floats per worker).
constexpr int kQueryBlock = 16;

// fn(begin, end, worker) over [0, n): split by the pool, or all on this thread without one.
void forEachChunk(ThreadPool* pool, std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn)
{
    if (pool)
        pool->parallelFor(n, fn);
    else
        fn(0, n, 0);
}

} // namespace

void rmsnormTokens(const ModelConfig& c, const float* weights, const float* x, int T, float* out)
{
    const auto dim = static_cast<std::size_t>(c.dim);
    for (int t = 0; t < T; ++t)
        kernels::rmsnorm(out + static_cast<std::size_t>(t) * dim, x + static_cast<std::size_t>(t) * dim, weights,
                         c.dim, c.normEps);
}

void forwardBlock(const ModelConfig& c, const Rope& rope, const BlockWeights& w, float* x, int T, const BlockKv& kv,
                  BlockScratch& s, ThreadPool* pool, const BlockSiteHook& hook)
{
    const auto ut = static_cast<std::size_t>(T);
    const auto dim = static_cast<std::size_t>(c.dim), qDim = static_cast<std::size_t>(c.qDim()),
               kvDim = static_cast<std::size_t>(c.kvDim()), hidden = static_cast<std::size_t>(c.hiddenDim);
    const int hd = c.headDim;
    const bool f16 = kv.keys == nullptr;
    const int span = kv.cached + T; // cached rows the last token attends to
    const int workers = pool ? pool->size() : 1;
    const kernels::F32Path path = kernels::bestF32Path();
    s.xb.resize(ut * std::max(dim, qDim));
    s.q.resize(ut * qDim);
    if (f16) {
        s.k.resize(ut * kvDim);
        s.v.resize(ut * kvDim);
    }
    s.att.resize(ut * qDim);
    s.hb.resize(ut * hidden);
    s.hb2.resize(ut * hidden);
    s.scores.resize(
        std::max(s.scores.size(), static_cast<std::size_t>(workers) * kQueryBlock * static_cast<std::size_t>(span)));
    s.cosv.resize(static_cast<std::size_t>(hd / 2));
    s.sinv.resize(static_cast<std::size_t>(hd / 2));
    auto goOn = [&](BlockSite site, const float* in, std::size_t m) {
        return !hook || hook(site, in, T, static_cast<int>(m));
    };
    // An fp32 cache receives the new keys and values directly (its rows are T × kvDim row-major from `cached`).
    float* newKeys = f16 ? s.k.data() : kv.keys + static_cast<std::size_t>(kv.cached) * kvDim;
    float* newValues = f16 ? s.v.data() : kv.values + static_cast<std::size_t>(kv.cached) * kvDim;
    auto keyRow16 = [&](int j) { return kv.keys16 + static_cast<std::size_t>(j) * kvDim; };
    auto valueRow16 = [&](int j) { return kv.values16 + static_cast<std::size_t>(j) * kvDim; };

    // Attention.
    rmsnormTokens(c, w.attnNorm, x, T, s.xb.data());
    if (!goOn(BlockSite::AttnIn, s.xb.data(), dim))
        return;
    applyShared({{&w.wq, s.q.data()}, {&w.wk, newKeys}, {&w.wv, newValues}}, s.xb.data(), T, pool);
    for (int t = 0; t < T; ++t) {
        float* q = s.q.data() + static_cast<std::size_t>(t) * qDim;
        float* k = newKeys + static_cast<std::size_t>(t) * kvDim;
        float* v = newValues + static_cast<std::size_t>(t) * kvDim;
        if (w.bq) {
            for (std::size_t i = 0; i < qDim; ++i)
                q[i] += w.bq[i];
            for (std::size_t i = 0; i < kvDim; ++i) {
                k[i] += w.bk[i];
                v[i] += w.bv[i];
            }
        }
        if (w.qNorm) {
            for (int h = 0; h < c.nHeads; ++h)
                kernels::rmsnorm(q + h * hd, q + h * hd, w.qNorm, hd, c.normEps);
            for (int h = 0; h < c.nKvHeads; ++h)
                kernels::rmsnorm(k + h * hd, k + h * hd, w.kNorm, hd, c.normEps);
        }
        rope.angles(kv.position + t, s.cosv.data(), s.sinv.data());
        rope.apply(q, c.nHeads, s.cosv.data(), s.sinv.data());
        rope.apply(k, c.nKvHeads, s.cosv.data(), s.sinv.data());
        if (f16) {
            kernels::floatToHalfRow(k, keyRow16(kv.cached + t), static_cast<int>(kvDim));
            kernels::floatToHalfRow(v, valueRow16(kv.cached + t), static_cast<int>(kvDim));
        }
    }
    // Grouped-query causal attention, one head per task (independent, so thread-count invariant).
    const int kvMul = c.nHeads / c.nKvHeads;
    const float scaleDiv = std::sqrt(static_cast<float>(hd));
    const auto uspan = static_cast<std::size_t>(span);
    forEachChunk(pool, static_cast<std::size_t>(c.nHeads), [&](std::size_t hb, std::size_t he, int worker) {
        float* scores = s.scores.data() + static_cast<std::size_t>(worker) * kQueryBlock * uspan;
        for (auto h = static_cast<int>(hb); h < static_cast<int>(he); ++h) {
            const std::size_t kvOff = static_cast<std::size_t>(h / kvMul) * static_cast<std::size_t>(hd);
            if (f16) {
                for (int t = 0; t < T; ++t) {
                    const float* q = s.q.data() + static_cast<std::size_t>(t) * qDim + static_cast<std::size_t>(h) * hd;
                    const int n = kv.cached + t + 1;
                    for (int j = 0; j < n; ++j)
                        scores[j] = kernels::dotF16(q, keyRow16(j) + kvOff, hd) / scaleDiv;
                    kernels::softmax(scores, n);
                    float* out = s.att.data() + static_cast<std::size_t>(t) * qDim + static_cast<std::size_t>(h) * hd;
                    std::fill(out, out + hd, 0.0f);
                    for (int j = 0; j < n; ++j)
                        kernels::axpyF16(scores[j], valueRow16(j) + kvOff, out, hd);
                }
                continue;
            }
            // fp32 cache: kQueryBlock queries at a time, their scores and value sums tiled like a GEMM; per query
            // the same sums as one dotRows / axpyRows call (kernels_f32.h), so prefill equals decode.
            for (int t0 = 0; t0 < T; t0 += kQueryBlock) {
                const int m = std::min(kQueryBlock, T - t0), count0 = kv.cached + t0 + 1;
                const std::size_t first = static_cast<std::size_t>(t0) * qDim + static_cast<std::size_t>(h) * hd;
                kernels::dotRowsCausal(path, s.q.data() + first, qDim, m, kv.keys + kvOff, kvDim, count0, hd, scores,
                                       uspan);
                for (int i = 0; i < m; ++i) {
                    float* row = scores + static_cast<std::size_t>(i) * uspan;
                    const int n = count0 + i;
                    for (int j = 0; j < n; ++j)
                        row[j] /= scaleDiv;
                    kernels::softmax(row, n);
                    std::fill_n(s.att.data() + first + static_cast<std::size_t>(i) * qDim, hd, 0.0f);
                }
                kernels::axpyRowsCausal(path, scores, uspan, m, kv.values + kvOff, kvDim, count0, s.att.data() + first,
                                        qDim, hd);
            }
        }
    });
    if (!goOn(BlockSite::AttnOut, s.att.data(), qDim))
        return;
    w.wo.apply(s.att.data(), T, s.xb.data(), pool);
    for (std::size_t i = 0; i < ut * dim; ++i)
        x[i] += s.xb[i];

    // SwiGLU feed-forward.
    rmsnormTokens(c, w.ffnNorm, x, T, s.xb.data());
    if (!goOn(BlockSite::FfnIn, s.xb.data(), dim))
        return;
    applyShared({{&w.gate, s.hb.data()}, {&w.up, s.hb2.data()}}, s.xb.data(), T, pool);
    kernels::siluMul(s.hb.data(), s.hb2.data(), static_cast<int>(ut * hidden));
    if (!goOn(BlockSite::FfnMid, s.hb.data(), hidden))
        return;
    w.down.apply(s.hb.data(), T, s.xb.data(), pool);
    for (std::size_t i = 0; i < ut * dim; ++i)
        x[i] += s.xb[i];
}

} // namespace bq
