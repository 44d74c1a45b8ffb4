#include "support/packed_test_data.h"
#include "bq/model/tensor_types.h"
#include "bq/runtime/packed_linear_q.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <cmath>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

namespace bqtest {

using namespace bq;

std::vector<float> randomFloats(std::size_t n, std::mt19937& rng, float scale)
{
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = dist(rng);
    return v;
}

std::vector<std::byte> randomBlocks(DType type, int N, int K, std::mt19937& rng, bool unitScales)
{
    const std::size_t bytes = dtypeRowBytes(type, K) * static_cast<std::size_t>(N);
    std::vector<std::byte> w(bytes);
    std::uniform_int_distribution<int> byte(0, 255), small(-3, 3);
    for (auto& b : w)
        b = static_cast<std::byte>(byte(rng));
    std::uniform_real_distribution<float> scale(0.001f, 0.05f);
    const auto bb = static_cast<std::size_t>(dtypeBlockBytes(type));
    // ggml-common.h: d leads the 32- and 128-weight blocks and ends the 256-weight super-blocks.
    const std::size_t scaleAt = dtypeBlockSize(type) == 256 ? bb - 2 : 0;
    for (std::size_t off = 0; off < bytes; off += bb) {
        const std::uint16_t h = floatToHalf(unitScales ? 1.0f : scale(rng));
        std::memcpy(w.data() + off + scaleAt, &h, 2);
        if (unitScales && type == DType::Q6_K)
            for (int s = 0; s < 16; ++s)
                w[off + 192 + static_cast<std::size_t>(s)] = static_cast<std::byte>(static_cast<std::int8_t>(small(rng)));
    }
    return w;
}

Tensor viewTensor(DType type, int N, int K, const std::vector<std::byte>& bytes)
{
    // Aggregate initialisation (assigning the name trips GCC 12's -Wrestrict false positive).
    return Tensor{std::string("w"), type, {N, K}, bytes.data(), bytes.size(), nullptr};
}

std::vector<kernels::QPath> supportedPaths()
{
    std::vector<kernels::QPath> out;
    for (kernels::QPath p : {kernels::QPath::Scalar, kernels::QPath::Avx2, kernels::QPath::AvxVnni, kernels::QPath::Avx512})
        if (kernels::qPathSupported(p))
            out.push_back(p);
    return out;
}

void referenceProducts(const Tensor& w, const kernels::QuantizedActivations& X, std::vector<double>& y,
                       std::vector<double>& bound)
{
    const int N = static_cast<int>(w.rows()), K = static_cast<int>(w.cols());
    y.assign(static_cast<std::size_t>(X.tokens) * static_cast<std::size_t>(N), 0.0);
    bound.assign(y.size(), 0.0);
    std::vector<float> row(static_cast<std::size_t>(K));
    for (int n = 0; n < N; ++n) {
        w.rowToFloat(n, row.data());
        for (int t = 0; t < X.tokens; ++t) {
            double s = 0, a = 0;
            for (int k = 0; k < K; ++k) {
                const double x = double(X.qRow(t)[k]) * double(X.scaleRow(t)[k / X.block]);
                s += double(row[static_cast<std::size_t>(k)]) * x;
                a += std::fabs(double(row[static_cast<std::size_t>(k)]) * x);
            }
            y[static_cast<std::size_t>(t) * N + n] = s;
            bound[static_cast<std::size_t>(t) * N + n] = a;
        }
    }
}

GemmCase checkGemmEqualsGemv(DType type, int N, int K, int T, std::mt19937& rng)
{
    GemmCase c;
    c.weights = randomBlocks(type, N, K, rng);
    const auto lin = makeBlockPackedLinear(viewTensor(type, N, K, c.weights));
    CHECK(lin->weightBytes() == c.weights.size());
    c.x = randomFloats(static_cast<std::size_t>(T * K), rng);
    c.base.resize(static_cast<std::size_t>(T * N));
    lin->gemm(c.x.data(), T, c.base.data(), nullptr);
    for (int threads = 1; threads <= 3; ++threads) {
        ThreadPool pool(threads);
        for (int tokens = 1; tokens <= T; ++tokens) {
            std::vector<float> y(static_cast<std::size_t>(tokens * N));
            lin->gemm(c.x.data(), tokens, y.data(), &pool);
            INFO(dtypeName(type) << " threads " << threads << " tokens " << tokens);
            CHECK(std::equal(y.begin(), y.end(), c.base.begin()));
        }
        for (int t = 0; t < T; ++t) {
            std::vector<float> y(static_cast<std::size_t>(N));
            lin->gemv(c.x.data() + t * K, y.data(), &pool);
            INFO(dtypeName(type) << " threads " << threads << " GEMV of token " << t);
            CHECK(std::equal(y.begin(), y.end(), c.base.begin() + t * N));
        }
    }
    return c;
}

} // namespace bqtest
