#include "bq/runtime/bitstudio_linear.h"
#include "bitstudio_kernels.h"
#include "bq/model/model.h"
#include "bq/util/cpu_features.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

namespace bq {


namespace kernels {

float planeRowScalar(const PlaneRow& r, const float* xs, const float* x, int m, int group)
{
    float acc = 0.0f;
    for (int j0 = 0, g = 0; j0 < m; j0 += group, ++g) {
        const int j1 = j0 + group < m ? j0 + group : m;
        float t1 = 0.0f, t0 = 0.0f;
        for (int j = j0; j < j1; ++j) {
            if (r.mask && !((r.mask[j / 8] >> (j % 8)) & 1))
                continue;
            t1 += ((r.signs[j / 8] >> (j % 8)) & 1) ? xs[j] : -xs[j];
            t0 += x[j];
        }
        acc += r.scale[g] * t1;
        if (r.mean)
            acc += r.mean[g] * t0;
    }
    return acc;
}

float codeRowScalar(const std::uint8_t* q, const float* scale, const float* zero, const float* x, int m, int group)
{
    float acc = 0.0f;
    for (int j0 = 0, g = 0; j0 < m; j0 += group, ++g) {
        const int j1 = j0 + group < m ? j0 + group : m;
        float tq = 0.0f, tx = 0.0f;
        for (int j = j0; j < j1; ++j) {
            tq += static_cast<float>(q[j]) * x[j];
            tx += x[j];
        }
        acc += scale[g] * (tq - zero[g] * tx);
    }
    return acc;
}

} // namespace kernels

namespace {

std::vector<std::uint8_t> packRows(Eigen::Index n, Eigen::Index m, auto bit)
{
    const Eigen::Index mb = (m + 7) / 8;
    std::vector<std::uint8_t> out(static_cast<std::size_t>(n * mb), 0);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < m; ++j)
            if (bit(i, j))
                out[static_cast<std::size_t>(i * mb + j / 8)] |= static_cast<std::uint8_t>(1u << (j % 8));
    return out;
}

std::vector<float> rowMajor(const Eigen::MatrixXf& a)
{
    std::vector<float> v(static_cast<std::size_t>(a.size()));
    Eigen::Map<MatrixXfR>(v.data(), a.rows(), a.cols()) = a;
    return v;
}

class BitstudioLinear final : public PackedLinear {
public:
    BitstudioLinear(const QuantizedLinear& q, BitstudioKernel kernel) : m_n(int(q.rows)), m_m(int(q.cols)), m_method(q.method)
    {
        q.validate();
        m_mb = (m_m + 7) / 8;
        const bool avx2 = kernel == BitstudioKernel::Avx2 || (kernel != BitstudioKernel::Scalar && cpuFeatures().avx2);
        for (const auto& p : q.planes) {
            Plane pl;
            pl.group = p.group > 0 ? p.group : m_m;
            pl.groups = groupCount(q.cols, p.group);
            pl.signs = packRows(q.rows, q.cols, [&](auto i, auto j) { return p.signs(i, j) > 0; });
            pl.maskKind = p.mask.kind;
            if (p.mask.kind == PlaneMask::Kind::Columns)
                pl.mask = packRows(1, q.cols, [&](auto, auto j) { return p.mask.columns[std::size_t(j)] != 0; });
            if (p.mask.kind == PlaneMask::Kind::Elements)
                pl.mask = packRows(q.rows, q.cols, [&](auto i, auto j) { return p.mask.elements(i, j) != 0; });
            pl.scale = rowMajor(p.rowScale);
            if (p.colScale.size() != 0)
                pl.colScale.assign(p.colScale.data(), p.colScale.data() + p.colScale.size());
            if (p.mean.size() != 0)
                pl.mean = rowMajor(p.mean);
            pl.avx2 = avx2 && pl.group % 8 == 0;
            m_bytes += pl.signs.size() + pl.mask.size() + 4 * (pl.scale.size() + pl.colScale.size() + pl.mean.size());
            m_planes.push_back(std::move(pl));
        }
        if (q.codes) {
            m_codes.group = q.codes->group > 0 ? q.codes->group : m_m;
            m_codes.codes.assign(q.codes->codes.data(), q.codes->codes.data() + q.codes->codes.size());
            m_codes.scale = rowMajor(q.codes->scale);
            m_codes.zero = rowMajor(q.codes->zero);
            m_codes.present = true;
            m_codes.avx2 = avx2 && m_codes.group % 8 == 0;
            m_bytes += m_codes.codes.size() + 4 * (m_codes.scale.size() + m_codes.zero.size());
        }
    }

    int rows() const override { return m_n; }
    int cols() const override { return m_m; }
    std::uint64_t weightBytes() const override { return m_bytes; }
    std::string kind() const override { return "bitstudio-fp32." + m_method; }

    void gemv(const float* x, float* y, ThreadPool* pool) const override
    {
        // Column-scaled activations, once per plane that has column scales.
        std::vector<std::vector<float>> xs(m_planes.size());
        for (std::size_t p = 0; p < m_planes.size(); ++p)
            if (!m_planes[p].colScale.empty()) {
                xs[p].resize(std::size_t(m_m));
                for (int j = 0; j < m_m; ++j)
                    xs[p][std::size_t(j)] = m_planes[p].colScale[std::size_t(j)] * x[j];
            }
        auto rowsRange = [&](std::size_t begin, std::size_t end, int) {
            for (std::size_t i = begin; i < end; ++i)
                y[i] = row(i, x, xs);
        };
        if (pool && pool->size() > 1 && m_n >= 64)
            pool->parallelFor(std::size_t(m_n), rowsRange, 16);
        else
            rowsRange(0, std::size_t(m_n), 0);
    }

    void gemm(const float* X, int tokens, float* Y, ThreadPool* pool) const override
    {
        for (int t = 0; t < tokens; ++t)
            gemv(X + std::size_t(t) * std::size_t(m_m), Y + std::size_t(t) * std::size_t(m_n), pool);
    }

private:
    struct Plane {
        int group = 0, groups = 1;
        PlaneMask::Kind maskKind = PlaneMask::Kind::All;
        std::vector<std::uint8_t> signs, mask;
        std::vector<float> scale, colScale, mean;
        bool avx2 = false;
    };
    struct Codes {
        bool present = false, avx2 = false;
        int group = 0;
        std::vector<std::uint8_t> codes;
        std::vector<float> scale, zero;
    };

    float row(std::size_t i, const float* x, const std::vector<std::vector<float>>& xs) const
    {
        float acc = 0.0f;
        for (std::size_t p = 0; p < m_planes.size(); ++p) {
            const Plane& pl = m_planes[p];
            kernels::PlaneRow r;
            r.signs = pl.signs.data() + i * std::size_t(m_mb);
            r.mask = pl.maskKind == PlaneMask::Kind::All ? nullptr
                     : pl.maskKind == PlaneMask::Kind::Columns ? pl.mask.data()
                                                               : pl.mask.data() + i * std::size_t(m_mb);
            r.scale = pl.scale.data() + i * std::size_t(pl.groups);
            r.mean = pl.mean.empty() ? nullptr : pl.mean.data() + i * std::size_t(pl.groups);
            const float* xp = xs[p].empty() ? x : xs[p].data();
            acc += pl.avx2 ? kernels::planeRowAvx2(r, xp, x, m_m, pl.group)
                           : kernels::planeRowScalar(r, xp, x, m_m, pl.group);
        }
        if (m_codes.present) {
            const int groups = groupCount(m_m, m_codes.group);
            const std::uint8_t* q = m_codes.codes.data() + i * std::size_t(m_m);
            const float* s = m_codes.scale.data() + i * std::size_t(groups);
            const float* z = m_codes.zero.data() + i * std::size_t(groups);
            acc += m_codes.avx2 ? kernels::codeRowAvx2(q, s, z, x, m_m, m_codes.group)
                                : kernels::codeRowScalar(q, s, z, x, m_m, m_codes.group);
        }
        return acc;
    }

    int m_n, m_m, m_mb = 0;
    std::string m_method;
    std::vector<Plane> m_planes;
    Codes m_codes;
    std::uint64_t m_bytes = 0;
};

} // namespace

std::unique_ptr<PackedLinear> makeBitstudioPackedLinear(const QuantizedLinear& layer, BitstudioKernel kernel)
{
    if (kernel == BitstudioKernel::Avx2 && !cpuFeatures().avx2)
        throw std::invalid_argument("makeBitstudioPackedLinear: AVX2 requested but the CPU (or BQ_CPU) lacks it");
    if (kernel == BitstudioKernel::Int8)
        return makeBitstudioInt8Linear(layer, kernels::bestQPath());
    std::string refusal; // Auto: the int8 form where the layer fits (one check), else the fp32 form below
    if (kernel == BitstudioKernel::Auto)
        if (auto int8 = makeBitstudioInt8Linear(layer, kernels::bestQPath(), &refusal))
            return int8;
    return std::make_unique<BitstudioLinear>(layer, kernel);
}

LinearFactory bitstudioSignFactory(BitstudioKernel kernel)
{
    return [kernel](const Model& model, const std::string& name) -> std::shared_ptr<const PackedLinear> {
        const Tensor* t = model.find(name);
        if (!t && name == "output.weight") // a tied head reads the embedding matrix
            t = model.find("token_embd.weight");
        if (!t || t->shape.size() != 2)
            return nullptr;
        QuantizedLinear q;
        q.tensor = name;
        q.method = "sign";
        q.rows = t->rows();
        q.cols = t->cols();
        SignPlane plane;
        plane.signs.resize(q.rows, q.cols);
        plane.rowScale.resize(q.rows, 1);
        std::vector<float> row(static_cast<std::size_t>(q.cols));
        for (Eigen::Index i = 0; i < q.rows; ++i) {
            t->rowToFloat(i, row.data());
            double sum = 0;
            for (Eigen::Index j = 0; j < q.cols; ++j) {
                const float w = row[static_cast<std::size_t>(j)];
                sum += std::fabs(w);
                plane.signs(i, j) = w >= 0.0f ? 1 : -1;
            }
            plane.rowScale(i, 0) = roundToHalf(static_cast<float>(sum / static_cast<double>(q.cols)));
        }
        q.planes.push_back(std::move(plane));
        q.storageBitsPerWeight = 1.0 + 16.0 / static_cast<double>(q.cols);
        return makeBitstudioPackedLinear(q, kernel);
    };
}

} // namespace bq
