// The quantization engine's dense kernels (bq/quant/dense_kernels.h): every compiled path against a plain
// reference product, the blocked rank-k update leaves the strict upper triangle alone, the factorizations
// invert what they claim to, and a repeated call is bit-identical.
#include "bq/quant/analysis/analysis.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/util/errors.h"
#include <Eigen/Eigenvalues>
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <random>

using namespace bq;
using namespace bq::quant;

namespace {

Eigen::MatrixXd randomMatrix(Eigen::Index r, Eigen::Index c, std::uint64_t seed)
{
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    Eigen::MatrixXd m(r, c);
    for (Eigen::Index k = 0; k < m.size(); ++k)
        m.data()[k] = u(rng);
    return m;
}

// Σ_k a_ik b_kj in long double: the reference every path is compared with.
Eigen::MatrixXd reference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b)
{
    Eigen::MatrixXd c(a.rows(), b.cols());
    for (Eigen::Index i = 0; i < a.rows(); ++i)
        for (Eigen::Index j = 0; j < b.cols(); ++j) {
            long double s = 0;
            for (Eigen::Index k = 0; k < a.cols(); ++k)
                s += (long double)a(i, k) * (long double)b(k, j);
            c(i, j) = double(s);
        }
    return c;
}

std::vector<dense::Path> supportedPaths()
{
    std::vector<dense::Path> out;
    for (dense::Path p : {dense::Path::Baseline, dense::Path::Avx2, dense::Path::Avx512})
        if (dense::pathSupported(p))
            out.push_back(p);
    return out;
}

} // namespace

TEST_CASE("dense gemm: every path and transpose combination matches the reference", "[quant][dense]")
{
    // Odd sizes that are not multiples of any SIMD width, a leading dimension larger than the rows, and β ≠ 0.
    const Eigen::Index m = 37, n = 29, k = 53;
    for (dense::Path path : supportedPaths())
        for (int combo = 0; combo < 4; ++combo) {
            const bool ta = combo & 1, tb = combo & 2;
            INFO("path " << dense::pathName(path) << " transA " << ta << " transB " << tb);
            const Eigen::MatrixXd a = randomMatrix(m, k, 1), b = randomMatrix(k, n, 2), c0 = randomMatrix(m, n, 3);
            const Eigen::MatrixXd aStored = ta ? Eigen::MatrixXd(a.transpose()) : a;
            const Eigen::MatrixXd bStored = tb ? Eigen::MatrixXd(b.transpose()) : b;
            Eigen::MatrixXd aPadded = Eigen::MatrixXd::Constant(aStored.rows() + 3, aStored.cols(), 99.0);
            aPadded.topRows(aStored.rows()) = aStored;
            Eigen::MatrixXd c = c0;
            dense::gemmOnPath(path, ta, tb, m, n, k, 0.5, aPadded.data(), aPadded.rows(), bStored.data(),
                              bStored.rows(), -2.0, c.data(), c.rows());
            const Eigen::MatrixXd expected = 0.5 * reference(a, b) - 2.0 * c0;
            CHECK((c - expected).cwiseAbs().maxCoeff() < 1e-12);
        }
}

TEST_CASE("dense syrkLower: lower triangle of A Aᵀ on every path, upper triangle untouched", "[quant][dense]")
{
    // n = 450 spans several 192-column panels and a partial last one.
    const Eigen::Index n = 450, k = 70;
    const Eigen::MatrixXd a = randomMatrix(n, k, 4);
    const Eigen::MatrixXd expected = reference(a, a.transpose());
    const Eigen::MatrixXf af = a.cast<float>();
    for (dense::Path path : supportedPaths()) {
        INFO("path " << dense::pathName(path));
        Eigen::MatrixXf c = Eigen::MatrixXf::Constant(n, n, 7.0f);
        dense::syrkLowerOnPath(path, n, k, 1.0f, af.data(), n, 0.0f, c.data(), n);
        double worst = 0;
        bool upperKept = true;
        for (Eigen::Index j = 0; j < n; ++j)
            for (Eigen::Index i = 0; i < n; ++i) {
                if (i >= j)
                    worst = std::max(worst, std::abs(double(c(i, j)) - expected(i, j)));
                else
                    upperKept = upperKept && c(i, j) == 7.0f;
            }
        CHECK(worst < 1e-4); // float32 sums of 70 products of magnitude ≤ 1
        CHECK(upperKept);
        // β = 1 accumulates: a second update doubles the lower triangle exactly (x + x is exact in float).
        Eigen::MatrixXf twice = c;
        dense::syrkLowerOnPath(path, n, k, 1.0f, af.data(), n, 1.0f, twice.data(), n);
        CHECK(twice.triangularView<Eigen::Lower>().toDenseMatrix() ==
              (2.0f * c).triangularView<Eigen::Lower>().toDenseMatrix());
        // Deterministic: the same call gives the same bits.
        Eigen::MatrixXf again = Eigen::MatrixXf::Constant(n, n, 7.0f);
        dense::syrkLowerOnPath(path, n, k, 1.0f, af.data(), n, 0.0f, again.data(), n);
        CHECK(again == c);
    }
}

TEST_CASE("dense Cholesky, triangular inverse and symmetric eigenvalues", "[quant][dense]")
{
    const Eigen::Index n = 300; // above the 64-column base case of the recursive inverse
    const Eigen::MatrixXd x = randomMatrix(n, n + 20, 5);
    Eigen::MatrixXd spd = x * x.transpose();
    spd.diagonal().array() += 1.0;
    Eigen::MatrixXd l = spd;
    REQUIRE(dense::choleskyLower(n, l.data(), n));
    const Eigen::MatrixXd lower = l.triangularView<Eigen::Lower>();
    CHECK((lower * lower.transpose() - spd).cwiseAbs().maxCoeff() < 1e-9 * spd.cwiseAbs().maxCoeff());
    CHECK(l.triangularView<Eigen::StrictlyUpper>().toDenseMatrix() ==
          spd.triangularView<Eigen::StrictlyUpper>().toDenseMatrix()); // upper triangle left as it was

    Eigen::MatrixXd inv = lower;
    dense::invertLower(n, inv.data(), n);
    const Eigen::MatrixXd invLower = inv.triangularView<Eigen::Lower>();
    CHECK((invLower * lower - Eigen::MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff() < 1e-9);

    Eigen::MatrixXd notPd = spd;
    notPd(7, 7) = -1.0;
    CHECK_FALSE(dense::choleskyLower(n, notPd.data(), n));

    // Eigenvalues of Q diag(1..n) Qᵀ with Q orthogonal are 1..n.
    const Eigen::HouseholderQR<Eigen::MatrixXd> qr(randomMatrix(n, n, 6));
    const Eigen::MatrixXd q = qr.householderQ();
    Eigen::VectorXd d(n);
    for (Eigen::Index i = 0; i < n; ++i)
        d[i] = double(i + 1);
    const Eigen::MatrixXd s = q * d.asDiagonal() * q.transpose();
    Eigen::VectorXd lambda(n);
    REQUIRE(dense::symmetricEigenvalues(n, s.data(), n, lambda.data()) == dense::EigenStatus::Converged);
    CHECK((lambda - d).cwiseAbs().maxCoeff() < 1e-9 * n);
    // The written-out tridiagonalization is Eigen's solver step for step (equal up to the SIMD path's rounding).
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> reference(s, Eigen::EigenvaluesOnly);
    CHECK((lambda - reference.eigenvalues()).cwiseAbs().maxCoeff() < 1e-12 * n);
}

TEST_CASE("the eigen-solve stops between tridiagonalization columns when interrupted", "[quant][dense]")
{
    const Eigen::Index n = 200;
    const Eigen::MatrixXd a = randomMatrix(n, n, 9);
    const Eigen::MatrixXd s = a * a.transpose();
    Eigen::VectorXd lambda(n);
    int polls = 0;
    const dense::Interrupt afterThreePolls{&polls, [](const void* c) {
                                               int& count = *static_cast<int*>(const_cast<void*>(c));
                                               return ++count > 3;
                                           }};
    CHECK(dense::symmetricEigenvalues(n, s.data(), n, lambda.data(), afterThreePolls) ==
          dense::EigenStatus::Interrupted);
    CHECK(polls == 4); // every 16 columns: stopped at column 48 of 199

    bq::CancelToken cancel;
    cancel.request();
    CHECK_THROWS_AS(bq::quant::gramSpectrum(s, 0.01, &cancel), bq::Cancelled);
    const bq::MatrixXfR w = a.cast<float>();
    CHECK_THROWS_AS(bq::quant::exactSingularValues(w, bq::quant::ExactSvd::Gram, &cancel), bq::Cancelled);
    CHECK_THROWS_AS(bq::quant::randomizedSingularValues(w, 8, 4, 2, 1, &cancel), bq::Cancelled);
    CHECK(bq::quant::gramSpectrum(s, 0.01).eigenvalues.size() == std::size_t(n));
}
