// Run time of the salient / alternating-refinement family on OPT-125M-shaped layers (prints seconds per
// method; fails if a layer takes minutes).
#include "bq/quant/methods/binary_family.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <random>

using namespace bq;
using namespace bq::quant;
using namespace bq::quant::binary;

namespace {

// Gram of 1024 tokens with a low-rank correlated part and anisotropic channels (a few outlier channels).
Eigen::MatrixXd realisticGram(Eigen::Index m, unsigned seed, Eigen::MatrixXd* factors = nullptr)
{
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    Eigen::MatrixXd X(1024, m);
    for (Eigen::Index k = 0; k < X.size(); ++k) X.data()[k] = nd(rng);
    Eigen::MatrixXd F(1024, 16);
    for (Eigen::Index k = 0; k < F.size(); ++k) F.data()[k] = nd(rng);
    Eigen::MatrixXd P(16, m);
    for (Eigen::Index k = 0; k < P.size(); ++k) P.data()[k] = nd(rng);
    X += F * P;
    for (Eigen::Index j = 0; j < m; j += 97) X.col(j) *= 20.0;
    if (factors) *factors = X;
    return X.transpose() * X;
}

} // namespace

TEST_CASE("family run time on a 768×3072 layer (OPT-125M fc2 shape)", "[quant][arb][slow]")
{
    for (auto [n, m] : {std::pair<Eigen::Index, Eigen::Index>{768, 3072}}) {
        std::mt19937 rng(1);
        std::normal_distribution<float> nd(0.0f, 0.02f);
        MatrixXfR W(n, m);
        for (Eigen::Index k = 0; k < W.size(); ++k) W.data()[k] = nd(rng);
        Eigen::MatrixXd X;
        const Eigen::MatrixXd H = realisticGram(m, 2, &X);
        Eigen::MatrixXd Xq = X;
        for (Eigen::Index k = 0; k < Xq.size(); ++k) Xq.data()[k] += 0.2 * double(nd(rng)) * 50.0;
        const Eigen::MatrixXd Hq = Xq.transpose() * Xq, C = Xq.transpose() * X;
        for (const FamilyMember* member :
             {&billmMember(), &arbMember(), &arbXMember(), &arbRcMember(), &outputAlignMember()}) {
            const FamilyMember& f = *member;
            QuantizeRequest req;
            req.weight = &W;
            req.stats.gram = &f == &outputAlignMember() ? &Hq : &H;
            req.stats.gramFp = &H;
            req.stats.crossGram = &C;
            req.tensor = "bench";
            MethodDiagnostics diag;
            const auto t0 = std::chrono::steady_clock::now();
            const std::clock_t c0 = std::clock();
            const QuantizedLinear q = quantizeBinaryFamily(f, req, diag);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
            const Eigen::MatrixXd D = (W - q.dequantize()).cast<double>();
            const double rel = (D * H).cwiseProduct(D).sum() / (W.cast<double>() * H).cwiseProduct(W.cast<double>()).sum();
            std::cout << f.id << " " << n << "x" << m << ": " << sec << " s wall, " << cpu << " s CPU, " << q.storageBitsPerWeight
                      << " bpw, rel tr(ΔW H ΔWᵀ) " << rel << "\n";
            REQUIRE(sec < 120);
            REQUIRE(rel < 1.0);
        }
    }
}
