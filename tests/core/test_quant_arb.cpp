// The salient / alternating-refinement family (billm, arb, arb-x, arb-rc, output-align): monotone
// iterations, objectives checked by direct evaluation, exact reconstruction and the full bit count.
#include "bq/jobs/job.h"
#include "bq/quant/methods/binary_family.h"
#include "bq/quant/obc/block_compensation.h"
#include "bq/quant/obc/hessian.h"
#include "bq/quant/methods/method.h"
#include "bq/util/errors.h"
#include <catch2/catch.hpp>
#include <random>

using namespace bq;
using namespace bq::quant;
using namespace bq::quant::binary;

namespace {

MatrixXfR randomWeight(Eigen::Index n, Eigen::Index m, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    MatrixXfR W(n, m);
    for (Eigen::Index k = 0; k < W.size(); ++k) W.data()[k] = nd(rng);
    for (Eigen::Index j = 0; j < m; j += 37) W.col(j) *= 6.0f; // a few outlier columns
    return W;
}

// Calibration-like inputs: N tokens, anisotropic channels, correlated through a shared factor.
Eigen::MatrixXd randomInputs(Eigen::Index N, Eigen::Index m, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    Eigen::MatrixXd X(N, m);
    for (Eigen::Index t = 0; t < N; ++t) {
        const double shared = nd(rng);
        for (Eigen::Index j = 0; j < m; ++j) X(t, j) = (1.0 + 3.0 * double(j % 11 == 0)) * (nd(rng) + 0.5 * shared);
    }
    return X;
}

double hessianError(const MatrixXfR& W, const MatrixXfR& What, const Eigen::MatrixXd& H)
{
    const Eigen::MatrixXd D = (W - What).cast<double>();
    return (D * H).cwiseProduct(D).sum();
}

MatrixXdR randomBlock(Eigen::Index n, Eigen::Index w, unsigned seed)
{
    return randomWeight(n, w, seed).cast<double>();
}

MatrixXu8R randomZones(Eigen::Index n, Eigen::Index w, unsigned seed)
{
    std::mt19937 rng(seed);
    MatrixXu8R z(n, w);
    for (Eigen::Index k = 0; k < z.size(); ++k) z.data()[k] = std::uint8_t(rng() % 4);
    return z;
}

double zoneError(const MatrixXdR& X, const ZoneParams& p, const MatrixXu8R& zone, int z)
{
    const MatrixXdR V = zoneValue(p, zone, z);
    double e = 0;
    for (Eigen::Index i = 0; i < X.rows(); ++i)
        for (Eigen::Index j = 0; j < X.cols(); ++j)
            if (zone(i, j) == z) e += (X(i, j) - V(i, j)) * (X(i, j) - V(i, j));
    return e;
}

// Σ_i r_J S_JJ r_Jᵀ over each row's zone entries (the ARB-X objective), by direct double loops.
double zoneErrorS(const MatrixXdR& X, const ZoneParams& p, const MatrixXu8R& zone, int z, const Eigen::MatrixXd& S)
{
    const MatrixXdR V = zoneValue(p, zone, z);
    double e = 0;
    for (Eigen::Index i = 0; i < X.rows(); ++i)
        for (Eigen::Index j = 0; j < X.cols(); ++j)
            for (Eigen::Index k = 0; k < X.cols(); ++k)
                if (zone(i, j) == z && zone(i, k) == z)
                    e += (X(i, j) - V(i, j)) * S(j, k) * (X(i, k) - V(i, k));
    return e;
}

void requireNonIncreasing(const std::vector<double>& trace)
{
    REQUIRE(trace.size() >= 2);
    for (std::size_t t = 1; t < trace.size(); ++t) REQUIRE(trace[t] <= trace[t - 1] * (1 + 1e-12) + 1e-18);
}

struct Layer {
    MatrixXfR W;
    Eigen::MatrixXd H, Hfp, C;
};

Layer makeLayer(Eigen::Index n, Eigen::Index m, unsigned seed, double drift)
{
    Layer L;
    L.W = randomWeight(n, m, seed);
    const Eigen::MatrixXd X = randomInputs(512, m, seed + 1);
    Eigen::MatrixXd Xq = X;
    std::mt19937 rng(seed + 2);
    std::normal_distribution<double> nd(0.0, drift);
    for (Eigen::Index k = 0; k < Xq.size(); ++k) Xq.data()[k] += nd(rng);
    L.H = Xq.transpose() * Xq;
    L.Hfp = X.transpose() * X;
    L.C = Xq.transpose() * X;
    return L;
}

QuantizedLinear run(const FamilyMember& f, const Layer& L, const nlohmann::json& options, MethodDiagnostics& diag,
                    MatrixXfR* internal = nullptr)
{
    QuantizeRequest req;
    req.weight = &L.W;
    req.stats.gram = &L.H;
    req.stats.gramFp = &L.Hfp;
    req.stats.crossGram = &L.C;
    req.options = options;
    req.tensor = "test.weight";
    return quantizeBinaryFamily(f, req, diag, internal);
}

// Bits counted from the result's parts: every covered sign, one group bitmap, the salient-column bitmap,
// every row scale and mean, one column scale per column a plane can cover.
double countedBits(const QuantizedLinear& q, const std::vector<std::uint8_t>& salient)
{
    double salientCols = 0;
    for (auto s : salient) salientCols += s;
    double bits = double(q.cols); // salient-column bitmap
    bool elements = false;
    for (const SignPlane& p : q.planes) {
        for (Eigen::Index i = 0; i < q.rows; ++i)
            for (Eigen::Index j = 0; j < q.cols; ++j) bits += p.mask.applies(i, j) ? 1 : 0;
        elements = elements || p.mask.kind == PlaneMask::Kind::Elements;
        bits += 16.0 * double(p.rowScale.size() + p.mean.size());
        if (p.colScale.size()) {
            bool onSalient = p.mask.kind == PlaneMask::Kind::Columns;
            if (p.mask.kind == PlaneMask::Kind::Elements)
                for (Eigen::Index i = 0; i < q.rows && !onSalient; ++i)
                    for (Eigen::Index j = 0; j < q.cols; ++j)
                        if (p.mask.elements(i, j)) {
                            onSalient = salient[std::size_t(j)] != 0;
                            break;
                        }
            bits += 16.0 * (onSalient ? salientCols : double(q.cols) - salientCols);
        }
    }
    if (elements) bits += double(q.rows * q.cols); // the sparse/concentrated group bitmap
    return bits / double(q.rows * q.cols);
}

} // namespace

TEST_CASE("ARB iterations never increase their own objective (first and second order)", "[quant][arb]")
{
    const MatrixXdR X = randomBlock(40, 96, 11);
    const MatrixXu8R zone = randomZones(40, 96, 12);
    for (int order = 1; order <= 2; ++order) {
        std::vector<double> trace;
        const ZoneParams p = fitArb(X, zone, 2, order, 15, &trace);
        requireNonIncreasing(trace);
        REQUIRE(trace.size() == 16);
        REQUIRE(trace.back() == Approx(zoneError(X, p, zone, 2)).epsilon(1e-9));
        REQUIRE(trace.back() < trace.front()); // it does improve on the BRAQ init
        const ZoneParams braq = fitBraq(X, zone, 2, order);
        REQUIRE(trace.front() == Approx(zoneError(X, braq, zone, 2)).epsilon(1e-9));
        for (Eigen::Index i = 0; i < X.rows(); ++i) REQUIRE(p.alpha[0][i] >= 0);
    }
}

TEST_CASE("ARB-RC iterations never increase the weight error; scales end non-negative", "[quant][arb]")
{
    const MatrixXdR X = randomBlock(48, 64, 21);
    const MatrixXu8R zone = randomZones(48, 64, 22);
    for (int order = 1; order <= 2; ++order) {
        std::vector<double> trace;
        const ZoneParams p = fitArbRc(X, zone, 1, order, 15, &trace);
        requireNonIncreasing(trace);
        REQUIRE(trace.back() == Approx(zoneError(X, p, zone, 1)).epsilon(1e-9));
        for (int o = 0; o < order; ++o) {
            REQUIRE(p.alpha[std::size_t(o)].minCoeff() >= 0);
            REQUIRE(p.col[std::size_t(o)].minCoeff() >= 0);
        }
    }
}

TEST_CASE("ARB-X refinement lowers the H-metric objective below plain ARB", "[quant][arb]")
{
    const Eigen::Index n = 24, w = 48;
    const MatrixXdR X = randomBlock(n, w, 31);
    const MatrixXu8R zone = randomZones(n, w, 32);
    const Eigen::MatrixXd In = randomInputs(256, w, 33);
    const Eigen::MatrixXd S = In.transpose() * In;
    for (int order = 1; order <= 2; ++order) {
        ZoneParams p = fitArb(X, zone, 3, order, 15, nullptr);
        const double plain = zoneErrorS(X, p, zone, 3, S);
        std::vector<double> trace;
        refineArbX(X, zone, 3, S, 15, p, &trace);
        requireNonIncreasing(trace);
        REQUIRE(trace.front() == Approx(plain).epsilon(1e-9));
        const double refined = zoneErrorS(X, p, zone, 3, S);
        REQUIRE(refined == Approx(trace.back()).epsilon(1e-9));
        REQUIRE(refined < 0.99 * plain);
    }
}

TEST_CASE("billm beats sign×mean-abs in the Hessian metric; arb-x beats arb", "[quant][arb]")
{
    const Layer L = makeLayer(48, 256, 41, 0.0);
    // sign: per row, α = mean |w|
    MatrixXfR S(L.W.rows(), L.W.cols());
    for (Eigen::Index i = 0; i < L.W.rows(); ++i) {
        const float a = L.W.row(i).cwiseAbs().mean();
        for (Eigen::Index j = 0; j < L.W.cols(); ++j) S(i, j) = L.W(i, j) >= 0 ? a : -a;
    }
    MethodDiagnostics d1, d2, d3;
    const MatrixXfR billm = run(billmMember(), L, {}, d1).dequantize();
    const double eSign = hessianError(L.W, S, L.H), eBillm = hessianError(L.W, billm, L.H);
    REQUIRE(eBillm < 0.5 * eSign);
    const MatrixXfR arb = run(arbMember(), L, {}, d2).dequantize();
    const MatrixXfR arbx = run(arbXMember(), L, {}, d3).dequantize();
    REQUIRE(hessianError(L.W, arbx, L.H) < hessianError(L.W, arb, L.H));
    REQUIRE(hessianError(L.W, arb, L.H) < eSign);
}

TEST_CASE("dequantize() reproduces each method's internal Ŵ exactly; bits counted from the parts",
          "[quant][arb]")
{
    const Layer L = makeLayer(40, 320, 51, 0.2); // last block is 64 columns wide
    for (const FamilyMember* member :
         {&billmMember(), &arbMember(), &arbXMember(), &arbRcMember(), &outputAlignMember()}) {
        const FamilyMember& f = *member;
        INFO(f.id);
        MethodDiagnostics diag;
        MatrixXfR internal;
        const QuantizedLinear q = run(f, L, {}, diag, &internal);
        REQUIRE_NOTHROW(q.validate());
        const MatrixXfR deq = q.dequantize();
        REQUIRE(deq.rows() == internal.rows());
        REQUIRE((deq.array() == internal.array()).all());
        REQUIRE(q.storageBitsPerWeight == Approx(countedBits(q, diag.salientColumns)).epsilon(1e-12));
        double salient = 0;
        for (auto s : diag.salientColumns) salient += s;
        REQUIRE(salient >= 3);   // at least one salient column per block
        REQUIRE(salient <= 3 * 49);
        const MethodInfo& info = findMethod(f.id);
        const double estimate = info.estimateBits(40, 320, info.defaults);
        REQUIRE(estimate == Approx(familyStorageBits(f, 40, 320, kExpectedSalientFraction * 320,
                                                     familyUsesCgb(f, info.defaults))));
        REQUIRE(std::abs(estimate - q.storageBitsPerWeight) < 0.3);
        // determinism
        MethodDiagnostics diag2;
        REQUIRE((run(f, L, {}, diag2).dequantize().array() == deq.array()).all());
    }
}

TEST_CASE("full bit counts match the methods.md table at 4096×4096", "[quant][arb]")
{
    REQUIRE(familyStorageBits(billmMember(), 4096, 4096, 0, false) == Approx(2.875 + 1.0 / 4096));
    REQUIRE(familyStorageBits(arbRcMember(), 4096, 4096, 0, false) == Approx(2.5 + 1.0 / 4096 + 32.0 / 4096));
    REQUIRE(familyStorageBits(arbRcMember(), 4096, 4096, 0, true) == Approx(2.75 + 1.0 / 4096 + 32.0 / 4096));
    // the second plane on 8 % salient columns adds 0.08 bits
    REQUIRE(familyStorageBits(billmMember(), 4096, 4096, 0.08 * 4096, false) == Approx(2.955 + 1.0 / 4096));
}

TEST_CASE("output-align with X̂ = X is the Hessian-weighted alternating fit of W", "[quant][arb]")
{
    Layer L = makeLayer(32, 128, 61, 0.0); // one block: no compensation, target = W exactly when C = Ĥ
    const nlohmann::json opts = {{"amp_gate", "off"}, {"ridge", 0.0}};
    MethodDiagnostics diag;
    const QuantizedLinear q = run(outputAlignMember(), L, opts, diag);
    requireNonIncreasing(diag.objectiveTrace);

    // The same steps from the public pieces, on W itself.
    MatrixXfR W = L.W;
    const PreparedHessian ph = prepareHessian(L.H, 0.01, &W, "t");
    const Eigen::VectorXd diagU = ph.U.diagonal();
    PartitionOptions po;
    po.cgb = true;
    const BlockPartition part = searchPartition(W, diagU, po);
    const MatrixXdR X = W.cast<double>();
    std::array<ZoneParams, kZones> zones;
    for (int z = 0; z < kZones; ++z) zones[std::size_t(z)] = fitArbRc(X, part.zone, z, isSalientZone(z) ? 2 : 1, 15, nullptr);
    const Eigen::MatrixXd M = blockMetric(ph, 0, 128, BlockMetric::Raw);
    OutputAlignBlock blk;
    blk.target = &X;
    blk.metric = &M;
    blk.zone = &part.zone;
    blk.gate = AmpGate::Off;
    blk.ridge = 1e-9;
    std::vector<double> trace;
    alignBlockOutput(blk, zones, &trace);
    REQUIRE(trace.back() == Approx(diag.objectiveTrace.back()).epsilon(1e-4));
    MatrixXdR ref = MatrixXdR::Zero(32, 128);
    for (int z = 0; z < kZones; ++z) ref += zoneValue(zones[std::size_t(z)], part.zone, z);
    // same fit up to the fp16 rounding of the stored scales
    const MatrixXdR got = q.dequantize().cast<double>();
    REQUIRE((got - ref).cwiseAbs().maxCoeff() < 2e-3 * ref.cwiseAbs().maxCoeff());
    // and its objective is the Hessian-weighted error of W
    const double direct = (got - X).cwiseProduct((got - X) * M).sum();
    REQUIRE(direct == Approx(trace.back()).epsilon(2e-2));

    // With a drifted quantized stream the target changes and so does the result.
    Layer D = makeLayer(32, 128, 61, 0.3);
    MethodDiagnostics d2;
    REQUIRE((run(outputAlignMember(), D, opts, d2).dequantize().array() != q.dequantize().array()).any());
}

TEST_CASE("AMP gate: off descends monotonically, literal only takes AMP-increasing steps", "[quant][arb]")
{
    const Layer L = makeLayer(32, 256, 71, 0.2);
    MethodDiagnostics off, lit, dir;
    const MatrixXfR Woff = run(outputAlignMember(), L, {{"amp_gate", "off"}}, off).dequantize();
    const MatrixXfR Wlit = run(outputAlignMember(), L, {{"amp_gate", "literal"}}, lit).dequantize();
    const MatrixXfR Wdir = run(outputAlignMember(), L, {{"amp_gate", "directional"}}, dir).dequantize();
    REQUIRE((Woff.array() != Wlit.array()).any());
    REQUIRE((Woff.array() != Wdir.array()).any());
    // the gate blocks some steps, so the gated fit lands at a higher (or equal) output-error objective
    REQUIRE(off.objectiveTrace.back() <= lit.objectiveTrace.back());
    REQUIRE(off.objectiveTrace.back() <= dir.objectiveTrace.back());
    // and every method result is finite
    REQUIRE(Wlit.allFinite());
}

TEST_CASE("options are validated and cancel is honoured", "[quant][arb]")
{
    const Layer L = makeLayer(16, 128, 81, 0.1);
    MethodDiagnostics diag;
    REQUIRE_THROWS_AS(run(arbMember(), L, {{"iterations", -1}}, diag), std::invalid_argument);
    REQUIRE_THROWS_AS(run(arbRcMember(), L, {{"nope", 1}}, diag), std::invalid_argument);
    REQUIRE_THROWS_AS(run(outputAlignMember(), L, {{"amp_gate", "sometimes"}}, diag), std::invalid_argument);
    REQUIRE_FALSE(findMethod("output-align").unsupportedReason(16, 128, {{"scope", "matrix"}}).empty());
    REQUIRE(findMethod("billm").unsupportedReason(16, 128, findMethod("billm").defaults).empty());
    REQUIRE(findMethod("output-align").needsTwoStreams);
    bq::CancelToken cancel;
    cancel.request();
    QuantizeRequest req;
    req.weight = &L.W;
    req.stats.gram = &L.H;
    req.cancel = &cancel;
    req.tensor = "t";
    REQUIRE_THROWS_AS(quantizeBinaryFamily(billmMember(), req, diag), bq::Cancelled);
}
