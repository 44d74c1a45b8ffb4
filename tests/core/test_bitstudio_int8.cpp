// The int8 form of the bitstudio layers (bitstudio_linear.h) on every Q1_0 kernel path this CPU has: each kind
// of plane, mask, mean and code against an fp64 evaluation of Ŵ·x̂ (x̂ = each part's activation quantized to int8
// per 128 columns, which the form promises), against Ŵx within the activation rounding, GEMM = GEMVs bit for bit
// and thread-count invariance; which layers it refuses and why.
#include "bq/model/quantized_linear.h"
#include "bq/runtime/bitstudio_linear.h"
#include "bq/runtime/kernels_q.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

using namespace bq;
using kernels::QPath;

namespace {

struct Rng {
    std::mt19937_64 gen{11};
    float uniform(float a, float b) { return std::uniform_real_distribution<float>(a, b)(gen); }
    bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(gen); }
    float half(float a, float b) { return roundToHalf(uniform(a, b)); }
};

MatrixXi8R randomSigns(Rng& r, Eigen::Index n, Eigen::Index m)
{
    MatrixXi8R s(n, m);
    for (Eigen::Index k = 0; k < s.size(); ++k)
        s.data()[k] = r.coin() ? 1 : -1;
    return s;
}

Eigen::MatrixXf halfMatrix(Rng& r, Eigen::Index rows, Eigen::Index cols, bool signedValues)
{
    Eigen::MatrixXf a(rows, cols);
    for (Eigen::Index k = 0; k < a.size(); ++k)
        a.data()[k] = r.half(0.01f, 0.2f) * (signedValues && r.coin() ? -1.0f : 1.0f);
    return a;
}

// Every part the int8 form handles: an unmasked plane with a mean and column scales (groups of 128), a
// column-masked plane with a mean (whole rows), a per-weight-masked plane with a mean (groups of 256), a
// per-weight-masked plane with column scales (arb-rc's kind), and 3-bit codes with fractional zero points.
QuantizedLinear everyPart(Rng& r, Eigen::Index n, Eigen::Index m)
{
    static const std::string tensor = "t", method = "every-part";
    QuantizedLinear q;
    q.tensor = tensor;
    q.method = method;
    q.rows = n;
    q.cols = m;
    auto plane = [&](int group, PlaneMask::Kind kind, bool mean, bool colScale) {
        SignPlane p;
        p.group = group;
        p.signs = randomSigns(r, n, m);
        p.mask.kind = kind;
        if (kind == PlaneMask::Kind::Columns)
            for (Eigen::Index j = 0; j < m; ++j)
                p.mask.columns.push_back(r.coin(0.3) ? 1 : 0);
        if (kind == PlaneMask::Kind::Elements) {
            p.mask.elements.resize(n, m);
            for (Eigen::Index k = 0; k < p.mask.elements.size(); ++k)
                p.mask.elements.data()[k] = r.coin(0.4) ? 1 : 0;
        }
        p.rowScale = halfMatrix(r, n, groupCount(m, group), false);
        if (mean)
            p.mean = halfMatrix(r, n, groupCount(m, group), true);
        if (colScale) {
            p.colScale.resize(m);
            for (Eigen::Index j = 0; j < m; ++j)
                p.colScale[j] = r.uniform(0.2f, 3.0f);
        }
        q.planes.push_back(std::move(p));
    };
    plane(128, PlaneMask::Kind::All, true, true);
    plane(0, PlaneMask::Kind::Columns, true, false);
    plane(256, PlaneMask::Kind::Elements, true, false);
    plane(128, PlaneMask::Kind::Elements, false, true);
    CodePlane c;
    c.bits = 3;
    c.group = 128;
    c.codes.resize(n, m);
    for (Eigen::Index k = 0; k < c.codes.size(); ++k)
        c.codes.data()[k] = std::uint8_t(r.gen() % 8);
    c.scale = halfMatrix(r, n, groupCount(m, 128), false);
    c.zero.resize(n, groupCount(m, 128));
    for (Eigen::Index k = 0; k < c.zero.size(); ++k)
        c.zero.data()[k] = r.uniform(0.0f, 7.0f);
    q.codes = std::move(c);
    q.validate();
    return q;
}

// x̂ of one part: v (m values) padded to whole 128-blocks, quantized as the Q1_0 activations, dequantized.
std::vector<double> quantized(const std::vector<float>& v)
{
    const int m = int(v.size()), kp = (m + 127) / 128 * 128;
    std::vector<float> padded(std::size_t(kp), 0.0f);
    std::copy(v.begin(), v.end(), padded.begin());
    kernels::QuantizedActivations a;
    kernels::quantizeActivations(QPath::Scalar, padded.data(), 1, kp, 128, a);
    std::vector<double> out(static_cast<std::size_t>(m));
    for (int j = 0; j < m; ++j)
        out[std::size_t(j)] = double(a.scale[std::size_t(j / 128)]) * a.q[std::size_t(j)];
    return out;
}

// fp64 Ŵ·x̂ for one token, and Σ|terms| (for the fp32 tolerance).
void expected(const QuantizedLinear& q, const float* x, std::vector<double>& y, std::vector<double>& mag)
{
    const Eigen::Index n = q.rows, m = q.cols;
    y.assign(std::size_t(n), 0.0);
    mag.assign(std::size_t(n), 0.0);
    auto add = [&](Eigen::Index i, double term) {
        y[std::size_t(i)] += term;
        mag[std::size_t(i)] += std::fabs(term);
    };
    const std::vector<float> plain(x, x + m);
    const std::vector<double> xPlain = quantized(plain);
    for (const SignPlane& p : q.planes) {
        std::vector<float> xs(plain), xm(plain);
        for (Eigen::Index j = 0; j < m; ++j) {
            if (p.colScale.size())
                xs[std::size_t(j)] *= p.colScale[j];
            if (p.mask.kind == PlaneMask::Kind::Columns && !p.mask.columns[std::size_t(j)])
                xs[std::size_t(j)] = xm[std::size_t(j)] = 0.0f;
        }
        const std::vector<double> xsHat = quantized(xs);
        const std::vector<double> xmHat = p.mask.kind == PlaneMask::Kind::Elements ? xPlain : quantized(xm);
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < m; ++j) {
                if (!p.mask.applies(i, j))
                    continue;
                const Eigen::Index g = groupOf(j, p.group);
                add(i, double(p.rowScale(i, g)) * p.signs(i, j) * xsHat[std::size_t(j)]);
                if (p.mean.size())
                    add(i, double(p.mean(i, g)) * xmHat[std::size_t(j)]);
            }
    }
    if (q.codes)
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < m; ++j) {
                const Eigen::Index g = groupOf(j, q.codes->group);
                add(i, double(q.codes->scale(i, g)) * (double(q.codes->codes(i, j)) - q.codes->zero(i, g)) *
                           xPlain[std::size_t(j)]);
            }
}

std::vector<QPath> supportedPaths()
{
    std::vector<QPath> paths;
    for (QPath p : {QPath::Scalar, QPath::Avx2, QPath::Avx512})
        if (kernels::qPathSupported(p))
            paths.push_back(p);
    return paths;
}

} // namespace

TEST_CASE("int8 bitstudio layers equal Ŵ·x̂ for every plane, mask, mean and code kind on every path", "[bitstudio]")
{
    Rng r;
    ThreadPool pool(2);
    // Rows not a multiple of the 32-row AVX2 tile; columns a whole number of blocks and a padded one.
    for (Eigen::Index m : {Eigen::Index(256), Eigen::Index(200), Eigen::Index(384)}) {
        const Eigen::Index n = 45;
        const QuantizedLinear q = everyPart(r, n, m);
        REQUIRE(bitstudioInt8Refusal(q).empty());
        const MatrixXfR w = q.dequantize();
        const int tokens = 5;
        std::vector<float> X(std::size_t(tokens * m));
        for (float& v : X)
            v = r.uniform(-2.0f, 2.0f);
        X[std::size_t(4 * m + 3)] = 40.0f; // an outlier in token 4: its block's other activations round coarsely
        for (QPath path : supportedPaths()) {
            INFO("m " << m << ", path " << kernels::qPathName(path));
            const auto lin = makeBitstudioInt8Linear(q, path);
            CHECK(lin->rows() == n);
            CHECK(lin->cols() == m);
            CHECK(lin->kind() == "bitstudio.every-part");
            std::vector<float> Y(static_cast<std::size_t>(tokens * n)), Ypool(Y.size()), y1(static_cast<std::size_t>(n));
            lin->gemm(X.data(), tokens, Y.data(), nullptr);
            lin->gemm(X.data(), tokens, Ypool.data(), &pool);
            CHECK(Y == Ypool);
            for (int t = 0; t < tokens; ++t) {
                const float* x = X.data() + t * m;
                lin->gemv(x, y1.data(), &pool);
                std::vector<double> want, mag;
                expected(q, x, want, mag);
                double worstHat = 0, worstExact = 0;
                for (Eigen::Index i = 0; i < n; ++i) {
                    const double got = Y[std::size_t(t * n + i)];
                    CHECK(y1[std::size_t(i)] == Y[std::size_t(t * n + i)]);
                    worstHat = std::max(worstHat, std::fabs(got - want[std::size_t(i)]) / (mag[std::size_t(i)] + 1e-30));
                    double exact = 0, absSum = 0;
                    for (Eigen::Index j = 0; j < m; ++j) {
                        exact += double(w(i, j)) * x[j];
                        absSum += std::fabs(double(w(i, j)) * x[j]);
                    }
                    worstExact = std::max(worstExact, std::fabs(got - exact) / absSum);
                }
                INFO("token " << t << ": worst |y − Ŵx̂| / Σ|terms| " << worstHat << ", |y − Ŵx| / Σ|Ŵx| " << worstExact);
                CHECK(worstHat < 2e-6); // fp32 summation only
                if (t < 4)
                    CHECK(worstExact < 0.02); // the int8 rounding of the activations, about 1 %
                CHECK(worstExact > 1e-5);     // the activations are rounded: not the fp32 form by mistake
            }
        }
    }
}

TEST_CASE("the int8 form refuses what it cannot hold exactly and the default falls back to fp32 activations", "[bitstudio]")
{
    Rng r;
    QuantizedLinear q = everyPart(r, 8, 256);
    q.planes[0].group = 64;
    q.planes[0].rowScale = halfMatrix(r, 8, groupCount(256, 64), false);
    q.planes[0].mean = halfMatrix(r, 8, groupCount(256, 64), true);
    CHECK(bitstudioInt8Refusal(q) == "plane 0: groups of 64 columns are not a multiple of 128");
    CHECK_THROWS_WITH(makeBitstudioPackedLinear(q, BitstudioKernel::Int8),
                      Catch::Contains("t: the int8 bitstudio kernels cannot hold this layer: plane 0: groups of 64"));

    QuantizedLinear s = everyPart(r, 8, 256);
    s.planes[3].rowScale(3, 1) = 0.1f; // not an fp16 value
    CHECK_THAT(bitstudioInt8Refusal(s), Catch::Contains("plane 3 row scale 0.1") && Catch::Contains("not an fp16 value"));
    s.planes[3].rowScale(3, 1) = roundToHalf(0.1f);
    s.codes->scale(0, 0) = 32768.0f; // × 2^(3 − 1) overflows fp16
    CHECK_THAT(bitstudioInt8Refusal(s), Catch::Contains("code scale × 2^(bits − 1) 32768"));

    // Auto takes the fp32-activation form for a refused layer: Ŵx without activation rounding.
    const auto lin = makeBitstudioPackedLinear(q);
    const MatrixXfR w = q.dequantize();
    std::vector<float> x(256), y(8);
    for (float& v : x)
        v = r.uniform(-1.0f, 1.0f);
    lin->gemv(x.data(), y.data(), nullptr);
    for (Eigen::Index i = 0; i < 8; ++i) {
        double exact = 0, absSum = 0;
        for (Eigen::Index j = 0; j < 256; ++j) {
            exact += double(w(i, j)) * x[std::size_t(j)];
            absSum += std::fabs(double(w(i, j)) * x[std::size_t(j)]);
        }
        CHECK(std::fabs(y[std::size_t(i)] - exact) <= 1e-5 * absSum);
    }
}
