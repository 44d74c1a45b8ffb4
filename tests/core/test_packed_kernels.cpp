// The packed runtime: activation quantization, Q1_0 / Q4_0 / Q8_0 kernels (every SIMD path against the scalar
// reference, the scalar reference against an fp64 evaluation of the dequantized blocks), thread and tiling
// invariance, and a small Q1_0 transformer against the fp32 runtime on the same (dequantized) weights.
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/dense/dense_kernels.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/kernels_f32.h"
#include "bq/runtime/kernels_q.h"
#include "bq/runtime/packed_linear_q.h"
#include "bq/runtime/packed_model.h"
#include "bq/runtime/packed_quantize.h"
#include "bq/util/cpu_features.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include "support/test_support.h"
#include <algorithm>
#include "support/avxvnni_evex_twin.h"
#include "support/packed_test_data.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

using namespace bq;
using namespace bqtest;
using kernels::QPath;

TEST_CASE("activation quantization is identical on every path and within half a step of x", "[packed]")
{
    std::mt19937 rng(11);
    for (int block : {32, 128}) {
        const int tokens = 3, cols = block * 5;
        auto x = randomFloats(static_cast<std::size_t>(tokens * cols), rng, 2.0f);
        std::fill(x.begin() + block, x.begin() + 2 * block, 0.0f); // an all-zero block: d = 0, q = 0
        x[5] = 1e-30f;                                              // tiny values next to big ones
        kernels::QuantizedActivations ref;
        kernels::quantizeActivations(QPath::Scalar, x.data(), tokens, cols, block, ref);
        for (int t = 0; t < tokens; ++t)
            for (int b = 0; b < cols / block; ++b) {
                std::int32_t sum = 0;
                for (int j = 0; j < block; ++j) {
                    const int k = b * block + j;
                    const float xv = x[static_cast<std::size_t>(t * cols + k)];
                    const int q = ref.qRow(t)[k];
                    sum += q;
                    CHECK(std::abs(q) <= 127);
                    CHECK(std::fabs(q * ref.scaleRow(t)[b] - xv) <= 0.5001f * ref.scaleRow(t)[b] + 1e-30f);
                }
                CHECK(sum == ref.sumRow(t)[b]);
            }
        CHECK(ref.scaleRow(0)[1] == 0.0f);
        for (QPath p : supportedPaths()) {
            kernels::QuantizedActivations got;
            ThreadPool pool(2);
            kernels::quantizeActivations(p, x.data(), tokens, cols, block, got, &pool);
            INFO("path " << kernels::qPathName(p) << " block " << block);
            CHECK(got.q == ref.q);
            CHECK(got.scale == ref.scale);
            CHECK(got.sum == ref.sum);
        }
    }
    kernels::QuantizedActivations bad;
    std::vector<float> x(100);
    CHECK_THROWS_AS(kernels::quantizeActivations(QPath::Scalar, x.data(), 1, 100, 32, bad), std::invalid_argument);
}

TEST_CASE("packed kernels: scalar reference equals the fp64 dequantized product; SIMD paths equal the scalar one",
          "[packed]")
{
    std::mt19937 rng(5);
    for (DType type : {DType::Q1_0, DType::Q4_0, DType::Q8_0}) {
        const int bs = dtypeBlockSize(type);
        for (int trial = 0; trial < 6; ++trial) {
            const int N = std::vector<int>{1, 3, 7, 9, 13, 37}[static_cast<std::size_t>(trial)];
            const int K = bs * (1 + trial % 3 + (trial == 5 ? 4 : 0));
            const int T = 1 + trial % 7;
            const auto bytes = randomBlocks(type, N, K, rng);
            const Tensor w = viewTensor(type, N, K, bytes);
            auto x = randomFloats(static_cast<std::size_t>(T * K), rng);
            kernels::QuantizedActivations X;
            kernels::quantizeActivations(QPath::Scalar, x.data(), T, K, kernels::activationBlockFor(type), X);
            std::vector<double> exact, bound;
            referenceProducts(w, X, exact, bound);
            std::vector<float> ref(static_cast<std::size_t>(T * N));
            kernels::packedMatmulRows(QPath::Scalar, type, bytes.data(), dtypeRowBytes(type, K), X, ref.data(),
                                      static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
            INFO(dtypeName(type) << " N=" << N << " K=" << K << " T=" << T);
            // fp32 accumulation of K/bs exact block sums: a few ulps of Σ|terms|.
            for (std::size_t i = 0; i < ref.size(); ++i)
                CHECK(std::fabs(ref[i] - exact[i]) <= 1e-5 * bound[i] + 1e-30);
            for (QPath p : supportedPaths()) {
                std::vector<float> got(ref.size(), -1.0f);
                // Two row ranges: tiles restart at an odd row.
                const std::size_t mid = static_cast<std::size_t>(N) / 2 + 1;
                kernels::packedMatmulRows(p, type, bytes.data(), dtypeRowBytes(type, K), X, got.data(),
                                          static_cast<std::size_t>(N), 0, std::min<std::size_t>(mid, N));
                kernels::packedMatmulRows(p, type, bytes.data(), dtypeRowBytes(type, K), X, got.data(),
                                          static_cast<std::size_t>(N), std::min<std::size_t>(mid, N),
                                          static_cast<std::size_t>(N));
                INFO("path " << kernels::qPathName(p));
                for (std::size_t i = 0; i < ref.size(); ++i)
                    CHECK(std::fabs(got[i] - ref[i]) <= 1e-5 * bound[i] + 1e-30);
            }
        }
    }
}

TEST_CASE("Q1_0 planes and the AVX2 LUT layout: the splits are lossless and every path on its layout equals its "
          "GGUF-layout result bit for bit; wide rows (16+ blocks) match the scalar reference",
          "[packed]")
{
    std::mt19937 rng(11);
    // Whole groups of 4 blocks, plain tail blocks, and 16-block scale vectors with masked tails; N = 11 and 37 leave
    // partial 8-row and 32-row tiles.
    for (int nb : {1, 3, 4, 16, 17, 33, 66}) {
        const int N = nb == 17 ? 37 : 11, K = 128 * nb;
        const auto bytes = randomBlocks(DType::Q1_0, N, K, rng);
        const auto planes = kernels::splitQ1(bytes.data(), N, K, QPath::Scalar);
        const auto lut = kernels::splitQ1(bytes.data(), N, K, QPath::Avx2);
        CHECK(lut.bits.empty());
        CHECK(planes.lutBits.empty());
        CHECK(lut.lutBits.size() == kernels::q1LutBytes(static_cast<std::size_t>(N), nb));
        for (int n = 0; n < N; ++n)
            for (int b = 0; b < nb; ++b) {
                const std::byte* blk = bytes.data() + (static_cast<std::size_t>(n) * nb + b) * 18;
                std::uint16_t h;
                std::memcpy(&h, blk, 2);
                CHECK(planes.scales[static_cast<std::size_t>(n * nb + b)] == h);
                CHECK(lut.lutScales[kernels::q1LutScaleOffset(nb, static_cast<std::size_t>(n), b)] == h);
                for (int i = 0; i < 16; ++i) {
                    CHECK(planes.bits[kernels::q1BitsOffset(nb, static_cast<std::size_t>(n), b, i)] ==
                          static_cast<std::uint8_t>(blk[2 + i]));
                    CHECK(lut.lutBits[kernels::q1LutBitsOffset(nb, static_cast<std::size_t>(n), b, i)] ==
                          static_cast<std::uint8_t>(blk[2 + i]));
                }
            }
        // Padding rows of the last 32-row tile: zero bits, zero scales.
        for (std::size_t n = static_cast<std::size_t>(N); n % 32 != 0; ++n)
            for (int b = 0; b < nb; ++b) {
                CHECK(lut.lutScales[kernels::q1LutScaleOffset(nb, n, b)] == 0);
                CHECK(lut.lutBits[kernels::q1LutBitsOffset(nb, n, b, 0)] == 0);
            }
        const Tensor w = viewTensor(DType::Q1_0, N, K, bytes);
        for (int T : {1, 5}) {
            const auto x = randomFloats(static_cast<std::size_t>(T * K), rng);
            kernels::QuantizedActivations X;
            kernels::quantizeActivations(QPath::Scalar, x.data(), T, K, 128, X);
            std::vector<double> exact, bound;
            referenceProducts(w, X, exact, bound);
            std::vector<float> ref(static_cast<std::size_t>(T * N));
            kernels::packedMatmulRows(QPath::Scalar, DType::Q1_0, bytes.data(), dtypeRowBytes(DType::Q1_0, K), X,
                                      ref.data(), static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
            auto checkClose = [&](const std::vector<float>& got) {
                for (std::size_t i = 0; i < ref.size(); ++i) {
                    CHECK(std::fabs(got[i] - exact[i]) <= 1e-5 * bound[i] + 1e-30);
                    CHECK(std::fabs(got[i] - ref[i]) <= 1e-5 * bound[i] + 1e-30);
                }
            };
            for (QPath p : supportedPaths()) {
                const auto& store = p == QPath::Avx2 ? lut : planes;
                std::vector<float> viaBlocks(ref.size(), -1.0f), viaSplit(ref.size(), -2.0f);
                kernels::packedMatmulRows(p, DType::Q1_0, bytes.data(), dtypeRowBytes(DType::Q1_0, K), X,
                                          viaBlocks.data(), static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
                // Two row ranges: tiles restart at an odd row.
                kernels::q1MatmulRows(p, store.view(), X, viaSplit.data(), static_cast<std::size_t>(N), 0, 5);
                kernels::q1MatmulRows(p, store.view(), X, viaSplit.data(), static_cast<std::size_t>(N), 5,
                                      static_cast<std::size_t>(N));
                INFO("path " << kernels::qPathName(p) << " nb " << nb << " T " << T);
                CHECK(viaSplit == viaBlocks);
                checkClose(viaSplit);
                if (p == QPath::Avx2) {
                    // The AVX2 kernel of the planes (when a caller has no LUT layout).
                    std::vector<float> viaPlanes(ref.size(), -3.0f);
                    kernels::q1MatmulRows(p, planes.view(), X, viaPlanes.data(), static_cast<std::size_t>(N), 0,
                                          static_cast<std::size_t>(N));
                    checkClose(viaPlanes);
                }
            }
            // The other paths cannot read the LUT layout alone.
            std::vector<float> y(ref.size());
            CHECK_THROWS_AS(kernels::q1MatmulRows(QPath::Scalar, lut.view(), X, y.data(), static_cast<std::size_t>(N), 0,
                                                  static_cast<std::size_t>(N)),
                            std::invalid_argument);
        }
    }
    CHECK_THROWS_AS(kernels::splitQ1(nullptr, 1, 100), std::invalid_argument);
}

TEST_CASE("Q1_0 AVX2 LUT kernel: the exact integer dot product with unit scales, extreme activations included",
          "[packed]")
{
    if (!kernels::qPathSupported(QPath::Avx2))
        return;
    std::mt19937 rng(21);
    // Activations ±127 (the largest table entries, |T| = 508, and the largest block sums) and random ones.
    for (int mode = 0; mode < 3; ++mode) {
        const int N = 40, nb = 5, K = 128 * nb, T = 3;
        const auto bytes = randomBlocks(DType::Q1_0, N, K, rng, true);
        std::vector<float> x(static_cast<std::size_t>(T * K));
        std::uniform_int_distribution<int> bit(0, 1);
        for (auto& v : x)
            v = mode == 0 ? 127.0f : mode == 1 ? (bit(rng) ? 127.0f : -127.0f) : static_cast<float>(static_cast<int>(rng() % 255) - 127);
        for (int t = 0; t < T; ++t) // every block keeps max |x| = 127, so d = 1 and q = x exactly
            for (int b = 0; b < nb; ++b)
                x[static_cast<std::size_t>(t * K + b * 128)] = 127.0f;
        kernels::QuantizedActivations X;
        kernels::quantizeActivations(QPath::Scalar, x.data(), T, K, 128, X);
        const auto lut = kernels::splitQ1(bytes.data(), N, K, QPath::Avx2);
        std::vector<float> got(static_cast<std::size_t>(T * N));
        kernels::q1MatmulRows(QPath::Avx2, lut.view(), X, got.data(), static_cast<std::size_t>(N), 0, static_cast<std::size_t>(N));
        for (int t = 0; t < T; ++t)
            for (int n = 0; n < N; ++n) {
                std::int64_t s = 0;
                for (int k = 0; k < K; ++k) {
                    const auto byte = static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(n) * nb * 18 +
                                                                      static_cast<std::size_t>(k / 128) * 18 + 2 + k % 128 / 8]);
                    s += ((byte >> (k % 8)) & 1u ? 1 : -1) * X.qRow(t)[k];
                }
                INFO("mode " << mode << " t " << t << " n " << n);
                CHECK(got[static_cast<std::size_t>(t * N + n)] == static_cast<float>(s));
            }
    }
}

TEST_CASE("packed GEMM equals token-by-token GEMV bit for bit, for 1..3 threads", "[packed]")
{
    std::mt19937 rng(7);
    for (DType type : {DType::Q1_0, DType::Q4_0, DType::Q8_0})
        checkGemmEqualsGemv(type, 45, 384, 7, rng);
}

// Token t of X alone (the same q, scales and sums a one-token quantization gives).
static kernels::QuantizedActivations oneToken(const kernels::QuantizedActivations& X, int t)
{
    kernels::QuantizedActivations one;
    one.tokens = 1;
    one.cols = X.cols;
    one.block = X.block;
    one.q.assign(X.qRow(t), X.qRow(t) + X.cols);
    one.scale.assign(X.scaleRow(t), X.scaleRow(t) + X.blocksPerToken());
    one.sum.assign(X.sumRow(t), X.sumRow(t) + X.blocksPerToken());
    return one;
}

// An odd-shape kernel case: N × (nb blocks) weights of `type`, T tokens of activations (token 2, when there is one,
// at the int8 extremes: every q = ±127), quantized on the scalar path, and the fp64 reference products.
struct OddShapeCase {
    int N = 0, K = 0;
    std::vector<std::byte> bytes;
    kernels::QuantizedActivations X;
    std::vector<double> exact, bound;
};

OddShapeCase oddShapeCase(DType type, int N, int nb, int T, std::mt19937& rng)
{
    OddShapeCase c;
    const int block = kernels::activationBlockFor(type);
    c.N = N;
    c.K = block * nb;
    c.bytes = randomBlocks(type, N, c.K, rng);
    auto x = randomFloats(static_cast<std::size_t>(T * c.K), rng, 3.0f);
    if (T > 2)
        for (int k = 0; k < c.K; ++k)
            x[static_cast<std::size_t>(2 * c.K + k)] = k % 3 == 0 ? -5.0f : 5.0f;
    kernels::quantizeActivations(QPath::Scalar, x.data(), T, c.K, block, c.X);
    referenceProducts(viewTensor(type, N, c.K, c.bytes), c.X, c.exact, c.bound);
    return c;
}

TEST_CASE("Q4_0 / Q8_0 token-lane GEMMs and their GEMVs (and Q1_0's): every path against the scalar reference on "
          "odd shapes, GEMM equals its GEMVs bit for bit on each path",
          "[packed]")
{
    std::mt19937 rng(31);
    // Rows not a multiple of the 4-row tile; blocks below, at and across the 8-block groups; tokens below the GEMM
    // threshold, in partial 8-token vectors, and across the 64-token chunk.
    for (DType type : {DType::Q4_0, DType::Q8_0, DType::Q1_0})
        for (int nb : {1, 7, 9, 17})
            for (int T : {1, 2, 3, 5, 9, 17, 67}) {
                const OddShapeCase c = oddShapeCase(type, nb == 9 ? 11 : nb == 17 ? 5 : 6, nb, T, rng);
                const int N = c.N;
                const auto& [bytes, X, exact, bound] = std::tie(c.bytes, c.X, c.exact, c.bound);
                const std::size_t rowBytes = dtypeRowBytes(type, c.K);
                INFO(dtypeName(type) << " N=" << N << " nb=" << nb << " T=" << T);
                for (QPath p : supportedPaths()) {
                    INFO("path " << kernels::qPathName(p));
                    std::vector<float> gemm(static_cast<std::size_t>(T * N), -1.0f);
                    // Two row ranges: the second starts inside a 4-row tile.
                    const std::size_t mid = std::min<std::size_t>(3, static_cast<std::size_t>(N));
                    kernels::packedMatmulRows(p, type, bytes.data(), rowBytes, X, gemm.data(), static_cast<std::size_t>(N), 0,
                                              mid);
                    kernels::packedMatmulRows(p, type, bytes.data(), rowBytes, X, gemm.data(), static_cast<std::size_t>(N),
                                              mid, static_cast<std::size_t>(N));
                    for (std::size_t i = 0; i < gemm.size(); ++i)
                        CHECK(std::fabs(gemm[i] - exact[i]) <= 1e-5 * bound[i] + 1e-30);
                    for (int t = 0; t < T; ++t) {
                        const auto one = oneToken(X, t);
                        std::vector<float> gemv(static_cast<std::size_t>(N), -2.0f);
                        kernels::packedMatmulRows(p, type, bytes.data(), rowBytes, one, gemv.data(), static_cast<std::size_t>(N), 0,
                                                  static_cast<std::size_t>(N));
                        for (int n = 0; n < N; ++n)
                            CHECK(gemm[static_cast<std::size_t>(t * N + n)] == gemv[static_cast<std::size_t>(n)]);
                    }
                }
            }
}

TEST_CASE("fused projections (one quantization, one dispatch) equal separate calls bit for bit", "[packed]")
{
    std::mt19937 rng(9);
    const int K = 256, T = 3;
    const std::vector<int> rows = {21, 8, 13};
    std::vector<std::vector<std::byte>> w;
    for (int n : rows)
        w.push_back(randomBlocks(DType::Q1_0, n, K, rng));
    const auto x = randomFloats(static_cast<std::size_t>(T * K), rng);
    ThreadPool pool(3);
    std::vector<std::vector<float>> fused(3), separate(3);
    std::vector<kernels::PackedMatrixOut> mats;
    for (std::size_t i = 0; i < 3; ++i) {
        fused[i].assign(static_cast<std::size_t>(T * rows[i]), 0.0f);
        separate[i].assign(fused[i].size(), 1.0f);
        mats.push_back({w[i].data(), rows[i], fused[i].data()});
        kernels::packedMatmul(DType::Q1_0, w[i].data(), rows[i], K, x.data(), T, separate[i].data(), nullptr);
    }
    kernels::packedMatmulMulti(DType::Q1_0, mats.data(), 3, K, x.data(), T, &pool);
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(fused[i] == separate[i]);
}

TEST_CASE("Q1_0 GEMV is within the activation-quantization bound of the fp32 GEMV of its dequantized weights",
          "[packed]")
{
    std::mt19937 rng(3);
    const int N = 67, K = 1024;
    const auto w = randomFloats(static_cast<std::size_t>(N * K), rng, 0.02f);
    const auto packedBytes = quantizeRows(DType::Q1_0, w.data(), N, K);
    const Tensor t = viewTensor(DType::Q1_0, N, K, packedBytes);
    const std::vector<float> deq = t.toFloat();
    const auto x = randomFloats(static_cast<std::size_t>(K), rng);
    std::vector<float> fp(static_cast<std::size_t>(N)), q(static_cast<std::size_t>(N));
    kernels::matvec(deq.data(), N, K, x.data(), fp.data(), nullptr);
    ThreadPool pool(2);
    makeBlockPackedLinear(t)->gemv(x.data(), q.data(), &pool);
    // |Σ ŵ(x − x̂)| ≤ Σ |ŵ|·d_x/2 per 128-block (round to nearest), plus fp32 slack.
    double sq = 0, sqRef = 0;
    for (int n = 0; n < N; ++n) {
        double bound = 0;
        for (int b = 0; b < K / 128; ++b) {
            float amax = 0;
            for (int j = 0; j < 128; ++j)
                amax = std::max(amax, std::fabs(x[static_cast<std::size_t>(b * 128 + j)]));
            for (int j = 0; j < 128; ++j)
                bound += std::fabs(deq[static_cast<std::size_t>(n * K + b * 128 + j)]) * (amax / 127.0) / 2;
        }
        CHECK(std::fabs(q[static_cast<std::size_t>(n)] - fp[static_cast<std::size_t>(n)]) <= bound * 1.001 + 1e-4);
        sq += std::pow(q[static_cast<std::size_t>(n)] - fp[static_cast<std::size_t>(n)], 2);
        sqRef += std::pow(fp[static_cast<std::size_t>(n)], 2);
    }
    // Typical error: per-128 int8 activations lose ~0.5 % of the output's RMS on Gaussian inputs.
    CHECK(std::sqrt(sq / sqRef) < 0.02);
}

namespace {

// Q1_0 blocks written directly: bit = (w ≥ 0), d = fp16(mean |w|) per 128.
Tensor q1Tensor(const Tensor& src)
{
    const std::vector<float> v = src.toFloat();
    const std::int64_t rows = src.rows(), cols = src.cols();
    std::vector<std::byte> out(static_cast<std::size_t>(rows * cols / 128 * 18));
    for (std::int64_t i = 0; i < rows * cols / 128; ++i) {
        const float* w = v.data() + i * 128;
        double s = 0;
        for (int j = 0; j < 128; ++j)
            s += std::fabs(w[j]);
        const std::uint16_t h = floatToHalf(static_cast<float>(s / 128));
        std::memcpy(out.data() + i * 18, &h, 2);
        for (int j = 0; j < 128; ++j)
            if (w[j] >= 0)
                out[static_cast<std::size_t>(i * 18 + 2 + j / 8)] |= std::byte{static_cast<unsigned char>(1u << (j % 8))};
    }
    return makeOwnedTensor(src.name, DType::Q1_0, src.shape, std::move(out));
}

} // namespace

TEST_CASE("a small Q1_0 model on the packed runtime matches the fp32 runtime on its dequantized weights", "[packed]")
{
    auto base = makeSyntheticModel(syntheticShape("ts5m"));
    auto q1 = std::make_shared<Model>(*base);
    for (auto& [name, t] : q1->tensors)
        if (t.shape.size() == 2) // every linear and the tied embedding/head: all rows are 256 or 768 long
            t = q1Tensor(t);
    REQUIRE(hasPackedLinears(*q1));
    CHECK_FALSE(hasPackedLinears(*base));

    const std::vector<std::int32_t> tokens = {1, 17, 300, 42, 99, 7, 256, 511, 3, 128, 64, 200};
    std::vector<float> ref, packed, fpBase, fpF16;
    auto fp = makeFp32Model(q1, 2); // converts the Q1_0 tensors to fp32 once: the dequantized weights
    CHECK(fp->backendName() == "fp32");
    fp->newContext(64)->forward(tokens, true, ref);
    auto pm = makePackedModel(q1, 2);
    CHECK(pm->backendName() == "q1_0");
    CHECK(pm->weightBytesPerToken() < fp->weightBytesPerToken() / 20);
    pm->newContext(64)->forward(tokens, true, packed);
    // The fp16 KV cache alone: the packed runtime on fp32 weights (no activation quantization) against fp32.
    PackedModelOptions f16;
    f16.f16KvCache = true;
    makeFp32Model(base, 1)->newContext(64)->forward(tokens, true, fpBase);
    makePackedModel(base, 1, f16)->newContext(64)->forward(tokens, true, fpF16);
    REQUIRE(packed.size() == ref.size());

    const int V = q1->config.vocabSize;
    double maxDiff = 0, sumSq = 0, diffSq = 0, maxDiffF16 = 0, sumSqBase = 0;
    int agree = 0;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        const float* a = ref.data() + t * V;
        const float* b = packed.data() + t * V;
        agree += std::max_element(a, a + V) - a == std::max_element(b, b + V) - b;
        for (int i = 0; i < V; ++i) {
            maxDiff = std::max(maxDiff, double(std::fabs(a[i] - b[i])));
            diffSq += double(a[i] - b[i]) * (a[i] - b[i]);
            sumSq += double(a[i]) * a[i];
            maxDiffF16 = std::max(maxDiffF16, double(std::fabs(fpF16[t * V + i] - fpBase[t * V + i])));
            sumSqBase += double(fpBase[t * V + i]) * fpBase[t * V + i];
        }
    }
    const double rms = std::sqrt(sumSq / double(ref.size())), rmsDiff = std::sqrt(diffSq / double(ref.size()));
    const double rmsBase = std::sqrt(sumSqBase / double(fpBase.size()));
    INFO("max |Δlogit| " << maxDiff << ", RMS Δ " << rmsDiff << ", logit RMS " << rms << ", top-1 agreement " << agree
                         << "/" << tokens.size() << ", fp16-KV max |Δ| " << maxDiffF16 << " of RMS " << rmsBase);
    // Stated tolerances. Per-128 int8 activations at every projection (measured: max 5.1 %, RMS ≈ 1.5 % of the
    // logit RMS, top-1 12/12): max |Δ| < 10 %, RMS Δ < 3 % of the logit RMS, top-1 equal at ≥ 11 of 12
    // positions. An fp16 KV cache alone (measured 0.1 %): max |Δ| < 0.5 % of the logit RMS.
    CHECK(maxDiff < 0.10 * rms);
    CHECK(rmsDiff < 0.03 * rms);
    CHECK(agree >= 11);
    CHECK(maxDiffF16 < 0.005 * rmsBase);

    // Decode after prefill gives the same logits as the all-positions prefill (the GEMV = GEMM property).
    auto ctx = pm->newContext(64);
    std::vector<float> step;
    ctx->forward(std::span<const std::int32_t>(tokens.data(), 6), false, step);
    for (std::size_t t = 6; t < tokens.size(); ++t) {
        ctx->forward(std::span<const std::int32_t>(&tokens[t], 1), false, step);
        CHECK(std::equal(step.begin(), step.end(), packed.begin() + static_cast<std::ptrdiff_t>(t * V)));
    }
}

TEST_CASE("packModelLinears packs what fits and names what stays fp32", "[packed]")
{
    auto s = makeSyntheticModel(syntheticShape("stories260k")); // dim 64, hidden 172: nothing fits Q1_0
    auto none = packModelLinears(s, DType::Q1_0, DType::Q1_0);
    CHECK(none.packed.empty());
    CHECK(none.keptFloat.size() == 5 * 7 + 1);
    auto q4 = packModelLinears(s, DType::Q4_0, DType::Q8_0); // K = 64 fits; ffn_down (K = 172) does not
    CHECK(q4.keptFloat.size() == 5);
    CHECK(q4.model->tensor("blk.0.ffn_down.weight").dtype == DType::F32);
    CHECK(q4.model->tensor("token_embd.weight").dtype == DType::Q8_0);
    auto pm = makePackedModel(q4.model, 1);
    CHECK(pm->backendName() == "mixed");
    std::vector<float> a, b;
    const std::vector<std::int32_t> tokens = {1, 2, 3, 4};
    pm->newContext(8)->forward(tokens, false, a);
    makeFp32Model(q4.model, 1)->newContext(8)->forward(tokens, false, b);
    double maxDiff = 0, sumSq = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        maxDiff = std::max(maxDiff, double(std::fabs(a[i] - b[i])));
        sumSq += double(b[i]) * b[i];
    }
    CHECK(maxDiff < 0.05 * std::sqrt(sumSq / double(b.size())));
}

// ---- SIMD paths this CPU cannot run, named in the test output ----
// The comparisons above loop over the paths the CPU supports. Each case below names one path and either says
// "RUN:" or "NOT RUN: ... (this CPU lacks ...)"; CTest reports a "NOT RUN:" case as skipped, so a machine without
// AVX-512 (or BQ_CPU=avx2 / scalar) lists exactly which kernels went untested. The feature lists must agree with the
// library's own dispatch checks.

TEST_CASE("kernel path: AVX2 packed q1_0/q4_0/q8_0 kernels", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX2 packed q1_0/q4_0/q8_0 kernels", {"avx2", "fma", "f16c"}) ==
          kernels::qPathSupported(QPath::Avx2));
}

TEST_CASE("kernel path: AVX-VNNI packed q4_0/q8_0/q6_k/tq2_0/tq1_0 kernels (VEX encoding)", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX-VNNI packed q4_0/q8_0/q6_k/tq2_0/tq1_0 kernels (VEX encoding)",
                                   {"avx2", "fma", "f16c", "avxvnni"}) == kernels::qPathSupported(QPath::AvxVnni));
}

TEST_CASE("kernel path: AVX-VNNI kernels' EVEX twin (the same code on AVX-512 VNNI machines)", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX-VNNI kernels' EVEX twin (the same code on AVX-512 VNNI machines)",
                                   {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni"}) ==
          kernels::qPathSupported(QPath::Avx512));
}

TEST_CASE("kernel path: AVX-512 VNNI packed q1_0/q4_0/q8_0 kernels", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX-512 VNNI packed q1_0/q4_0/q8_0 kernels",
                                   {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni"}) ==
          kernels::qPathSupported(QPath::Avx512));
}

TEST_CASE("kernel path: AVX2 fp32 matvec/matmul kernels", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX2 fp32 matvec/matmul kernels", {"avx2", "fma"}) ==
          kernels::f32PathSupported(kernels::F32Path::Avx2));
}

TEST_CASE("kernel path: AVX-512 fp32 matvec/matmul kernels", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX-512 fp32 matvec/matmul kernels",
                                   {"avx2", "fma", "avx512f", "avx512bw", "avx512vl"}) ==
          kernels::f32PathSupported(kernels::F32Path::Avx512));
}

TEST_CASE("kernel path: AVX2 dense gemm (quantization)", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX2 dense gemm (quantization)", {"avx2", "fma"}) ==
          quant::dense::pathSupported(quant::dense::Path::Avx2));
}

TEST_CASE("kernel path: AVX-512 dense gemm (quantization)", "[kernels][paths]")
{
    CHECK(bqtest::reportKernelPath("AVX-512 dense gemm (quantization)",
                                   {"avx2", "fma", "avx512f", "avx512bw", "avx512vl"}) ==
          quant::dense::pathSupported(quant::dense::Path::Avx512));
}

TEST_CASE("kernel path: AVX2 bitstudio packed layers", "[kernels][paths]")
{
    // bitstudio_linear.cpp picks its AVX2 kernel on cpuFeatures().avx2 alone (the file is built with FMA/F16C too).
    CHECK(bqtest::reportKernelPath("AVX2 bitstudio packed layers", {"avx2"}) == cpuFeatures().avx2);
}

TEST_CASE("AVX-VNNI kernels (as their EVEX twin where the CPU lacks AVX-VNNI): equal to the path that runs the same "
          "source bit for bit, and to the scalar reference, on odd shapes",
          "[packed]")
{
    // The VEX kernels run in supportedPaths() above where the CPU has AVX-VNNI. Their twin runs wherever AVX-512 VNNI
    // is: Q4_0 / Q8_0 are the AVX-512 path's 256-bit kernels (kernels_q_blocks.inl with vpdpbusd), the super-block
    // types the AVX2 tiles with vpdpbusd / vpdpwssd in place of vpmaddubsw / vpmaddwd; exact integer sums in the same
    // fp32 order, so both equal those paths bit for bit.
    if (!kernels::qPathSupported(QPath::Avx512)) {
        WARN("NOT RUN: the AVX-VNNI EVEX twin needs AVX-512 VL/VNNI");
        return;
    }
    std::mt19937 rng(77);
    for (DType type : {DType::Q4_0, DType::Q8_0, DType::Q6_K, DType::TQ2_0, DType::TQ1_0})
        for (int nb : {1, 3, 9, 17})
            for (int T : {1, 2, 3, 5, 17, 67}) {
                const OddShapeCase c = oddShapeCase(type, nb == 9 ? 11 : nb == 17 ? 5 : 7, nb, T, rng);
                const int N = c.N;
                const auto& [bytes, X, exact, bound] = std::tie(c.bytes, c.X, c.exact, c.bound);
                const std::size_t rowBytes = dtypeRowBytes(type, c.K), ldy = static_cast<std::size_t>(N);
                const bool superBlock = kernels::activationBlockFor(type) == 256;
                const QPath same = superBlock ? QPath::Avx2 : QPath::Avx512;
                std::vector<float> twin(static_cast<std::size_t>(T * N), -1.0f), other(twin.size(), -2.0f);
                // Two row ranges, the second starting inside a tile.
                const std::size_t mid = std::min<std::size_t>(3, ldy);
                for (auto [b, e] : {std::pair<std::size_t, std::size_t>{0, mid}, {mid, ldy}}) {
                    if (superBlock)
                        kernels::detail::superBlockMatmulRowsAvxVnniEvexTwin(type, bytes.data(), rowBytes, X, twin.data(),
                                                                             ldy, b, e);
                    else
                        kernels::detail::packedMatmulRowsAvxVnniEvexTwin(type, bytes.data(), rowBytes, X, twin.data(), ldy,
                                                                         b, e);
                }
                kernels::packedMatmulRows(same, type, bytes.data(), rowBytes, X, other.data(), ldy, 0, ldy);
                INFO(dtypeName(type) << " N=" << N << " nb=" << nb << " T=" << T << ", against " << kernels::qPathName(same));
                for (std::size_t i = 0; i < twin.size(); ++i) {
                    CHECK(twin[i] == other[i]);
                    CHECK(std::fabs(twin[i] - exact[i]) <= 1e-5 * bound[i] + 1e-30);
                }
            }
}
