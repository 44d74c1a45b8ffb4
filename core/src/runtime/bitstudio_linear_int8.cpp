// The int8-activation form of a bitstudio layer (bitstudio_linear.h): every part of a QuantizedLinear
// rewritten as Q1_0-style ±1 bitmaps with fp16 scales per (row, 128 columns), run by the packed Q1_0 kernels
// (kernels_q.h: AVX-512 VNNI planes, the AVX2 LUT layout, scalar), plus per-group sums of the activations.
//
//   plane, no mask / column mask   one bitmap s; the column mask zeroes those activations before quantization
//   plane, per-weight mask m       two bitmaps a = m∧s, b = m∧¬s:  Σ m·s·q = ½(S_a − S_b),  S_c = Σ (2c − 1)·q
//   mean under a per-weight mask   the same two bitmaps:            Σ m·q = ½(S_a + S_b) + Σq
//   mean otherwise                 mean × the group's activation sum
//   b-bit codes                    one bitmap per bit k:            Σ code·q = Σ_k 2^(k−1)·S_k + (2^b − 1)/2·Σq
//
// The ½ is applied to the activation scales (exact in fp32), so the weight side keeps the layer's own fp16
// scales and means (times ±1 or a power of two: exact). The result equals Ŵ·x̂ up to fp32 summation order, where
// x̂ is each part's activation (x times the plane's column scales, masked columns zeroed) quantized to int8 per
// 128 columns as for Q1_0 — the weights are exact, only the activations are rounded.
#include "bq/runtime/bitstudio_linear.h"
#include "bq/runtime/kernels_q.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace bq {

namespace {

constexpr int kBlock = 128; // Q1_0's block: the bitmaps' scale granularity and the activations' int8 block

bool isHalf(float v) { return std::isfinite(v) && std::fabs(v) <= 65504.0f && roundToHalf(v) == v; }

// Blocks of 128 columns per scale group (a whole row: all of them), or 0 when the groups do not fall on blocks.
int blocksPerGroup(int group, int cols, int blocks)
{
    if (group <= 0 || group >= cols)
        return blocks;
    return group % kBlock == 0 ? group / kBlock : 0;
}

std::string checkHalfValues(const Eigen::MatrixXf& values, const std::string& what, float factor = 1.0f)
{
    for (Eigen::Index i = 0; i < values.size(); ++i)
        if (!isHalf(values.data()[i] * factor))
            return what + " " + std::to_string(values.data()[i]) + " is not an fp16 value";
    return {};
}

// What one bitmap multiplies: x (or x times a plane's column scales, masked columns zeroed), quantized to int8
// per 128 columns; `half` halves the activation scales (the ½ of the identities in bitstudio_int8.h).
struct Variant {
    int colScalePlane = -1; // plane whose colScale multiplies x
    int colMaskPlane = -1;  // plane whose column mask zeroes x
    bool half = false;
    bool operator==(const Variant&) const = default;
};

struct Pass {
    kernels::Q1PlaneStore store;
    kernels::Q1Planes view;
    int variant = 0;
};

// y_i += Σ_g coef[i, g] · Σ_{j∈g} x̂_j (x̂ of a variant without `half`).
struct SumTerm {
    std::vector<float> coef; // rows × groups, row-major
    int groups = 1, blocksPerGroup = 1;
    int variant = 0;
};

class BitstudioInt8Linear final : public PackedLinear {
public:
    BitstudioInt8Linear(const QuantizedLinear& q, kernels::QPath path)
        : m_n(int(q.rows)), m_m(int(q.cols)), m_blocks((m_m + kBlock - 1) / kBlock), m_method(q.method), m_path(path)
    {
        for (int p = 0; p < int(q.planes.size()); ++p)
            addPlane(q, p);
        if (q.codes)
            addCodes(*q.codes);
        // Each bitmap: 16 bytes of bits and an fp16 scale per row and block.
        m_bytes = std::uint64_t(m_passes.size()) * std::uint64_t(m_n) * std::uint64_t(m_blocks) * 18;
        for (const SumTerm& term : m_sums)
            m_bytes += 4 * term.coef.size();
        for (const Variant& v : m_variants) {
            if (v.colScalePlane >= 0) {
                const Eigen::VectorXf& c = q.planes[std::size_t(v.colScalePlane)].colScale;
                m_colScales.emplace_back(c.data(), c.data() + c.size());
            } else {
                m_colScales.emplace_back();
            }
            if (v.colMaskPlane >= 0)
                m_colMasks.push_back(q.planes[std::size_t(v.colMaskPlane)].mask.columns);
            else
                m_colMasks.emplace_back();
        }
    }

    int rows() const override { return m_n; }
    int cols() const override { return m_m; }
    std::uint64_t weightBytes() const override { return m_bytes; }
    std::string kind() const override { return "bitstudio." + m_method; }

    void gemv(const float* x, float* y, ThreadPool* pool) const override { gemm(x, 1, y, pool); }

    void gemm(const float* X, int tokens, float* Y, ThreadPool* pool) const override
    {
        // The callers' scratch, read by the workers through these references (not their own thread_locals).
        thread_local std::vector<kernels::QuantizedActivations> actsStore;
        thread_local std::vector<float> padded, sumsStore, scratchStore;
        auto& acts = actsStore;
        auto& sums = sumsStore;
        auto& scratch = scratchStore;
        const int kp = m_blocks * kBlock;
        const auto T = static_cast<std::size_t>(tokens), N = static_cast<std::size_t>(m_n);
        acts.resize(m_variants.size());
        for (std::size_t v = 0; v < m_variants.size(); ++v) {
            const std::vector<float>& cs = m_colScales[v];
            const std::vector<std::uint8_t>& mask = m_colMasks[v];
            const float* source = X; // x itself, or a copy scaled, masked and padded to whole blocks
            if (!cs.empty() || !mask.empty() || kp != m_m) {
                padded.resize(T * std::size_t(kp));
                for (std::size_t t = 0; t < T; ++t) {
                    const float* x = X + t * std::size_t(m_m);
                    float* out = padded.data() + t * std::size_t(kp);
                    for (int j = 0; j < m_m; ++j) {
                        float value = cs.empty() ? x[j] : cs[std::size_t(j)] * x[j];
                        if (!mask.empty() && mask[std::size_t(j)] == 0)
                            value = 0.0f;
                        out[j] = value;
                    }
                    std::fill(out + m_m, out + kp, 0.0f);
                }
                source = padded.data();
            }
            kernels::quantizeActivations(m_path, source, tokens, kp, kBlock, acts[v], tokens > 1 ? pool : nullptr);
            if (m_variants[v].half)
                for (float& s : acts[v].scale)
                    s *= 0.5f;
        }
        // Group sums of the sum terms: Σ_{b∈g} d_b·Σq_b per token, in block order.
        std::size_t sumsSize = 0;
        for (const SumTerm& term : m_sums)
            sumsSize += T * std::size_t(term.groups);
        sums.assign(sumsSize, 0.0f);
        std::size_t offset = 0;
        for (const SumTerm& term : m_sums) {
            const kernels::QuantizedActivations& a = acts[std::size_t(term.variant)];
            for (std::size_t t = 0; t < T; ++t)
                for (int b = 0; b < m_blocks; ++b)
                    sums[offset + t * std::size_t(term.groups) + std::size_t(b / term.blocksPerGroup)] +=
                        a.scaleRow(int(t))[b] * float(a.sumRow(int(t))[b]);
            offset += T * std::size_t(term.groups);
        }
        if (m_passes.size() > 1)
            scratch.resize(T * N);
        auto rowsRange = [&](std::size_t begin, std::size_t end, int) {
            for (std::size_t p = 0; p < m_passes.size(); ++p) {
                const Pass& pass = m_passes[p];
                float* out = p == 0 ? Y : scratch.data();
                kernels::q1MatmulRows(m_path, pass.view, acts[std::size_t(pass.variant)], out, N, begin, end);
                if (p > 0)
                    for (std::size_t t = 0; t < T; ++t)
                        for (std::size_t i = begin; i < end; ++i)
                            Y[t * N + i] += scratch[t * N + i];
            }
            std::size_t termOffset = 0;
            for (const SumTerm& term : m_sums) {
                const auto G = static_cast<std::size_t>(term.groups);
                for (std::size_t t = 0; t < T; ++t) {
                    const float* s = sums.data() + termOffset + t * G;
                    for (std::size_t i = begin; i < end; ++i) {
                        const float* c = term.coef.data() + i * G;
                        float acc = 0.0f;
                        for (std::size_t g = 0; g < G; ++g)
                            acc += c[g] * s[g];
                        Y[t * N + i] += acc;
                    }
                }
                termOffset += T * G;
            }
        };
        if (pool && pool->size() > 1 && m_n >= 64)
            pool->parallelFor(N, rowsRange, 32); // whole 32-row tiles of the AVX2 layout per worker
        else
            rowsRange(0, N, 0);
    }

private:
    int variantIndex(const Variant& v)
    {
        for (std::size_t i = 0; i < m_variants.size(); ++i)
            if (m_variants[i] == v)
                return int(i);
        m_variants.push_back(v);
        return int(m_variants.size()) - 1;
    }

    // One ±1 bitmap: bit(i, j) for j < cols (padding columns 0), fp16 scale(i, block) per 128 columns.
    void addPass(auto bit, auto scale, int variant)
    {
        const std::size_t rowBytes = std::size_t(m_blocks) * 18;
        std::vector<std::byte> rows(std::size_t(m_n) * rowBytes, std::byte{0});
        for (int i = 0; i < m_n; ++i) {
            std::byte* row = rows.data() + std::size_t(i) * rowBytes;
            for (int b = 0; b < m_blocks; ++b) {
                std::byte* block = row + std::size_t(b) * 18;
                const std::uint16_t d = floatToHalf(scale(i, b));
                std::memcpy(block, &d, 2); // little-endian, as the GGUF block
                const int j1 = std::min(m_m, (b + 1) * kBlock);
                for (int j = b * kBlock; j < j1; ++j)
                    if (bit(i, j)) {
                        const int k = j - b * kBlock;
                        block[2 + k / 8] |= std::byte(1u << (k % 8));
                    }
            }
        }
        Pass pass;
        pass.store = kernels::splitQ1(rows.data(), m_n, m_blocks * kBlock, m_path);
        pass.view = pass.store.view();
        pass.variant = variant;
        m_passes.push_back(std::move(pass));
    }

    void addSum(const Eigen::MatrixXf& coef, int blocksPerGroup, int variant)
    {
        SumTerm term;
        term.groups = int(coef.cols());
        term.blocksPerGroup = blocksPerGroup;
        term.variant = variant;
        term.coef.resize(std::size_t(coef.size()));
        Eigen::Map<MatrixXfR>(term.coef.data(), coef.rows(), coef.cols()) = coef;
        m_sums.push_back(std::move(term));
    }

    void addPlane(const QuantizedLinear& q, int p)
    {
        const SignPlane& plane = q.planes[std::size_t(p)];
        const int bpg = blocksPerGroup(plane.group, m_m, m_blocks);
        const int colScale = plane.colScale.size() != 0 ? p : -1;
        const auto sign = [&](int i, int j) { return plane.signs(i, j) > 0; };
        const auto rowScale = [&](int i, int b) { return plane.rowScale(i, b / bpg); };
        const auto negScale = [&](int i, int b) { return -plane.rowScale(i, b / bpg); };
        const auto mean = [&](int i, int b) { return plane.mean(i, b / bpg); };
        const bool hasMean = plane.mean.size() != 0;
        if (plane.mask.kind != PlaneMask::Kind::Elements) {
            const int colMask = plane.mask.kind == PlaneMask::Kind::Columns ? p : -1;
            addPass(sign, rowScale, variantIndex({colScale, colMask, false}));
            if (hasMean)
                addSum(plane.mean, bpg, variantIndex({-1, colMask, false}));
            return;
        }
        const auto& m = plane.mask.elements;
        const auto a = [&](int i, int j) { return m(i, j) != 0 && plane.signs(i, j) > 0; };
        const auto b = [&](int i, int j) { return m(i, j) != 0 && plane.signs(i, j) < 0; };
        const int halfVariant = variantIndex({colScale, -1, true});
        addPass(a, rowScale, halfVariant);
        addPass(b, negScale, halfVariant);
        if (hasMean) {
            const int plainHalf = variantIndex({-1, -1, true});
            addPass(a, mean, plainHalf);
            addPass(b, mean, plainHalf);
            addSum(plane.mean, bpg, variantIndex({-1, -1, false}));
        }
    }

    void addCodes(const CodePlane& codes)
    {
        const int bpg = blocksPerGroup(codes.group, m_m, m_blocks);
        const int plainHalf = variantIndex({-1, -1, true});
        for (int k = 0; k < codes.bits; ++k) {
            const float factor = std::ldexp(1.0f, k);
            addPass([&](int i, int j) { return (codes.codes(i, j) >> k) & 1; },
                    [&](int i, int b) { return codes.scale(i, b / bpg) * factor; }, plainHalf);
        }
        const float center = 0.5f * (std::ldexp(1.0f, codes.bits) - 1.0f);
        const Eigen::MatrixXf coef = codes.scale.array() * (center - codes.zero.array());
        addSum(coef, bpg, variantIndex({-1, -1, false}));
    }

    int m_n, m_m, m_blocks;
    std::string m_method;
    kernels::QPath m_path;
    std::vector<Variant> m_variants;
    std::vector<std::vector<float>> m_colScales;      // per variant (empty = none)
    std::vector<std::vector<std::uint8_t>> m_colMasks; // per variant (empty = none)
    std::vector<Pass> m_passes;
    std::vector<SumTerm> m_sums;
    std::uint64_t m_bytes = 0;
};

} // namespace

std::string bitstudioInt8Refusal(const QuantizedLinear& q)
{
    q.validate();
    const int m = int(q.cols), blocks = (m + kBlock - 1) / kBlock;
    for (std::size_t p = 0; p < q.planes.size(); ++p) {
        const SignPlane& plane = q.planes[p];
        const std::string name = "plane " + std::to_string(p);
        if (blocksPerGroup(plane.group, m, blocks) == 0)
            return name + ": groups of " + std::to_string(plane.group) + " columns are not a multiple of 128";
        if (auto why = checkHalfValues(plane.rowScale, name + " row scale"); !why.empty())
            return why;
        if (auto why = checkHalfValues(plane.mean, name + " mean"); !why.empty())
            return why;
    }
    if (q.codes) {
        if (blocksPerGroup(q.codes->group, m, blocks) == 0)
            return "code groups of " + std::to_string(q.codes->group) + " columns are not a multiple of 128";
        if (q.codes->bits < 1 || q.codes->bits > 8)
            return "codes of " + std::to_string(q.codes->bits) + " bits";
        if (auto why = checkHalfValues(q.codes->scale, "code scale"); !why.empty())
            return why;
        if (auto why = checkHalfValues(q.codes->scale, "code scale × 2^(bits − 1)", std::ldexp(1.0f, q.codes->bits - 1));
            !why.empty())
            return why;
    }
    return {};
}

std::unique_ptr<PackedLinear> makeBitstudioInt8Linear(const QuantizedLinear& layer, kernels::QPath path,
                                                      std::string* refusal)
{
    if (!kernels::qPathSupported(path))
        throw std::invalid_argument(std::string("makeBitstudioInt8Linear: this CPU (or BQ_CPU) lacks the ") +
                                    kernels::qPathName(path) + " path");
    std::string why = bitstudioInt8Refusal(layer);
    if (!why.empty()) {
        if (!refusal)
            throw std::invalid_argument(layer.tensor + ": the int8 bitstudio kernels cannot hold this layer: " + why);
        *refusal = std::move(why);
        return nullptr;
    }
    return std::make_unique<BitstudioInt8Linear>(layer, path);
}

} // namespace bq
