// Analysis metrics (methods.md §2.6, §3.7.4) against direct evaluation: explicit tokens instead of Grams,
// explicit T × T similarity matrices, constructed spectra.
#include "bq/quant/analysis/analysis.h"
#include "bq/util/errors.h"
#include <Eigen/Dense>
#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <cstdio>
#include <cmath>
#include <random>

using namespace bq;
using namespace bq::quant;

namespace {

Eigen::MatrixXd gaussianD(Eigen::Index r, Eigen::Index c, std::mt19937_64& rng, double sigma = 1.0)
{
    std::normal_distribution<double> n(0.0, sigma);
    Eigen::MatrixXd m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = n(rng);
    return m;
}

MatrixXfR gaussianF(Eigen::Index r, Eigen::Index c, std::mt19937_64& rng, double sigma = 1.0)
{
    return gaussianD(r, c, rng, sigma).cast<float>();
}

// A crude 1-bit quantizer (sign × row mean-abs) so Ŵ looks like a real method's output.
MatrixXfR signQuantize(const MatrixXfR& w)
{
    MatrixXfR q(w.rows(), w.cols());
    for (Eigen::Index i = 0; i < w.rows(); ++i) {
        const float scale = w.row(i).cwiseAbs().mean();
        for (Eigen::Index j = 0; j < w.cols(); ++j)
            q(i, j) = w(i, j) >= 0 ? scale : -scale;
    }
    return q;
}

Eigen::MatrixXd randomOrthogonal(Eigen::Index n, std::mt19937_64& rng)
{
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussianD(n, n, rng));
    return qr.householderQ() * Eigen::MatrixXd::Identity(n, n);
}

double relDiff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

} // namespace

TEST_CASE("relative weight error and tr(A H Bᵀ) match direct sums", "[analysis]")
{
    std::mt19937_64 rng(1);
    const MatrixXfR w = gaussianF(7, 13, rng);
    const MatrixXfR q = signQuantize(w);
    const Eigen::MatrixXd wd = w.cast<double>(), qd = q.cast<double>();
    CHECK(relativeWeightError(w, q) == Approx((wd - qd).norm() / wd.norm()).epsilon(1e-12));
    CHECK(relativeWeightError(w, w) == 0.0);
    CHECK_THROWS_AS(relativeWeightError(w, MatrixXfR(7, 12)), std::invalid_argument);

    const Eigen::MatrixXd x = gaussianD(40, 13, rng);
    const Eigen::MatrixXd h = x.transpose() * x;
    double direct = 0; // Σ_t ⟨W x_t, Ŵ x_t⟩
    for (Eigen::Index t = 0; t < x.rows(); ++t)
        direct += (wd * x.row(t).transpose()).dot(qd * x.row(t).transpose());
    CHECK(relDiff(traceAHBt(w, h, q), direct) < 1e-12);
}

TEST_CASE("Gram-based output errors equal the token-based ones", "[analysis]")
{
    std::mt19937_64 rng(2);
    const Eigen::Index n = 24, m = 48, tokens = 300;
    // Correlated, anisotropic inputs with a few large channels, like real activations.
    Eigen::MatrixXd x = gaussianD(tokens, m, rng) * gaussianD(m, m, rng, 0.3);
    x.col(3) *= 20.0;
    x.col(17) *= 8.0;
    const Eigen::MatrixXd xq = x + gaussianD(tokens, m, rng, 0.2); // the quantized prefix's drifted inputs
    const MatrixXfR w = gaussianF(n, m, rng, 0.05);
    const MatrixXfR q = signQuantize(w);
    const Eigen::MatrixXd wd = w.cast<double>(), qd = q.cast<double>();

    const Eigen::MatrixXd hFp = x.transpose() * x;
    const Eigen::MatrixXd hQ = xq.transpose() * xq;
    const Eigen::MatrixXd cross = xq.transpose() * x; // C = Σ x̂ xᵀ
    LayerStatistics stats;
    stats.gramFp = &hFp;
    stats.gram = &hQ;
    stats.crossGram = &cross;
    stats.tokens = tokens;

    const Eigen::MatrixXd yFp = x * wd.transpose();
    const double reference = yFp.squaredNorm();
    const double localDirect = (x * (wd - qd).transpose()).squaredNorm() / reference;
    const double cumulativeDirect = (yFp - xq * qd.transpose()).squaredNorm() / reference;

    const OutputErrors e = outputErrors(w, q, stats);
    CHECK(relDiff(e.reference, reference) < 1e-9);
    CHECK(relDiff(e.local, localDirect) < 1e-9);
    CHECK(relDiff(e.cumulative, cumulativeDirect) < 1e-9);
    CHECK(e.cumulative > e.local); // the drifted inputs add error on top of the weight error

    SECTION("identical streams: cumulative equals local")
    {
        const Eigen::MatrixXd same = hFp;
        LayerStatistics one{&same, &hFp, &same, tokens};
        const OutputErrors s = outputErrors(w, q, one);
        CHECK(relDiff(s.cumulative, localDirect) < 1e-9);
    }
    SECTION("single stream: local from Ĥ, no cumulative")
    {
        LayerStatistics single;
        single.gram = &hQ;
        const OutputErrors s = outputErrors(w, q, single);
        CHECK(relDiff(s.local, (xq * (wd - qd).transpose()).squaredNorm() /
                                   (xq * wd.transpose()).squaredNorm()) < 1e-9);
        CHECK(std::isnan(s.cumulative));
    }
    SECTION("bad shapes throw")
    {
        const Eigen::MatrixXd small = Eigen::MatrixXd::Identity(m - 1, m - 1);
        LayerStatistics bad;
        bad.gramFp = &small;
        CHECK_THROWS_AS(outputErrors(w, q, bad), std::invalid_argument);
        CHECK_THROWS_AS(outputErrors(w, q, LayerStatistics{}), std::invalid_argument);
    }
}

TEST_CASE("stream comparison accumulates relative MSE and mean cosine chunk by chunk", "[analysis]")
{
    std::mt19937_64 rng(3);
    const Eigen::Index tokens = 101, dim = 32;
    const MatrixXfR fp = gaussianF(tokens, dim, rng);
    MatrixXfR q = fp + gaussianF(tokens, dim, rng, 0.4);
    q.row(5) = -fp.row(5); // cosine −1

    double err = 0, ref = 0, cos = 0;
    for (Eigen::Index t = 0; t < tokens; ++t) {
        const Eigen::VectorXd a = q.row(t).cast<double>().transpose();
        const Eigen::VectorXd b = fp.row(t).cast<double>().transpose();
        err += (a - b).squaredNorm();
        ref += b.squaredNorm();
        cos += a.dot(b) / (a.norm() * b.norm());
    }

    StreamComparison chunked;
    Eigen::Index start = 0;
    for (Eigen::Index size : {1, 17, 40, 43}) {
        chunked.add(q.middleRows(start, size), fp.middleRows(start, size));
        start += size;
    }
    REQUIRE(start == tokens);
    CHECK(chunked.tokens() == tokens);
    CHECK(relDiff(chunked.relativeMse(), err / ref) < 1e-12);
    CHECK(relDiff(chunked.meanCosine(), cos / double(tokens)) < 1e-12);

    // Merging two halves equals feeding everything to one accumulator.
    StreamComparison first, second;
    first.add(q.topRows(50), fp.topRows(50));
    second.add(q.data() + 50 * dim, fp.data() + 50 * dim, tokens - 50, dim);
    first.merge(second);
    CHECK(relDiff(first.relativeMse(), chunked.relativeMse()) < 1e-12);
    CHECK(relDiff(first.meanCosine(), chunked.meanCosine()) < 1e-12);

    StreamComparison edge;
    CHECK(std::isnan(edge.relativeMse()));
    MatrixXfR zeros = MatrixXfR::Zero(2, dim);
    MatrixXfR one = zeros;
    one(1, 0) = 1;
    edge.add(zeros, one); // token 0: both zero → 1; token 1: quantized zero → 0
    CHECK(edge.meanCosine() == Approx(0.5));
    CHECK(edge.relativeMse() == Approx(1.0));
    CHECK_THROWS_AS(edge.add(gaussianF(2, dim + 1, rng), gaussianF(2, dim + 1, rng)), std::invalid_argument);
    CHECK_THROWS_AS(edge.add(gaussianF(2, dim, rng), gaussianF(3, dim, rng)), std::invalid_argument);
}

TEST_CASE("token-similarity error equals the explicit T × T matrices", "[analysis]")
{
    std::mt19937_64 rng(4);
    const Eigen::Index t = 37, d = 20;
    MatrixXfR fp = gaussianF(t, d, rng);
    MatrixXfR q = fp + gaussianF(t, d, rng, 0.5);
    q.row(9).setZero(); // a zero row stays zero after normalization

    auto direct = [](const MatrixXfR& a, const MatrixXfR& b, bool normalize) {
        Eigen::MatrixXd ad = a.cast<double>(), bd = b.cast<double>();
        if (normalize)
            for (Eigen::MatrixXd* z : {&ad, &bd})
                for (Eigen::Index i = 0; i < z->rows(); ++i)
                    if (z->row(i).norm() > 0)
                        z->row(i).normalize();
        double sum = 0;
        for (Eigen::Index i = 0; i < a.rows(); ++i)
            for (Eigen::Index j = 0; j < a.rows(); ++j) {
                const double diff = ad.row(i).dot(ad.row(j)) - bd.row(i).dot(bd.row(j));
                sum += diff * diff;
            }
        return std::sqrt(sum);
    };

    const TokenSimilarityError e = tokenSimilarityError(q, fp);
    CHECK(relDiff(e.normalized, direct(q, fp, true)) < 1e-10);
    CHECK(relDiff(e.unnormalized, direct(q, fp, false)) < 1e-10);
    CHECK(tokenSimilarityError(fp, fp).normalized == 0.0);

    // Rescaling tokens changes only the unnormalized variant.
    MatrixXfR scaledQ = q, scaledFp = fp;
    for (Eigen::Index i = 0; i < t; ++i) {
        scaledQ.row(i) *= float(1 + i);
        scaledFp.row(i) *= float(1 + i);
    }
    const TokenSimilarityError s = tokenSimilarityError(scaledQ, scaledFp);
    CHECK(relDiff(s.normalized, e.normalized) < 1e-5);
    CHECK(s.unnormalized > 10 * e.unnormalized);

    TokenSimilarityAccumulator acc;
    CHECK(std::isnan(acc.meanNormalized()));
    acc.addSequence(q, fp);
    acc.addSequence(scaledQ, scaledFp);
    REQUIRE(acc.sequences() == 2);
    CHECK(acc.normalized()[1] == s.normalized);
    CHECK(acc.meanNormalized() == Approx((e.normalized + s.normalized) / 2).epsilon(1e-12));
    CHECK(acc.meanUnnormalized() == Approx((e.unnormalized + s.unnormalized) / 2).epsilon(1e-12));
    CHECK_THROWS_AS(tokenSimilarityError(q, fp.topRows(3)), std::invalid_argument);
}

TEST_CASE("input-Gram spectrum: eigenvalues, anisotropy, damped condition, effective rank", "[analysis]")
{
    std::mt19937_64 rng(5);
    const Eigen::Index m = 40;

    SECTION("isotropic Gram has effective rank m")
    {
        const Eigen::MatrixXd h = 3.5 * Eigen::MatrixXd::Identity(m, m);
        const GramSpectrum s = gramSpectrum(h);
        CHECK(s.effectiveRank == Approx(double(m)).epsilon(1e-12));
        CHECK(s.anisotropy == Approx(1.0).epsilon(1e-12));
        CHECK(s.conditionDamped == Approx(1.0).epsilon(1e-12));
        CHECK(s.deadColumns == 0);
    }
    SECTION("rotated known spectrum")
    {
        Eigen::VectorXd lambda(m);
        for (Eigen::Index i = 0; i < m; ++i)
            lambda(i) = double(i + 1); // 1 .. m
        const Eigen::MatrixXd o = randomOrthogonal(m, rng);
        const Eigen::MatrixXd h = o * lambda.asDiagonal() * o.transpose();
        const double percdamp = 0.05;
        const GramSpectrum s = gramSpectrum(h, percdamp);
        REQUIRE(s.eigenvalues.size() == std::size_t(m));
        for (Eigen::Index i = 0; i < m; ++i)
            CHECK(s.eigenvalues[std::size_t(i)] == Approx(double(m - i)).epsilon(1e-10));
        const double mean = (double(m) + 1) / 2;
        CHECK(s.lambdaMean == Approx(mean).epsilon(1e-12));
        CHECK(s.anisotropy == Approx(double(m) / mean).epsilon(1e-10));
        const double delta = percdamp * mean; // mean Diag(H) = tr(H)/m = mean λ
        CHECK(s.damping == Approx(delta).epsilon(1e-12));
        CHECK(s.conditionDamped == Approx((double(m) + delta) / (1 + delta)).epsilon(1e-10));
        double entropy = 0;
        for (Eigen::Index i = 0; i < m; ++i) {
            const double p = lambda(i) / lambda.sum();
            entropy -= p * std::log(p);
        }
        CHECK(s.effectiveRank == Approx(std::exp(entropy)).epsilon(1e-10));
        CHECK(s.effectiveRank < double(m));
    }
    SECTION("rank one with dead columns")
    {
        Eigen::VectorXd v = gaussianD(m, 1, rng);
        v(0) = 0;
        v(7) = 0;
        const Eigen::MatrixXd h = v * v.transpose();
        const GramSpectrum s = gramSpectrum(h);
        CHECK(s.effectiveRank == Approx(1.0).epsilon(1e-8));
        CHECK(s.anisotropy == Approx(double(m)).epsilon(1e-8));
        CHECK(s.deadColumns == 2);
        CHECK(s.conditionDamped == Approx((v.squaredNorm() + s.damping) / s.damping).epsilon(1e-8));
    }
    CHECK_THROWS_AS(gramSpectrum(Eigen::MatrixXd(3, 4)), std::invalid_argument);
}

TEST_CASE("randomized top-k singular values match the exact ones on a decaying spectrum", "[analysis]")
{
    std::mt19937_64 rng(6);
    const Eigen::Index n = 200, m = 600, r = 200;
    Eigen::VectorXd sigma(r);
    for (Eigen::Index i = 0; i < r; ++i)
        sigma(i) = 10.0 * std::pow(double(i + 1), -1.0) + 0.05; // slow decay plus a noise floor
    const Eigen::MatrixXd u = randomOrthogonal(n, rng).leftCols(r);
    const Eigen::MatrixXd v = randomOrthogonal(m, rng).leftCols(r);
    const MatrixXfR a = (u * sigma.asDiagonal() * v.transpose()).cast<float>();

    const std::vector<double> exact = exactSingularValues(a, ExactSvd::Bdcsvd);
    const std::vector<double> viaGram = exactSingularValues(a, ExactSvd::Gram);
    REQUIRE(exact.size() == std::size_t(r));
    REQUIRE(viaGram.size() == std::size_t(r));
    for (Eigen::Index i = 0; i < r; ++i) {
        CHECK(exact[std::size_t(i)] == Approx(sigma(i)).epsilon(1e-5)); // float rounding of A only
        CHECK(relDiff(viaGram[std::size_t(i)], exact[std::size_t(i)]) < 1e-10);
    }
    // Tall orientation goes through the other Gram.
    CHECK(exactSingularValues(MatrixXfR(a.transpose()), ExactSvd::Gram).front() == Approx(exact.front()));

    // The defaults (p = 16, q = 6) on this slowly decaying (1/i) spectrum; p = 10, q = 4 misses 1e-3 here.
    const int k = 32;
    const SpectrumOptions defaults;
    const std::vector<double> approx =
        randomizedSingularValues(a, k, defaults.oversample, defaults.powerIterations, 1234);
    REQUIRE(approx.size() == std::size_t(k));
    for (int i = 0; i < k; ++i)
        CHECK(relDiff(approx[std::size_t(i)], exact[std::size_t(i)]) < 1e-3);
    CHECK(randomizedSingularValues(a, k, defaults.oversample, defaults.powerIterations, 1234) == approx);

    SpectrumOptions options;
    options.exactMaxDim = 199;
    options.topK = k;
    const Spectrum large = singularValues(a, options); // min(n, m) = 200 > 199 → randomized
    CHECK_FALSE(large.exact);
    REQUIRE(large.values.size() == std::size_t(k));
    for (int i = 0; i < k; ++i)
        CHECK(relDiff(large.values[std::size_t(i)], exact[std::size_t(i)]) < 1e-3);
    options.exactMaxDim = 200;
    const Spectrum small = singularValues(a, options);
    CHECK(small.exact);
    CHECK(small.values == viaGram);
    CHECK_THROWS_AS(randomizedSingularValues(a, 0, 10, 4, 1), std::invalid_argument);
    CHECK_THROWS_AS(randomizedSingularValues(a, int(n) + 1, 10, 4, 1), std::invalid_argument);
}

TEST_CASE("weight histograms: shared symmetric edges, counts sum to n·m", "[analysis]")
{
    std::mt19937_64 rng(7);
    const MatrixXfR w = gaussianF(33, 65, rng);
    const MatrixXfR q = signQuantize(w);
    const double range = symmetricRange(w, q);
    CHECK(range == Approx(double(w.cwiseAbs().maxCoeff())));
    const int bins = 16;
    const Histogram hw = histogram(w, bins, range);
    const Histogram hq = histogram(q, bins, range);
    REQUIRE(hw.edges.size() == std::size_t(bins + 1));
    CHECK(hw.edges.front() == -range);
    CHECK(hw.edges.back() == Approx(range));
    CHECK(hw.edges == hq.edges);
    std::uint64_t sw = 0, sq = 0;
    for (int b = 0; b < bins; ++b) {
        sw += hw.counts[std::size_t(b)];
        sq += hq.counts[std::size_t(b)];
    }
    CHECK(sw == std::uint64_t(w.size()));
    CHECK(sq == std::uint64_t(q.size()));
    // Brute-force count of one interior bin.
    const std::size_t probe = 9;
    std::uint64_t inProbe = 0;
    for (Eigen::Index i = 0; i < w.size(); ++i)
        if (w.data()[i] >= hw.edges[probe] && w.data()[i] < hw.edges[probe + 1])
            ++inProbe;
    CHECK(hw.counts[probe] == inProbe);

    MatrixXfR edge(1, 5);
    edge << -2.f, -1.f, 0.f, 1.f, std::nanf("");
    const Histogram he = histogram(edge, 4, 1.0);
    CHECK(he.counts == std::vector<std::uint64_t>{2, 0, 1, 1}); // −2 clamps to bin 0, +1 is in the closed last bin
    CHECK(he.nonFinite == 1);
    CHECK_THROWS_AS(histogram(edge, 0, 1.0), std::invalid_argument);
    CHECK(symmetricRange(MatrixXfR::Zero(2, 2), MatrixXfR::Zero(2, 2)) == 1.0);
}

TEST_CASE("analyzeLayer + packLayerResult fill documented keys with the direct values", "[analysis]")
{
    std::mt19937_64 rng(8);
    const Eigen::Index n = 16, m = 24;
    const MatrixXfR w = gaussianF(n, m, rng);
    const MatrixXfR q = signQuantize(w);
    const Eigen::MatrixXd x = gaussianD(64, m, rng);
    const Eigen::MatrixXd h = x.transpose() * x;
    LayerStatistics stats;
    stats.gram = &h;
    MethodDiagnostics diag;
    diag.salientColumns.assign(std::size_t(m), 0);
    diag.salientColumns[2] = diag.salientColumns[5] = 1;
    diag.objectiveTrace = {3.0, 2.0, 1.5};

    AnalysisOptions options;
    options.histogramBins = 8;
    LayerAnalysis a = analyzeLayer(w, q, stats, &diag, options);
    a.quantizeSeconds = 0.25;
    a.rssBytes = 1000;
    a.residualStream.emplace();
    a.residualStream->add(gaussianF(4, 8, rng), gaussianF(4, 8, rng));

    LayerResult result;
    result.metrics["method.custom"] = 7; // kept
    packLayerResult(a, result);
    const auto& met = result.metrics;
    REQUIRE(result.arrays);
    const auto& arr = result.arrays->values;
    CHECK(met.at("method.custom") == 7);
    CHECK(met.at(metric::WeightRelError) == relativeWeightError(w, q));
    CHECK(met.at(metric::OutputLocal) == outputErrors(w, q, stats).local);
    CHECK(met.count(metric::OutputCumulative) == 0); // single stream: not defined
    CHECK(met.at(metric::GramEffectiveRank) == gramSpectrum(h).effectiveRank);
    CHECK(met.at(metric::SalientCount) == 2);
    CHECK(met.at(metric::SvExact) == 1);
    CHECK(met.at(metric::QuantizeSeconds) == 0.25);
    CHECK(result.seconds == 0.25);
    CHECK(met.at(metric::RssBytes) == 1000);
    CHECK(met.at(metric::ResidualRelMse) == a.residualStream->relativeMse());
    CHECK(met.count(metric::TokenSimNormalized) == 0);
    CHECK(arr.at(array::SvWeight) == exactSingularValues(w, options.spectrum.exactMethod));
    CHECK(arr.at(array::SvError).size() == std::size_t(n));
    CHECK(arr.at(array::HistEdges).size() == 9);
    CHECK(arr.at(array::HistQuantized).size() == 8);
    CHECK(arr.at(array::SalientColumns)[5] == 1.0);
    CHECK(arr.at(array::ObjectiveTrace) == diag.objectiveTrace);

    // Every key written is documented, and every documented key has a one-sentence description.
    for (const auto& [key, value] : met) {
        if (key == "method.custom")
            continue;
        CHECK(std::find(metricKeys().begin(), metricKeys().end(), key) != metricKeys().end());
    }
    for (const auto& [key, value] : arr)
        CHECK(std::find(arrayKeys().begin(), arrayKeys().end(), key) != arrayKeys().end());
    for (const auto* keys : {&metricKeys(), &arrayKeys()})
        for (const std::string& key : *keys) {
            INFO(key);
            const std::string_view d = metricDescription(key);
            CHECK(d.size() > 20);
            CHECK(d.back() == '.');
        }
    CHECK(metricDescription("no.such.metric").empty());

    options.gramSpectrumMaxDim = m - 1;
    CHECK_FALSE(analyzeLayer(w, q, stats, nullptr, options).gram.has_value());

    CancelToken cancel;
    cancel.request();
    CHECK_THROWS_AS(analyzeLayer(w, q, stats, nullptr, options, &cancel), Cancelled);
}

// Not a test: the cost of each metric on a 768 × 3072 layer (OPT-125M fc2 shape, m = 3072) so the pipeline can
// choose defaults. Hidden ("[.]"), so CTest never lists it; run `test_analysis "[.bench]"` by hand.
TEST_CASE("benchmark: analysis cost (CPU seconds) on a 768x3072 layer", "[.bench]")
{
    // CPU seconds of this (single-threaded) process: the machine is shared, wall-clock time is not meaningful.
    struct Clock {
        using time_point = std::clock_t;
        static time_point now() { return std::clock(); }
    };
    auto seconds = [](Clock::time_point t0) { return double(std::clock() - t0) / CLOCKS_PER_SEC; };
    std::mt19937_64 rng(9);
    const Eigen::Index n = 768, m = 3072, tokens = 4096;
    const MatrixXfR w = gaussianF(n, m, rng, 0.02);
    const MatrixXfR q = signQuantize(w);
    const Eigen::MatrixXd x = gaussianD(tokens, m, rng) * Eigen::VectorXd::LinSpaced(m, 0.1, 3.0).asDiagonal();
    const Eigen::MatrixXd xq = x + gaussianD(tokens, m, rng, 0.1);
    const Eigen::MatrixXd hFp = x.transpose() * x, hQ = xq.transpose() * xq, cross = xq.transpose() * x;
    LayerStatistics stats{&hQ, &hFp, &cross, tokens};

    auto t0 = Clock::now();
    const double rel = relativeWeightError(w, q);
    std::printf("relativeWeightError                      %8.3f s  (%.4f)\n", seconds(t0), rel);
    t0 = Clock::now();
    const OutputErrors e = outputErrors(w, q, stats);
    std::printf("outputErrors (local + cumulative)        %8.3f s  (%.4f %.4f)\n", seconds(t0), e.local,
                e.cumulative);
    LayerStatistics single{&hQ, nullptr, nullptr, tokens};
    t0 = Clock::now();
    (void)outputErrors(w, q, single);
    std::printf("outputErrors (local only, single stream) %8.3f s\n", seconds(t0));
    t0 = Clock::now();
    const GramSpectrum g = gramSpectrum(hQ);
    std::printf("gramSpectrum (m = 3072)                  %8.3f s  (eff. rank %.1f)\n", seconds(t0), g.effectiveRank);
    for (ExactSvd method : {ExactSvd::Gram, ExactSvd::Bdcsvd}) {
        t0 = Clock::now();
        const auto sv = exactSingularValues(w, method);
        std::printf("exactSingularValues %-6s               %8.3f s  (σ_max %.4f)\n",
                    method == ExactSvd::Gram ? "Gram" : "BDCSVD", seconds(t0), sv.front());
    }
    const SpectrumOptions d;
    for (int k : {32, 64}) {
        t0 = Clock::now();
        const auto sv = randomizedSingularValues(w, k, d.oversample, d.powerIterations, d.seed);
        std::printf("randomizedSingularValues k=%-3d p=%d q=%d %8.3f s  (σ_max %.4f)\n", k, d.oversample,
                    d.powerIterations, seconds(t0), sv.front());
    }
    t0 = Clock::now();
    const double range = symmetricRange(w, q);
    (void)histogram(w, 64, range);
    (void)histogram(q, 64, range);
    std::printf("histograms (2 × 64 bins)                 %8.3f s\n", seconds(t0));
    const MatrixXfR y = (x.topRows(2048) * w.cast<double>().transpose()).cast<float>();
    const MatrixXfR yq = (xq.topRows(2048) * q.cast<double>().transpose()).cast<float>();
    t0 = Clock::now();
    StreamComparison s;
    s.add(yq, y);
    std::printf("StreamComparison, 2048 tokens × 768      %8.3f s\n", seconds(t0));
    t0 = Clock::now();
    (void)tokenSimilarityError(yq, y);
    std::printf("tokenSimilarityError, T = 2048, d = 768  %8.3f s  (per sequence)\n", seconds(t0));
    t0 = Clock::now();
    (void)tokenSimilarityError(yq.topRows(512), y.topRows(512));
    std::printf("tokenSimilarityError, T = 512, d = 768   %8.3f s  (per sequence)\n", seconds(t0));
}
