// The simple and baseline quantization methods (methods.md §1.3, §1.4, §3.1–3.3, 3.6, 3.8–3.10), each checked
// against a direct evaluation of its objective or an independent re-implementation of its reference quantizer.
#include <catch2/catch.hpp>

#include "bq/jobs/job.h"
#include "bq/quant/obc/hessian.h"
#include "bq/quant/methods/method.h"
#include "bq/util/errors.h"
#include "bq/util/fp16.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>

using namespace bq;
using namespace bq::quant;

namespace {

MatrixXfR gaussian(Eigen::Index n, Eigen::Index m, unsigned seed, float sigma = 1.0f)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    MatrixXfR w(n, m);
    for (Eigen::Index k = 0; k < w.size(); ++k) w.data()[k] = dist(rng);
    return w;
}

// A Gram of correlated inputs like real activations: a low-rank part (m/8 factors) plus isotropic noise, and
// per-column scales over one order of magnitude, so H has strong off-diagonal structure.
Eigen::MatrixXd correlatedGram(Eigen::Index m, Eigen::Index tokens, unsigned seed)
{
    const Eigen::Index r = std::max<Eigen::Index>(4, m / 8);
    Eigen::MatrixXd X = gaussian(tokens, r, seed).cast<double>() * gaussian(r, m, seed + 1).cast<double>() / std::sqrt(double(r)) +
                        0.2 * gaussian(tokens, m, seed + 2).cast<double>();
    for (Eigen::Index j = 0; j < m; ++j) X.col(j) *= std::pow(10.0, double(j % 7) / 6.0 - 0.5);
    return X.transpose() * X;
}

QuantizedLinear quantize(const std::string& id, const MatrixXfR& w, const nlohmann::json& options = {},
                         const Eigen::MatrixXd* gram = nullptr, const CancelToken* cancel = nullptr)
{
    const MethodInfo& method = findMethod(id);
    QuantizeRequest request;
    request.weight = &w;
    request.stats.gram = gram;
    request.options = mergeOptions(method, options);
    request.tensor = "test." + id;
    request.cancel = cancel;
    MethodDiagnostics diag;
    QuantizedLinear q = method.quantize(request, diag);
    q.validate();
    return q;
}

// tr(ΔW H ΔWᵀ) in float64.
double objective(const MatrixXfR& w, const MatrixXfR& what, const Eigen::MatrixXd& H)
{
    const Eigen::MatrixXd d = (w - what).cast<double>();
    return (d * H).cwiseProduct(d).sum();
}

// Every stored bit, counted from the result's parts: sign bits of the weights a plane covers, 16 per stored
// scale / mean / column scale, b per code, 16 per code scale and zero.
double countedBitsPerWeight(const QuantizedLinear& q)
{
    double bits = 0;
    for (const SignPlane& p : q.planes) {
        double covered = double(q.rows * q.cols);
        if (p.mask.kind == PlaneMask::Kind::Columns)
            covered = double(q.rows) * double(std::count(p.mask.columns.begin(), p.mask.columns.end(), 1));
        bits += covered + 16.0 * double(p.rowScale.size() + p.colScale.size() + p.mean.size());
    }
    if (q.codes) bits += double(q.codes->bits) * double(q.rows * q.cols) + 16.0 * double(q.codes->scale.size() + q.codes->zero.size());
    return bits / double(q.rows * q.cols);
}

float nextHalfUp(float x) { return halfToFloat(std::uint16_t(floatToHalf(x) + 1)); }
float nextHalfDown(float x) { return x > 0 ? halfToFloat(std::uint16_t(floatToHalf(x) - 1)) : x; }

// Plain round-to-nearest with GPTQ's min–max grid (quant.py), scale fp16 before use; independent of the method.
MatrixXfR plainRtn(const MatrixXfR& w, int bits, int group, bool sym)
{
    MatrixXfR out(w.rows(), w.cols());
    const float maxq = float((1 << bits) - 1);
    for (Eigen::Index i = 0; i < w.rows(); ++i)
        for (Eigen::Index b = 0; b < w.cols(); b += group) {
            const Eigen::Index e = std::min(w.cols(), b + group);
            float lo = std::min(0.0f, w.row(i).segment(b, e - b).minCoeff());
            float hi = std::max(0.0f, w.row(i).segment(b, e - b).maxCoeff());
            if (sym) {
                hi = std::max(-lo, hi);
                if (lo < 0) lo = -hi;
            }
            if (lo == 0 && hi == 0) lo = -1, hi = 1;
            const float s = (hi - lo) / maxq;
            const float z = sym ? (maxq + 1) / 2 : std::nearbyint(-lo / s);
            const float sh = roundToHalf(s);
            for (Eigen::Index j = b; j < e; ++j) {
                const float q = std::clamp(std::nearbyint(w(i, j) / sh) + z, 0.0f, maxq);
                out(i, j) = sh * (q - z);
            }
        }
    return out;
}

// llama.cpp quantize_row_q1_0_ref / dequantize_row_q1_0, re-written for the test: 18-byte blocks
// (fp16 d little-endian, then 128 bits LSB-first; bit 1 → +d, bit 0 → −d).
std::vector<std::uint8_t> encodeQ1_0Reference(const MatrixXfR& w)
{
    std::vector<std::uint8_t> out;
    for (Eigen::Index i = 0; i < w.rows(); ++i)
        for (Eigen::Index b = 0; b < w.cols(); b += 128) {
            float sum = 0;
            for (int j = 0; j < 128; ++j) sum += std::fabs(w(i, b + j));
            const std::uint16_t d = floatToHalf(sum / 128.0f);
            out.push_back(std::uint8_t(d & 0xff));
            out.push_back(std::uint8_t(d >> 8));
            for (int byte = 0; byte < 16; ++byte) {
                std::uint8_t v = 0;
                for (int bit = 0; bit < 8; ++bit)
                    if (w(i, b + byte * 8 + bit) >= 0.0f) v |= std::uint8_t(1u << bit);
                out.push_back(v);
            }
        }
    return out;
}

std::vector<std::uint8_t> encodeQ1_0FromResult(const QuantizedLinear& q)
{
    const SignPlane& p = q.planes.at(0);
    std::vector<std::uint8_t> out;
    for (Eigen::Index i = 0; i < q.rows; ++i)
        for (Eigen::Index b = 0; b < q.cols; b += 128) {
            const std::uint16_t d = floatToHalf(p.rowScale(i, b / 128));
            out.push_back(std::uint8_t(d & 0xff));
            out.push_back(std::uint8_t(d >> 8));
            for (int byte = 0; byte < 16; ++byte) {
                std::uint8_t v = 0;
                for (int bit = 0; bit < 8; ++bit)
                    if (p.signs(i, b + byte * 8 + bit) > 0) v |= std::uint8_t(1u << bit);
                out.push_back(v);
            }
        }
    return out;
}

MatrixXfR decodeQ1_0(const std::vector<std::uint8_t>& bytes, Eigen::Index n, Eigen::Index m)
{
    REQUIRE(bytes.size() == std::size_t(n * m / 128 * 18));
    MatrixXfR w(n, m);
    std::size_t at = 0;
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index b = 0; b < m; b += 128) {
            const float d = halfToFloat(std::uint16_t(bytes[at] | (bytes[at + 1] << 8)));
            for (int j = 0; j < 128; ++j) w(i, b + j) = (bytes[at + 2 + std::size_t(j / 8)] >> (j % 8) & 1) ? d : -d;
            at += 18;
        }
    return w;
}

} // namespace

TEST_CASE("prepareHessian: U is the upper Cholesky factor of H⁻¹ (UᵀU·H = I)", "[quant][hessian]")
{
    const Eigen::MatrixXd gram = correlatedGram(48, 200, 11);
    const PreparedHessian ph = prepareHessian(gram, 0.01, nullptr, "t");
    const double lambda = 0.01 * gram.diagonal().mean();
    CHECK(ph.retries == 0);
    CHECK(ph.damping == Approx(lambda).epsilon(1e-12));
    CHECK((ph.H - gram).diagonal().minCoeff() == Approx(lambda).epsilon(1e-12));
    CHECK(ph.U.triangularView<Eigen::StrictlyLower>().toDenseMatrix().cwiseAbs().maxCoeff() == 0.0);
    CHECK(ph.U.diagonal().minCoeff() > 0);
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(48, 48);
    CHECK((ph.U.transpose() * ph.U * ph.H - I).cwiseAbs().maxCoeff() < 1e-9);
    // GPTQ's route (general inverse, then an upper Cholesky of it) gives the same factor.
    const Eigen::MatrixXd Uref = Eigen::LLT<Eigen::MatrixXd>(ph.H.inverse()).matrixU();
    CHECK((ph.U - Uref).cwiseAbs().maxCoeff() < 1e-9 * Uref.cwiseAbs().maxCoeff());
}

TEST_CASE("prepareHessian: dead columns get H_jj = 1 and zero weights", "[quant][hessian]")
{
    Eigen::MatrixXd gram = correlatedGram(32, 100, 12);
    gram.row(5).setZero();
    gram.col(5).setZero();
    gram.row(17).setZero();
    gram.col(17).setZero();
    MatrixXfR w = gaussian(4, 32, 13);
    const PreparedHessian ph = prepareHessian(gram, 0.01, &w, "t");
    CHECK(ph.dead[5] == 1);
    CHECK(ph.dead[17] == 1);
    CHECK(std::count(ph.dead.begin(), ph.dead.end(), 1) == 2);
    CHECK(w.col(5).isZero());
    CHECK(w.col(17).isZero());
    CHECK(w.col(6).cwiseAbs().sum() > 0);
    Eigen::VectorXd diag = gram.diagonal();
    diag[5] = diag[17] = 1;
    CHECK(ph.damping == Approx(0.01 * diag.mean()).epsilon(1e-12));
    CHECK(ph.H(5, 5) == Approx(1 + ph.damping).epsilon(1e-12));
    CHECK((ph.U.transpose() * ph.U * ph.H - Eigen::MatrixXd::Identity(32, 32)).cwiseAbs().maxCoeff() < 1e-9);
}

TEST_CASE("prepareHessian: an indefinite H is retried with 10× damping, a hopeless one throws", "[quant][hessian]")
{
    const Eigen::Index m = 24;
    const Eigen::MatrixXd Q = Eigen::HouseholderQR<Eigen::MatrixXd>(gaussian(m, m, 14).cast<double>()).householderQ();
    Eigen::VectorXd eig = Eigen::VectorXd::Ones(m);
    eig[3] = -0.05; // λ = 0.01·mean ≈ 0.01 fails, 0.1 succeeds
    const Eigen::MatrixXd H = Q * eig.asDiagonal() * Q.transpose();
    const PreparedHessian ph = prepareHessian(H, 0.01, nullptr, "t");
    CHECK(ph.retries == 1);
    CHECK(ph.damping == Approx(0.1 * H.diagonal().mean()).epsilon(1e-9));
    CHECK((ph.U.transpose() * ph.U * ph.H - Eigen::MatrixXd::Identity(m, m)).cwiseAbs().maxCoeff() < 1e-8);

    eig[3] = -100;
    const Eigen::MatrixXd bad = Q * eig.asDiagonal() * Q.transpose();
    CHECK_THROWS_AS(prepareHessian(bad, 0.01, nullptr, "t"), std::runtime_error);
    CHECK_THROWS_AS(prepareHessian(Eigen::MatrixXd::Identity(3, 4), 0.01, nullptr, "t"), std::runtime_error);
}

TEST_CASE("sign: α is the least-squares scale of the sign pattern, zero → +1", "[quant][sign]")
{
    MatrixXfR w = gaussian(6, 300, 21, 0.05f);
    w(0, 3) = 0.0f;
    w(1, 0) = -0.0f;
    w.row(2).segment(64, 64).setZero(); // an all-zero group
    for (const nlohmann::json& group : {nlohmann::json("row"), nlohmann::json(64)}) {
        const QuantizedLinear q = quantize("sign", w, {{"group", group}});
        const SignPlane& p = q.planes.at(0);
        const Eigen::Index width = group.is_string() ? 300 : 64;
        CHECK(p.rowScale.cols() == (300 + width - 1) / width);
        CHECK(p.signs(0, 3) == 1);
        CHECK(p.signs(1, 0) == 1);
        for (Eigen::Index i = 0; i < w.rows(); ++i)
            for (Eigen::Index b = 0; b < 300; b += width) {
                const Eigen::Index e = std::min<Eigen::Index>(300, b + width);
                double bw = 0;
                for (Eigen::Index j = b; j < e; ++j) {
                    const double s = w(i, j) >= 0 ? 1 : -1;
                    REQUIRE(p.signs(i, j) == s);
                    bw += s * w(i, j);
                }
                const float alpha = p.rowScale(i, b / width);
                // brute force: the stored fp16 α has no larger error than its fp16 neighbours, and it is the
                // least-squares scale b·w / b·b rounded to fp16.
                auto err = [&](float a) {
                    double s = 0;
                    for (Eigen::Index j = b; j < e; ++j) s += std::pow(w(i, j) - a * (w(i, j) >= 0 ? 1 : -1), 2);
                    return s;
                };
                CHECK(alpha == roundToHalf(float(bw / double(e - b))));
                CHECK(err(alpha) <= err(nextHalfUp(alpha)));
                CHECK(err(alpha) <= err(nextHalfDown(alpha)));
            }
        if (!group.is_string()) CHECK(p.rowScale(2, 1) == 0.0f);
        const MatrixXfR what = q.dequantize();
        CHECK(what(0, 3) == p.rowScale(0, 0));
    }
}

TEST_CASE("rtn1: levels follow the GPTQ min–max pseudo-code; two_level fits both sides", "[quant][rtn1]")
{
    MatrixXfR w = gaussian(5, 256, 31, 0.1f);
    w.row(1) = w.row(1).cwiseAbs(); // all positive: z = 0, levels {0, s}
    w.row(2).setZero();             // all zero: range [−1, 1]
    w.row(3).head(128) = -w.row(3).head(128).cwiseAbs();
    for (int group : {0, 128}) {
        const QuantizedLinear q = quantize("rtn1", w, {{"group", group == 0 ? nlohmann::json("row") : nlohmann::json(group)}});
        REQUIRE(q.codes);
        CHECK(q.codes->bits == 1);
        const MatrixXfR what = q.dequantize();
        const Eigen::Index width = group == 0 ? 256 : group;
        for (Eigen::Index i = 0; i < w.rows(); ++i)
            for (Eigen::Index b = 0; b < 256; b += width) {
                // the pseudo-code of methods.md §3.2, bits = 1
                float lo = std::min(0.0f, w.row(i).segment(b, width).minCoeff());
                float hi = std::max(0.0f, w.row(i).segment(b, width).maxCoeff());
                if (lo == 0 && hi == 0) lo = -1, hi = 1;
                const float s = hi - lo, z = std::nearbyint(-lo / s), sh = roundToHalf(s);
                for (Eigen::Index j = b; j < b + width; ++j) {
                    const float qv = std::clamp(std::nearbyint(w(i, j) / sh) + z, 0.0f, 1.0f);
                    REQUIRE(what(i, j) == sh * (qv - z));
                    // Derived: one of the two levels is always 0
                    REQUIRE((what(i, j) == 0.0f || std::fabs(what(i, j)) == sh));
                }
            }
        CHECK(what.row(2).isZero());
    }
    // two_level: each level is (up to fp16) the mean of the weights assigned to it
    const QuantizedLinear t = quantize("rtn1", w, {{"variant", "two_level"}});
    const MatrixXfR tw = t.dequantize();
    for (Eigen::Index i : {0, 3, 4}) {
        const float l0 = tw.row(i).minCoeff(), l1 = tw.row(i).maxCoeff();
        double s0 = 0, s1 = 0, c0 = 0, c1 = 0;
        for (Eigen::Index j = 0; j < 256; ++j)
            if (tw(i, j) == l0) s0 += w(i, j), c0 += 1;
            else s1 += w(i, j), c1 += 1;
        CHECK(l0 == Approx(s0 / c0).epsilon(5e-3)); // fp16 scale and zero
        CHECK(l1 == Approx(s1 / c1).epsilon(5e-3));
    }
    const double errGptq = (quantize("rtn1", w).dequantize() - w).squaredNorm();
    CHECK((tw - w).squaredNorm() < errGptq);
}

TEST_CASE("gptq: H = I is plain RTN; a real H beats RTN on tr(ΔW H ΔWᵀ)", "[quant][gptq]")
{
    const MatrixXfR w = gaussian(24, 256, 41, 0.02f);
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(256, 256);
    for (int bits : {2, 3, 4})
        for (bool sym : {false, true}) {
            const QuantizedLinear q = quantize("gptq", w, {{"bits", bits}, {"group", 64}, {"sym", sym}}, &I);
            CHECK(q.dequantize() == plainRtn(w, bits, 64, sym));
            CHECK(q.storageBitsPerWeight == Approx(bits + 32.0 / 64));
        }
    const Eigen::MatrixXd H = correlatedGram(256, 600, 42);
    for (int bits : {2, 3}) {
        const QuantizedLinear q = quantize("gptq", w, {{"bits", bits}, {"group", 128}}, &H);
        const double eg = objective(w, q.dequantize(), H), er = objective(w, plainRtn(w, bits, 128, false), H);
        INFO("bits " << bits << ": gptq " << eg << " vs rtn " << er);
        CHECK(eg < 0.8 * er);
        // scales and zeros are stored fp16 values
        for (Eigen::Index k = 0; k < q.codes->scale.size(); ++k)
            REQUIRE(roundToHalf(q.codes->scale.data()[k]) == q.codes->scale.data()[k]);
    }
    CHECK_THROWS_AS(quantize("gptq", w, {{"act_order", true}}, &H), std::invalid_argument);
    CHECK_THROWS_AS(quantize("gptq", w, {}, nullptr), std::invalid_argument);
    CHECK_THROWS_WITH(quantize("gptq", w, {{"bitz", 2}}, &H), Catch::Contains("bitz"));
}

TEST_CASE("q1_0: H = I reproduces llama.cpp's reference Q1_0 and round-trips through the block encoding", "[quant][q1_0]")
{
    MatrixXfR w = gaussian(16, 384, 51, 0.02f);
    w(3, 7) = 0.0f;
    w.row(5).segment(128, 128).setZero(); // all-zero block: d = 0
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(384, 384);
    const QuantizedLinear q = quantize("q1_0", w, {}, &I);
    CHECK(q.isExactQ1_0());
    CHECK(q.storageBitsPerWeight == 1.125);
    const std::vector<std::uint8_t> ref = encodeQ1_0Reference(w), mine = encodeQ1_0FromResult(q);
    REQUIRE(ref.size() == mine.size());
    int scaleDiffs = 0;
    for (std::size_t b = 0; b < ref.size(); b += 18) {
        const int dr = ref[b] | ref[b + 1] << 8, dm = mine[b] | mine[b + 1] << 8;
        REQUIRE(std::abs(dr - dm) <= 1); // one fp16 ulp only where the mean sits on a rounding boundary
        scaleDiffs += dr != dm;
        for (std::size_t k = 2; k < 18; ++k) REQUIRE(ref[b + k] == mine[b + k]);
    }
    CHECK(scaleDiffs <= 2);
    CHECK(q.planes[0].rowScale(5, 1) == 0.0f);
    // the exact round trip: the decoded blocks are the method's Ŵ, bit for bit
    CHECK(decodeQ1_0(mine, 16, 384) == q.dequantize());

    CHECK_FALSE(findMethod("q1_0").unsupportedReason(8, 200, findMethod("q1_0").defaults).empty());
    CHECK_THAT(findMethod("q1_0").unsupportedReason(8, 200, findMethod("q1_0").defaults), Catch::Contains("128"));
    CHECK(findMethod("q1_0").unsupportedReason(8, 256, findMethod("q1_0").defaults).empty());
    const MatrixXfR odd = gaussian(4, 200, 52);
    const Eigen::MatrixXd I200 = Eigen::MatrixXd::Identity(200, 200);
    CHECK_THROWS_AS(quantize("q1_0", odd, {}, &I200), std::invalid_argument);
}

TEST_CASE("q1_0: compensation beats per-block sign; polish never increases the objective", "[quant][q1_0]")
{
    const MatrixXfR w = gaussian(32, 384, 61, 0.02f);
    const Eigen::MatrixXd gram = correlatedGram(384, 800, 62);
    const Eigen::MatrixXd H = prepareHessian(gram, 0.01, nullptr, "t").H; // the damped H the method minimizes
    const double eSign = objective(w, quantize("sign", w, {{"group", 128}}).dequantize(), H);
    for (const nlohmann::json& extra : {nlohmann::json::object(), nlohmann::json{{"init", "diag_h"}},
                                        nlohmann::json{{"block_metric", "raw"}}, nlohmann::json{{"alternations", 1}}}) {
        nlohmann::json o = extra, p = extra;
        o["polish"] = false;
        p["polish"] = true;
        const QuantizedLinear a = quantize("q1_0", w, o, &gram), b = quantize("q1_0", w, p, &gram);
        CHECK(a.isExactQ1_0());
        CHECK(b.isExactQ1_0());
        CHECK(a.planes[0].signs == b.planes[0].signs);
        const double ea = objective(w, a.dequantize(), H), eb = objective(w, b.dequantize(), H);
        INFO(extra.dump() << ": sign " << eSign << ", q1_0 " << ea << ", polished " << eb);
        CHECK(ea < 0.9 * eSign);
        CHECK(eb <= ea * (1 + 1e-6));
        CHECK(decodeQ1_0(encodeQ1_0FromResult(b), 32, 384) == b.dequantize());
    }
}

TEST_CASE("residual: a second plane lowers the error; compensation lowers the H objective", "[quant][residual]")
{
    const MatrixXfR w = gaussian(16, 256, 71, 0.02f);
    const double e1 = (quantize("residual", w, {{"k", 1}}).dequantize() - w).squaredNorm();
    const double e2 = (quantize("residual", w, {{"k", 2}}).dequantize() - w).squaredNorm();
    const double e3 = (quantize("residual", w, {{"k", 3}}).dequantize() - w).squaredNorm();
    CHECK(e2 < 0.5 * e1);
    CHECK(e3 < e2);
    // k = 1 is exactly sign with the same groups
    CHECK(quantize("residual", w, {{"k", 1}}).dequantize() == quantize("sign", w, {{"group", 128}}).dequantize());
    // greedy k = 2 by hand for one row group: α1 = mean|w|, α2 = mean|w − α1 sgn w|
    {
        const QuantizedLinear q = quantize("residual", w, {{"k", 2}});
        const Eigen::VectorXf x = w.row(4).segment(128, 128).transpose();
        const float a1 = roundToHalf(float(x.cast<double>().cwiseAbs().mean()));
        Eigen::VectorXf r = x;
        for (Eigen::Index j = 0; j < 128; ++j) r[j] -= a1 * (x[j] >= 0 ? 1.0f : -1.0f);
        CHECK(q.planes[0].rowScale(4, 1) == a1);
        CHECK(q.planes[1].rowScale(4, 1) == roundToHalf(float(r.cast<double>().cwiseAbs().mean())));
    }
    const double eRef = (quantize("residual", w, {{"k", 2}, {"refine", 3}, {"mean", true}}).dequantize() - w).squaredNorm();
    CHECK(eRef < e2 * 1.01);
    const Eigen::MatrixXd gram = correlatedGram(256, 600, 72);
    const double plain = objective(w, quantize("residual", w, {{"k", 2}}).dequantize(), gram);
    const double comp = objective(w, quantize("residual", w, {{"k", 2}, {"compensate", true}}, &gram).dequantize(), gram);
    CHECK(comp < 0.8 * plain);
}

TEST_CASE("svid: the rank-1 scales match a brute-force SVD of |W|", "[quant][svid]")
{
    MatrixXfR w = gaussian(40, 96, 81);
    for (Eigen::Index i = 0; i < 40; ++i) w.row(i) *= 0.5f + float(i % 5);  // give |W| a dominant rank-1 part
    for (Eigen::Index j = 0; j < 96; ++j) w.col(j) *= 0.2f + float(j % 3);
    const QuantizedLinear q = quantize("svid", w);
    const SignPlane& p = q.planes.at(0);
    const Eigen::MatrixXd A = w.cast<double>().cwiseAbs();
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(A, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Eigen::MatrixXd rank1 = svd.singularValues()[0] * svd.matrixU().col(0) * svd.matrixV().col(0).transpose();
    const Eigen::MatrixXd ab = p.rowScale.col(0).cast<double>() * p.colScale.cast<double>().transpose();
    CHECK((ab - rank1).norm() < 2e-3 * rank1.norm());
    CHECK(std::sqrt(double(p.rowScale.col(0).squaredNorm()) * double(p.colScale.squaredNorm())) ==
          Approx(svd.singularValues()[0]).epsilon(2e-3));
    // Ŵ = sgn(W) ⊙ a bᵀ
    const MatrixXfR what = q.dequantize();
    for (Eigen::Index i = 0; i < 40; ++i)
        for (Eigen::Index j = 0; j < 96; ++j)
            REQUIRE(what(i, j) == p.rowScale(i, 0) * (w(i, j) >= 0 ? 1.0f : -1.0f) * p.colScale[j]);
    // Proposition 2: no worse than the rank-1 approximation itself
    CHECK((what.cast<double>() - w.cast<double>()).norm() <= (A - rank1).norm() * 1.01);
    const double eRefined = (quantize("svid", w, {{"refine", 3}}).dequantize() - w).squaredNorm();
    CHECK(eRefined <= (what - w).squaredNorm() * 1.001);
}

TEST_CASE("ternary: about 31% zeros on Gaussian weights; refit is the pattern's least-squares scale", "[quant][ternary]")
{
    const MatrixXfR w = gaussian(64, 1024, 91);
    const QuantizedLinear q = quantize("ternary", w);
    REQUIRE(q.codes);
    const double zeros = double((q.codes->codes.array() == 1).count()) / double(w.size());
    CHECK(zeros == Approx(0.310).margin(0.01));
    const float gamma = roundToHalf(float(w.cast<double>().cwiseAbs().mean()));
    CHECK((q.codes->scale.array() == gamma).all());
    const MatrixXfR what = q.dequantize();
    CHECK(((what.array() == 0) || (what.array().abs() == gamma)).all());

    const QuantizedLinear r = quantize("ternary", w, {{"refit", true}});
    CHECK(r.codes->codes == q.codes->codes);
    double s = 0, c = 0;
    for (Eigen::Index k = 0; k < w.size(); ++k)
        if (q.codes->codes.data()[k] != 1) s += std::fabs(w.data()[k]), c += 1;
    CHECK(r.codes->scale(0, 0) == roundToHalf(float(s / c)));
    CHECK((r.dequantize() - w).squaredNorm() < (what - w).squaredNorm());
    CHECK(findMethod("ternary").estimateBits(64, 1024, findMethod("ternary").defaults) == 1.6875);
    CHECK(findMethod("ternary").estimateBits(64, 1024, mergeOptions(findMethod("ternary"), {{"storage", "tq2_0"}})) == 2.0625);

    const MatrixXfR ws = gaussian(16, 256, 92, 0.02f);
    const Eigen::MatrixXd gram = correlatedGram(256, 600, 93);
    const double plain = objective(ws, quantize("ternary", ws, {{"group", 128}}).dequantize(), gram);
    const double comp = objective(ws, quantize("ternary", ws, {{"group", 128}, {"compensate", true}}, &gram).dequantize(), gram);
    CHECK(comp < 0.8 * plain);
}

TEST_CASE("estimateBits equals the bits counted from the result's parts", "[quant][bits]")
{
    const MatrixXfR w = gaussian(12, 384, 101, 0.02f);
    const Eigen::MatrixXd gram = correlatedGram(384, 500, 102);
    const std::vector<std::pair<std::string, nlohmann::json>> cases = {
        {"sign", {}}, {"sign", {{"group", 128}}}, {"sign", {{"group", 100}}},
        {"rtn1", {}}, {"rtn1", {{"group", 64}}},
        {"residual", {}}, {"residual", {{"k", 3}, {"mean", true}, {"group", 32}}},
        {"svid", {}},
        {"gptq", {}}, {"gptq", {{"bits", 4}, {"group", "row"}}}, {"gptq", {{"bits", 3}, {"group", 32}}},
        {"q1_0", {}}};
    for (const auto& [id, options] : cases) {
        const MethodInfo& method = findMethod(id);
        const QuantizedLinear q = quantize(id, w, options, &gram);
        const double estimate = method.estimateBits(12, 384, mergeOptions(method, options));
        INFO(id << " " << options.dump());
        CHECK(estimate == Approx(countedBitsPerWeight(q)).epsilon(1e-12));
        CHECK(q.storageBitsPerWeight == estimate);
    }
    CHECK(findMethod("sign").estimateBits(4096, 4096, findMethod("sign").defaults) == Approx(1 + 16.0 / 4096));
    CHECK(findMethod("svid").estimateBits(4096, 4096, findMethod("svid").defaults) == Approx(1.0078125));
}

TEST_CASE("methods honour cancellation and reject unknown options", "[quant][registry]")
{
    const MatrixXfR w = gaussian(8, 256, 111);
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(256, 256);
    CancelToken cancel;
    cancel.request();
    for (const char* id : {"sign", "rtn1", "ternary", "residual", "svid", "gptq", "q1_0"}) {
        INFO(id);
        CHECK_THROWS_AS(quantize(id, w, {}, &I, &cancel), Cancelled);
        CHECK_THROWS_WITH(mergeOptions(findMethod(id), {{"no_such_option", 1}}), Catch::Contains("no_such_option"));
        CHECK(findMethod(id).unsupportedReason(8, 256, findMethod(id).defaults).empty());
    }
    CHECK_THROWS_WITH(quantize("residual", w, {{"k", 9}}), Catch::Contains("'k'"));
    CHECK_FALSE(findMethod("gptq").unsupportedReason(8, 256, {{"act_order", true}}).empty());
}

TEST_CASE("the registry lists the 12 methods in the methods.md order", "[quant][registry]")
{
    std::vector<std::string> ids;
    for (const MethodInfo& m : methodRegistry()) ids.push_back(m.id);
    CHECK(ids == std::vector<std::string>{"sign", "rtn1", "residual", "billm", "arb", "arb-x", "arb-rc", "svid",
                                          "output-align", "gptq", "ternary", "q1_0"});
    CHECK_THROWS_WITH(findMethod("nope"), Catch::Contains("q1_0"));
    CHECK(findMethod("gptq").needsGram);
    CHECK(findMethod("q1_0").needsGram);
    CHECK_FALSE(findMethod("sign").needsGram);
}

TEST_CASE("every option of every method has a schema entry: type, default inside its range, help", "[quant][registry]")
{
    for (const MethodInfo& m : methodRegistry()) {
        INFO(m.id);
        CHECK_FALSE(m.options.empty());
        CHECK(m.defaults == optionDefaults(m.options));
        CHECK(mergeOptions(m, nullptr) == m.defaults); // the defaults pass their own validation
        CHECK((m.unsupportedReason && m.estimateBits && m.residentBytesPerWeight && m.workingBytes && m.quantize));
        std::set<std::string> names;
        for (const OptionSpec& o : m.options) {
            INFO(o.name);
            CHECK(names.insert(o.name).second);
            CHECK_FALSE(o.help.empty());
            CHECK(o.help.find('\n') == std::string::npos);
            const nlohmann::json& d = o.defaultValue;
            const auto isChoice = [&] {
                return d.is_string() &&
                       std::find(o.choices.begin(), o.choices.end(), d.get<std::string>()) != o.choices.end();
            };
            switch (o.type) {
            case OptionType::Bool: CHECK(d.is_boolean()); break;
            case OptionType::Int:
                CHECK(o.min <= o.max);
                CHECK((isChoice() || (d.is_number_integer() && o.min <= d.get<double>() && d.get<double>() <= o.max)));
                break;
            case OptionType::Float:
                CHECK(o.min <= o.max);
                CHECK((d.is_number() && o.min <= d.get<double>() && d.get<double>() <= o.max));
                break;
            case OptionType::Choice:
                CHECK(o.choices.size() >= 2);
                CHECK(isChoice());
                break;
            }
        }
    }
}

TEST_CASE("mergeOptions checks types and ranges against the schema, naming the allowed values", "[quant][registry]")
{
    using Catch::Contains;
    CHECK_THROWS_WITH(mergeOptions(findMethod("residual"), {{"k", 9}}),
                      Contains("residual") && Contains("'k' = 9") && Contains("an integer in 1..4"));
    CHECK_THROWS_WITH(mergeOptions(findMethod("gptq"), {{"percdamp", 20}}),
                      Contains("gptq") && Contains("'percdamp' = 20") && Contains("a number in [0, 10]"));
    CHECK_THROWS_WITH(mergeOptions(findMethod("arb"), {{"salient_metric", "random"}}), Contains("hessian | magnitude"));
    CHECK_THROWS_WITH(mergeOptions(findMethod("sign"), {{"group", 0}}),
                      Contains("\"row\" or an integer in 1..16777216"));
    CHECK_THROWS_WITH(mergeOptions(findMethod("sign"), {{"group", "tensor"}}), Contains("'group' = \"tensor\""));
    CHECK_THROWS_WITH(mergeOptions(findMethod("arb-rc"), {{"cgb", 1}}), Contains("true or false"));
    CHECK_THROWS_WITH(mergeOptions(findMethod("svid"), {{"iterations", 2.5}}), Contains("an integer in 1..1000"));
    CHECK_THROWS_WITH(mergeOptions(findMethod("sign"), nlohmann::json::array()), Contains("JSON object"));
    CHECK(mergeOptions(findMethod("ternary"), {{"group", "tensor"}})["group"] == "tensor");
    CHECK(mergeOptions(findMethod("gptq"), {{"percdamp", 1}})["percdamp"] == 1); // an integer is a number
    CHECK(allowedValues(findMethod("ternary").options.front()) == "\"row\", \"tensor\" or an integer in 1..16777216");
}

// Timing of the two calibrated methods on an OPT-125M fc2-sized problem; run with `test_quant_basic "[.bench]"`.
TEST_CASE("bench: gptq and q1_0 on 768×3072 with a 3072² Gram", "[.bench]")
{
    const MatrixXfR w = gaussian(768, 3072, 121, 0.02f);
    const MatrixXfR x = gaussian(1024, 3072, 122);
    const Eigen::MatrixXd gram = (x.transpose() * x).cast<double>() + Eigen::MatrixXd::Identity(3072, 3072);
    for (const auto& [id, options] : std::vector<std::pair<std::string, nlohmann::json>>{
             {"gptq", {{"bits", 2}, {"group", 128}}}, {"q1_0", {}}, {"q1_0", {{"polish", true}}}}) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        const QuantizedLinear q = quantize(id, w, options, &gram);
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%s %s: %.2f s wall, %.2f s CPU\n", id.c_str(), options.dump().c_str(), sec,
                    double(std::clock() - c0) / CLOCKS_PER_SEC);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    const PreparedHessian ph = prepareHessian(gram, 0.01, nullptr, "bench");
    std::printf("prepareHessian alone (m = %d): %.2f s wall, %.2f s CPU\n", int(ph.U.rows()),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                double(std::clock() - c0) / CLOCKS_PER_SEC);
}

// Objective of the q1_0 variants on a correlated Gram (for choosing defaults); run with "[.bench]".
TEST_CASE("bench: q1_0 option variants", "[.bench]")
{
    const MatrixXfR w = gaussian(128, 768, 131, 0.02f);
    const Eigen::MatrixXd gram = correlatedGram(768, 3000, 132);
    const Eigen::MatrixXd H = prepareHessian(gram, 0.01, nullptr, "t").H;
    std::printf("sign g128: %.4g\n", objective(w, quantize("sign", w, {{"group", 128}}).dequantize(), H));
    std::printf("gptq 2-bit g128: %.4g\n", objective(w, quantize("gptq", w, {}, &gram).dequantize(), H));
    for (const char* metric : {"raw", "schur"})
        for (const char* init : {"mean", "diag_h"})
            for (int alternations : {1, 2, 4})
                for (bool polish : {false, true}) {
                    const nlohmann::json o = {{"block_metric", metric}, {"init", init}, {"alternations", alternations},
                                              {"polish", polish}};
                    std::printf("q1_0 %s: %.4g\n", o.dump().c_str(), objective(w, quantize("q1_0", w, o, &gram).dequantize(), H));
                }
}
