// Scalar reference kernels of the packed runtime (weight blocks decoded by the tensor-type table, exact integer
// block sums, sequential fp32 accumulation), the activation quantizer, the run-time path choice and the
// multithreaded drivers.
#include "bq/runtime/kernels_q.h"
#include "kernels_superblock.h"
#include "bq/util/cpu_features.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace bq::kernels {

namespace detail {
// kernels_q_avx2.cpp / kernels_q_avx512.cpp
void quantizeActRowAvx2(const float* x, int cols, int block, std::int8_t* q, float* scale, std::int32_t* sum);
void quantizeActRowAvx512(const float* x, int cols, int block, std::int8_t* q, float* scale, std::int32_t* sum);
void packedMatmulRowsAvx2(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                          float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd);
void packedMatmulRowsAvx512(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                            float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd);
void q1MatmulRowsAvx2(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd);
void packedMatmulRowsAvxVnni(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                             float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd);
void q1MatmulRowsAvx512(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                        std::size_t rowBegin, std::size_t rowEnd);
float dotF16Avx2(const float* a, const std::uint16_t* h, int n);
void axpyF16Avx2(float s, const std::uint16_t* h, float* y, int n);
void floatToHalfRowAvx2(const float* x, std::uint16_t* h, int n);
} // namespace detail

namespace {

// Output rows per parallelFor chunk boundary: a multiple of every path's row tile.
constexpr std::size_t kRowAlign = 8;

void quantizeActRowScalar(const float* x, int cols, int block, std::int8_t* q, float* scale, std::int32_t* sum)
{
    for (int b = 0; b < cols / block; ++b) {
        const float* xb = x + static_cast<std::ptrdiff_t>(b) * block;
        float amax = 0.0f;
        for (int j = 0; j < block; ++j)
            amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        std::int32_t s = 0;
        for (int j = 0; j < block; ++j) {
            // Round half to even, as cvtps2dq does in the SIMD paths.
            const auto v = static_cast<std::int32_t>(std::nearbyint(xb[j] * id));
            q[static_cast<std::ptrdiff_t>(b) * block + j] = static_cast<std::int8_t>(v);
            s += v;
        }
        scale[b] = d;
        sum[b] = s;
    }
}

// The scalar reference. A weight row is first decoded into its block scales and integers (wd, wq); each
// output is then Σ over blocks, in block order, of (d_w·d_x)·(the exact integer dot product of the block).
void decodedRowProducts(const float* wd, const std::int8_t* wq, const QuantizedActivations& X, float* Y,
                        std::size_t ldy, std::size_t n)
{
    const int nb = X.blocksPerToken();
    for (int t = 0; t < X.tokens; ++t) {
        const std::int8_t* q = X.qRow(t);
        const float* dx = X.scaleRow(t);
        float acc = 0.0f;
        for (int b = 0; b < nb; ++b) {
            const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(b) * X.block;
            std::int32_t s = 0;
            for (int j = 0; j < X.block; ++j)
                s += static_cast<std::int32_t>(wq[at + j]) * q[at + j];
            acc += (wd[b] * dx[b]) * static_cast<float>(s);
        }
        Y[static_cast<std::size_t>(t) * ldy + n] = acc;
    }
}

// GGUF-layout rows, decoded by the tensor-type table.
void packedMatmulRowsScalar(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                            float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    const TensorTypeTraits& traits = tensorType(type);
    const int nb = X.blocksPerToken();
    std::vector<std::int8_t> wq(static_cast<std::size_t>(X.cols));
    std::vector<float> wd(static_cast<std::size_t>(nb));
    for (std::size_t n = rowBegin; n < rowEnd; ++n) {
        const std::byte* row = W + n * rowBytes;
        for (int b = 0; b < nb; ++b)
            wd[static_cast<std::size_t>(b)] =
                halfToFloat(traits.decodeBlock(row + static_cast<std::ptrdiff_t>(b) * traits.blockBytes,
                                               wq.data() + static_cast<std::ptrdiff_t>(b) * traits.blockSize));
        decodedRowProducts(wd.data(), wq.data(), X, Y, ldy, n);
    }
}

// Q1_0 planes (kernels_q.h): scale b of row n, and the sign of weight j of block b in bit j % 8 of its byte j / 8.
void q1MatmulRowsScalar(const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                        std::size_t rowBegin, std::size_t rowEnd)
{
    const int nb = X.blocksPerToken();
    std::vector<std::int8_t> wq(static_cast<std::size_t>(X.cols));
    std::vector<float> wd(static_cast<std::size_t>(nb));
    for (std::size_t n = rowBegin; n < rowEnd; ++n) {
        const std::uint16_t* scales = W.scales + n * static_cast<std::size_t>(nb);
        for (int b = 0; b < nb; ++b) {
            wd[static_cast<std::size_t>(b)] = halfToFloat(scales[b]);
            for (int i = 0; i < 16; ++i) {
                const std::uint8_t byte = W.bits[q1BitsOffset(nb, n, b, i)];
                for (int k = 0; k < 8; ++k)
                    wq[static_cast<std::size_t>(b * 128 + i * 8 + k)] = (byte >> k) & 1u ? 1 : -1;
            }
        }
        decodedRowProducts(wd.data(), wq.data(), X, Y, ldy, n);
    }
}

void checkShapes(DType type, int K, int block)
{
    if (!packedKernelSupports(type))
        throw std::invalid_argument(std::string("packed kernels: unsupported weight type ") + dtypeName(type));
    if (block != activationBlockFor(type))
        throw std::invalid_argument(std::string("packed kernels: ") + dtypeName(type) + " needs activation blocks of " +
                                    std::to_string(activationBlockFor(type)) + ", got " + std::to_string(block));
    if (K <= 0 || K % dtypeBlockSize(type) != 0)
        throw std::invalid_argument(std::string("packed kernels: ") + dtypeName(type) + " needs K a multiple of " +
                                    std::to_string(dtypeBlockSize(type)) + ", got " + std::to_string(K));
}

} // namespace

bool qPathSupported(QPath path) noexcept
{
    const CpuFeatures& f = cpuFeatures();
    switch (path) {
    case QPath::Scalar: return true;
    case QPath::Avx2: return f.avx2 && f.fma && f.f16c;
    case QPath::AvxVnni: return f.avxvnni && f.avx2 && f.fma && f.f16c;
    case QPath::Avx512: return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.avx2 && f.fma && f.f16c;
    }
    return false;
}

QPath bestQPath() noexcept
{
    static const QPath best = qPathSupported(QPath::Avx512)    ? QPath::Avx512
                              : qPathSupported(QPath::AvxVnni) ? QPath::AvxVnni
                              : qPathSupported(QPath::Avx2)    ? QPath::Avx2
                                                               : QPath::Scalar;
    return best;
}

bool q1UsesLut(QPath path) noexcept { return path == QPath::Avx2 || path == QPath::AvxVnni; }

const char* qPathName(QPath path) noexcept
{
    switch (path) {
    case QPath::Scalar: return "scalar";
    case QPath::Avx2: return "avx2";
    case QPath::AvxVnni: return "avx-vnni";
    case QPath::Avx512: return "avx512-vnni";
    }
    return "?";
}

int activationBlockFor(DType weightType) noexcept
{
    // The types the SIMD kernels know; activations are quantized in blocks of the weight block.
    switch (weightType) {
    case DType::Q1_0:
    case DType::Q4_0:
    case DType::Q8_0: return dtypeBlockSize(weightType);
    // llama.cpp's super-block types, against activations in blocks of 256 (ggml's Q8_K shape).
    case DType::Q6_K:
    case DType::TQ2_0:
    case DType::TQ1_0: return detail::kSuperBlock;
    default: return 0;
    }
}

bool packedKernelSupports(DType weightType) noexcept { return activationBlockFor(weightType) != 0; }

void quantizeActivations(QPath path, const float* X, int tokens, int cols, int block, QuantizedActivations& out,
                         ThreadPool* pool)
{
    if (block <= 0 || block % 32 != 0 || cols % block != 0)
        throw std::invalid_argument("quantizeActivations: " + std::to_string(cols) +
                                    " columns are not a multiple of the block " + std::to_string(block) +
                                    " (itself a multiple of 32)");
    out.tokens = tokens;
    out.cols = cols;
    out.block = block;
    const std::size_t nb = static_cast<std::size_t>(cols / block);
    out.q.resize(static_cast<std::size_t>(tokens) * static_cast<std::size_t>(cols));
    out.scale.resize(static_cast<std::size_t>(tokens) * nb);
    out.sum.resize(static_cast<std::size_t>(tokens) * nb);
    auto run = [&](std::size_t tb, std::size_t te, int) {
        for (std::size_t t = tb; t < te; ++t) {
            const float* x = X + t * static_cast<std::size_t>(cols);
            std::int8_t* q = out.q.data() + t * static_cast<std::size_t>(cols);
            float* s = out.scale.data() + t * nb;
            std::int32_t* sm = out.sum.data() + t * nb;
            switch (path) {
            case QPath::Avx512: detail::quantizeActRowAvx512(x, cols, block, q, s, sm); break;
            case QPath::Avx2:
            case QPath::AvxVnni: detail::quantizeActRowAvx2(x, cols, block, q, s, sm); break;
            case QPath::Scalar: quantizeActRowScalar(x, cols, block, q, s, sm); break;
            }
        }
    };
    if (pool && pool->size() > 1 && tokens > 1)
        pool->parallelFor(static_cast<std::size_t>(tokens), run);
    else
        run(0, static_cast<std::size_t>(tokens), 0);
}

// A byte copy of the GGUF blocks (fp16 d, then the 16 sign bytes; tensor_types.h) into the planes: like the
// SIMD kernels a layout specialist, and checked the same way (the scalar path decodes GGUF rows through the
// type table, the others multiply split planes; test_packed_kernels compares them).
void splitQ1Rows(const std::byte* W, std::size_t rowBytes, int K, std::size_t rows, std::uint8_t* bits,
                 std::uint16_t* scales)
{
    const int nb = K / 128;
    const auto unb = static_cast<std::size_t>(nb);
    const auto blockBytes = static_cast<std::size_t>(dtypeBlockBytes(DType::Q1_0));
    std::memset(bits, 0, q1BitsBytes(rows, nb));
    for (std::size_t n = 0; n < rows; ++n)
        for (int b = 0; b < nb; ++b) {
            const std::byte* blk = W + n * rowBytes + static_cast<std::size_t>(b) * blockBytes;
            std::memcpy(scales + n * unb + static_cast<std::size_t>(b), blk, 2);
            for (int i = 0; i < 16; ++i)
                bits[q1BitsOffset(nb, n, b, i)] = static_cast<std::uint8_t>(blk[2 + i]);
        }
}

void splitQ1LutRows(const std::byte* W, std::size_t rowBytes, int K, std::size_t rows, std::uint8_t* bits,
                    std::uint16_t* scales)
{
    const int nb = K / 128;
    const auto blockBytes = static_cast<std::size_t>(dtypeBlockBytes(DType::Q1_0));
    std::memset(bits, 0, q1LutBytes(rows, nb));
    std::memset(scales, 0, q1LutBytes(rows, nb) / 16 * sizeof(std::uint16_t));
    for (std::size_t n = 0; n < rows; ++n)
        for (int b = 0; b < nb; ++b) {
            const std::byte* blk = W + n * rowBytes + static_cast<std::size_t>(b) * blockBytes;
            std::memcpy(scales + q1LutScaleOffset(nb, n, b), blk, 2);
            for (int i = 0; i < 16; ++i)
                bits[q1LutBitsOffset(nb, n, b, i)] = static_cast<std::uint8_t>(blk[2 + i]);
        }
}

Q1PlaneStore splitQ1(const std::byte* W, int N, int K, QPath path)
{
    if (N < 0 || K <= 0 || K % 128 != 0)
        throw std::invalid_argument("splitQ1: Q1_0 rows need K a multiple of 128, got " + std::to_string(K));
    Q1PlaneStore s;
    s.rows = N;
    s.blocksPerRow = K / 128;
    const auto rows = static_cast<std::size_t>(N);
    if (q1UsesLut(path)) {
        s.lutBits.resize(q1LutBytes(rows, s.blocksPerRow));
        s.lutScales.resize(s.lutBits.size() / 16);
        splitQ1LutRows(W, dtypeRowBytes(DType::Q1_0, K), K, rows, s.lutBits.data(), s.lutScales.data());
        return s;
    }
    s.bits.resize(q1BitsBytes(rows, s.blocksPerRow));
    s.scales.resize(rows * static_cast<std::size_t>(s.blocksPerRow));
    splitQ1Rows(W, dtypeRowBytes(DType::Q1_0, K), K, rows, s.bits.data(), s.scales.data());
    return s;
}

void q1MatmulRows(QPath path, const Q1Planes& W, const QuantizedActivations& X, float* Y, std::size_t ldy,
                  std::size_t rowBegin, std::size_t rowEnd)
{
    checkShapes(DType::Q1_0, X.cols, X.block);
    if (W.blocksPerRow != X.blocksPerToken())
        throw std::invalid_argument("q1MatmulRows: weight rows of " + std::to_string(W.blocksPerRow) +
                                    " blocks against activations of " + std::to_string(X.blocksPerToken()));
    if (rowBegin >= rowEnd || X.tokens <= 0)
        return;
    if (!W.bits && !(q1UsesLut(path) && W.lutBits))
        throw std::invalid_argument(std::string("q1MatmulRows: the ") + qPathName(path) +
                                    " path needs the Q1_0 planes (splitQ1 made the AVX2 LUT layout only)");
    switch (path) {
    case QPath::Avx512: detail::q1MatmulRowsAvx512(W, X, Y, ldy, rowBegin, rowEnd); return;
    case QPath::Avx2:
    case QPath::AvxVnni: detail::q1MatmulRowsAvx2(W, X, Y, ldy, rowBegin, rowEnd); return;
    case QPath::Scalar: q1MatmulRowsScalar(W, X, Y, ldy, rowBegin, rowEnd); return;
    }
}

void packedMatmulRows(QPath path, DType type, const std::byte* W, std::size_t rowBytes,
                      const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                      std::size_t rowEnd)
{
    checkShapes(type, X.cols, X.block);
    if (rowBegin >= rowEnd || X.tokens <= 0)
        return;
    if (type == DType::Q1_0 && path != QPath::Scalar) {
        // GGUF-layout Q1_0 (tests, one-off products): split this row range, then the planes kernel. The scalar
        // reference decodes the GGUF blocks through the type table instead, so the two stay independent.
        // (The AVX2 path gets its LUT layout.)
        thread_local Q1PlaneStore split;
        const std::size_t rows = rowEnd - rowBegin;
        const std::size_t nb = static_cast<std::size_t>(X.blocksPerToken());
        split.blocksPerRow = static_cast<int>(nb);
        Q1Planes view{};
        view.blocksPerRow = split.blocksPerRow;
        if (q1UsesLut(path)) {
            split.lutBits.resize(q1LutBytes(rows, static_cast<int>(nb)));
            split.lutScales.resize(split.lutBits.size() / 16);
            splitQ1LutRows(W + rowBegin * rowBytes, rowBytes, X.cols, rows, split.lutBits.data(), split.lutScales.data());
            view.lutBits = split.lutBits.data();
            view.lutScales = split.lutScales.data();
        } else {
            split.bits.resize(q1BitsBytes(rows, static_cast<int>(nb)));
            split.scales.resize(rows * nb);
            splitQ1Rows(W + rowBegin * rowBytes, rowBytes, X.cols, rows, split.bits.data(), split.scales.data());
            view.bits = split.bits.data();
            view.scales = split.scales.data();
        }
        q1MatmulRows(path, view, X, Y + rowBegin, ldy, 0, rows);
        return;
    }
    if (detail::isSuperBlockType(type)) {
        switch (path) {
        case QPath::Avx512: detail::superBlockMatmulRowsAvx512(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
        case QPath::Avx2: detail::superBlockMatmulRowsAvx2(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
        case QPath::AvxVnni:
            detail::superBlockMatmulRowsAvxVnni(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd);
            return;
        case QPath::Scalar: detail::superBlockMatmulRowsScalar(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
        }
    }
    switch (path) {
    case QPath::Avx512: detail::packedMatmulRowsAvx512(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case QPath::Avx2: detail::packedMatmulRowsAvx2(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case QPath::AvxVnni: detail::packedMatmulRowsAvxVnni(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case QPath::Scalar: packedMatmulRowsScalar(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    }
}

void packedMatmul(QPath path, DType type, const std::byte* W, int N, const QuantizedActivations& X, float* Y,
                  ThreadPool* pool)
{
    checkShapes(type, X.cols, X.block);
    const std::size_t rowBytes = dtypeRowBytes(type, X.cols);
    const auto ldy = static_cast<std::size_t>(N);
    if (!pool || pool->size() == 1) {
        packedMatmulRows(path, type, W, rowBytes, X, Y, ldy, 0, static_cast<std::size_t>(N));
        return;
    }
    pool->parallelFor(
        static_cast<std::size_t>(N),
        [&](std::size_t b, std::size_t e, int) { packedMatmulRows(path, type, W, rowBytes, X, Y, ldy, b, e); },
        kRowAlign);
}

void packedMatmul(DType type, const std::byte* W, int N, int K, const float* X, int T, float* Y, ThreadPool* pool)
{
    checkShapes(type, K, activationBlockFor(type));
    // One scratch per calling thread: contexts of different models may run concurrently.
    thread_local QuantizedActivations scratch;
    const QPath path = bestQPath();
    quantizeActivations(path, X, T, K, activationBlockFor(type), scratch, T > 1 ? pool : nullptr);
    packedMatmul(path, type, W, N, scratch, Y, pool);
}

void q1Matmul(const Q1Planes& W, int N, int K, const float* X, int T, float* Y, ThreadPool* pool)
{
    checkShapes(DType::Q1_0, K, 128);
    thread_local QuantizedActivations scratch;
    const QPath path = bestQPath();
    quantizeActivations(path, X, T, K, 128, scratch, T > 1 ? pool : nullptr);
    const QuantizedActivations& Xq = scratch;
    const auto ldy = static_cast<std::size_t>(N);
    if (!pool || pool->size() == 1) {
        q1MatmulRows(path, W, Xq, Y, ldy, 0, ldy);
        return;
    }
    pool->parallelFor(
        ldy, [&](std::size_t b, std::size_t e, int) { q1MatmulRows(path, W, Xq, Y, ldy, b, e); }, kRowAlign);
}

void packedMatmulMulti(DType type, const PackedMatrixOut* mats, int count, int K, const float* X, int T,
                       ThreadPool* pool)
{
    checkShapes(type, K, activationBlockFor(type));
    thread_local QuantizedActivations scratch;
    const QPath path = bestQPath();
    quantizeActivations(path, X, T, K, activationBlockFor(type), scratch, T > 1 ? pool : nullptr);
    const QuantizedActivations& Xq = scratch; // the workers must read this thread's scratch, not their own
    const std::size_t rowBytes = dtypeRowBytes(type, K);
    std::size_t total = 0;
    for (int i = 0; i < count; ++i)
        total += static_cast<std::size_t>(mats[i].N);
    auto run = [&](std::size_t b, std::size_t e, int) {
        std::size_t offset = 0;
        for (int i = 0; i < count; ++i) {
            const auto n = static_cast<std::size_t>(mats[i].N);
            const std::size_t lb = std::max(b, offset), le = std::min(e, offset + n);
            if (lb < le && mats[i].q1)
                q1MatmulRows(path, *mats[i].q1, Xq, mats[i].Y, n, lb - offset, le - offset);
            else if (lb < le)
                packedMatmulRows(path, type, mats[i].W, rowBytes, Xq, mats[i].Y, n, lb - offset, le - offset);
            offset += n;
        }
    };
    if (!pool || pool->size() == 1)
        run(0, total, 0);
    else
        pool->parallelFor(total, run, kRowAlign);
}

float dotF16(const float* a, const std::uint16_t* h, int n)
{
    if (bestQPath() != QPath::Scalar)
        return detail::dotF16Avx2(a, h, n);
    float s = 0.0f;
    for (int i = 0; i < n; ++i)
        s += a[i] * halfToFloat(h[i]);
    return s;
}

void axpyF16(float s, const std::uint16_t* h, float* y, int n)
{
    if (bestQPath() != QPath::Scalar) {
        detail::axpyF16Avx2(s, h, y, n);
        return;
    }
    for (int i = 0; i < n; ++i)
        y[i] += s * halfToFloat(h[i]);
}

void floatToHalfRow(const float* x, std::uint16_t* h, int n)
{
    if (bestQPath() != QPath::Scalar) {
        detail::floatToHalfRowAvx2(x, h, n);
        return;
    }
    for (int i = 0; i < n; ++i)
        h[i] = floatToHalf(x[i]);
}

} // namespace bq::kernels
