// Scalar reference kernels (run.c order: sequential fp32 sums) and the run-time dispatch.
#include "bq/runtime/kernels_f32.h"
#include "bq/util/cpu_features.h"
#include "bq/util/thread_pool.h"
#include <cmath>

namespace bq::kernels {

namespace detail {
// Defined in kernels_f32_avx2.cpp / kernels_f32_avx512.cpp (compiled with the matching -m flags).
void matmulRowsAvx2(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                    std::size_t rowBegin, std::size_t rowEnd);
void matvecRowsAvx2(const float* W, int K, const float* x, float* y, std::size_t rowBegin, std::size_t rowEnd);
float dotAvx2(const float* a, const float* b, int n);
void axpyAvx2(float a, const float* x, float* y, int n);
void dotRowsAvx2(const float* q, const float* rows, std::size_t stride, int count, int n, float* out);
void axpyRowsAvx2(const float* s, const float* rows, std::size_t stride, int count, float* y, int n);
void matmulRowsAvx512(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd);
void matvecRowsAvx512(const float* W, int K, const float* x, float* y, std::size_t rowBegin, std::size_t rowEnd);
float dotAvx512(const float* a, const float* b, int n);
void axpyAvx512(float a, const float* x, float* y, int n);
void dotRowsAvx512(const float* q, const float* rows, std::size_t stride, int count, int n, float* out);
void axpyRowsAvx512(const float* s, const float* rows, std::size_t stride, int count, float* y, int n);
void dotRowsCausalAvx2(const float* q, std::size_t ldq, int m, const float* rows, std::size_t stride, int count0,
                       int n, float* out, std::size_t ldo);
void axpyRowsCausalAvx2(const float* s, std::size_t lds, int m, const float* rows, std::size_t stride, int count0,
                        float* y, std::size_t ldy, int n);
void dotRowsCausalAvx512(const float* q, std::size_t ldq, int m, const float* rows, std::size_t stride, int count0,
                         int n, float* out, std::size_t ldo);
void axpyRowsCausalAvx512(const float* s, std::size_t lds, int m, const float* rows, std::size_t stride,
                          int count0, float* y, std::size_t ldy, int n);
} // namespace detail

namespace {

float dotScalar(const float* a, const float* b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

void matmulRowsScalar(const float* W, int K, const float* X, std::size_t ldx, int T, float* Y, std::size_t ldy,
                      std::size_t rowBegin, std::size_t rowEnd)
{
    for (std::size_t n = rowBegin; n < rowEnd; ++n) {
        const float* w = W + n * static_cast<std::size_t>(K);
        for (int t = 0; t < T; ++t)
            Y[static_cast<std::size_t>(t) * ldy + n] = dotScalar(w, X + static_cast<std::size_t>(t) * ldx, K);
    }
}

// Rows per parallelFor chunk boundary: a multiple of every path's row tile.
constexpr std::size_t kRowAlign = 8;

} // namespace

bool f32PathSupported(F32Path path) noexcept
{
    const CpuFeatures& f = cpuFeatures();
    switch (path) {
    case F32Path::Scalar: return true;
    case F32Path::Avx2: return f.avx2 && f.fma;
    // kernels_f32_avx512.cpp is built with -mavx512vl/bw/dq, which the compiler may use for ymm/xmm code.
    case F32Path::Avx512: return f.avx512f && f.avx512vl && f.avx512bw && f.avx2 && f.fma;
    }
    return false;
}

F32Path bestF32Path() noexcept
{
    static const F32Path best = f32PathSupported(F32Path::Avx512) ? F32Path::Avx512
                                : f32PathSupported(F32Path::Avx2) ? F32Path::Avx2
                                                                   : F32Path::Scalar;
    return best;
}

const char* f32PathName(F32Path path) noexcept
{
    switch (path) {
    case F32Path::Scalar: return "scalar";
    case F32Path::Avx2: return "avx2";
    case F32Path::Avx512: return "avx512";
    }
    return "?";
}

void matvecRows(F32Path path, const float* W, int K, const float* x, float* y, std::size_t rowBegin,
                std::size_t rowEnd)
{
    switch (path) {
    case F32Path::Avx512: detail::matvecRowsAvx512(W, K, x, y, rowBegin, rowEnd); return;
    case F32Path::Avx2: detail::matvecRowsAvx2(W, K, x, y, rowBegin, rowEnd); return;
    case F32Path::Scalar: matmulRowsScalar(W, K, x, 0, 1, y, 0, rowBegin, rowEnd); return;
    }
}

void matmulRows(F32Path path, const float* W, int K, const float* X, std::size_t ldx, int T, float* Y,
                std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    switch (path) {
    case F32Path::Avx512: detail::matmulRowsAvx512(W, K, X, ldx, T, Y, ldy, rowBegin, rowEnd); return;
    case F32Path::Avx2: detail::matmulRowsAvx2(W, K, X, ldx, T, Y, ldy, rowBegin, rowEnd); return;
    case F32Path::Scalar: matmulRowsScalar(W, K, X, ldx, T, Y, ldy, rowBegin, rowEnd); return;
    }
}

float dot(F32Path path, const float* a, const float* b, int n)
{
    switch (path) {
    case F32Path::Avx512: return detail::dotAvx512(a, b, n);
    case F32Path::Avx2: return detail::dotAvx2(a, b, n);
    case F32Path::Scalar: break;
    }
    return dotScalar(a, b, n);
}

void axpy(F32Path path, float a, const float* x, float* y, int n)
{
    switch (path) {
    case F32Path::Avx512: detail::axpyAvx512(a, x, y, n); return;
    case F32Path::Avx2: detail::axpyAvx2(a, x, y, n); return;
    case F32Path::Scalar: break;
    }
    for (int i = 0; i < n; ++i)
        y[i] += a * x[i];
}

void matvec(const float* W, int N, int K, const float* x, float* y, ThreadPool* pool)
{
    const F32Path path = bestF32Path();
    if (!pool || pool->size() == 1) {
        matvecRows(path, W, K, x, y, 0, static_cast<std::size_t>(N));
        return;
    }
    pool->parallelFor(
        static_cast<std::size_t>(N),
        [&](std::size_t b, std::size_t e, int) { matvecRows(path, W, K, x, y, b, e); }, kRowAlign);
}

void matmul(const float* W, int N, int K, const float* X, int T, float* Y, ThreadPool* pool)
{
    if (T == 1) {
        matvec(W, N, K, X, Y, pool);
        return;
    }
    const F32Path path = bestF32Path();
    const auto ld = static_cast<std::size_t>(K), ldy = static_cast<std::size_t>(N);
    if (!pool || pool->size() == 1) {
        matmulRows(path, W, K, X, ld, T, Y, ldy, 0, static_cast<std::size_t>(N));
        return;
    }
    pool->parallelFor(
        static_cast<std::size_t>(N),
        [&](std::size_t b, std::size_t e, int) { matmulRows(path, W, K, X, ld, T, Y, ldy, b, e); }, kRowAlign);
}

float dot(const float* a, const float* b, int n)
{
    return dot(bestF32Path(), a, b, n);
}

void axpy(float a, const float* x, float* y, int n)
{
    axpy(bestF32Path(), a, x, y, n);
}

void dotRows(const float* q, const float* rows, std::size_t stride, int count, int n, float* out)
{
    switch (bestF32Path()) {
    case F32Path::Avx512: detail::dotRowsAvx512(q, rows, stride, count, n, out); return;
    case F32Path::Avx2: detail::dotRowsAvx2(q, rows, stride, count, n, out); return;
    case F32Path::Scalar: break;
    }
    for (int j = 0; j < count; ++j)
        out[j] = dot(F32Path::Scalar, q, rows + static_cast<std::size_t>(j) * stride, n);
}

void axpyRows(const float* s, const float* rows, std::size_t stride, int count, float* y, int n)
{
    switch (bestF32Path()) {
    case F32Path::Avx512: detail::axpyRowsAvx512(s, rows, stride, count, y, n); return;
    case F32Path::Avx2: detail::axpyRowsAvx2(s, rows, stride, count, y, n); return;
    case F32Path::Scalar: break;
    }
    for (int j = 0; j < count; ++j)
        axpy(F32Path::Scalar, s[j], rows + static_cast<std::size_t>(j) * stride, y, n);
}

void dotRowsCausal(F32Path path, const float* q, std::size_t ldq, int m, const float* rows, std::size_t stride,
                   int count0, int n, float* out, std::size_t ldo)
{
    switch (path) {
    case F32Path::Avx512: detail::dotRowsCausalAvx512(q, ldq, m, rows, stride, count0, n, out, ldo); return;
    case F32Path::Avx2: detail::dotRowsCausalAvx2(q, ldq, m, rows, stride, count0, n, out, ldo); return;
    case F32Path::Scalar: break;
    }
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < count0 + i; ++j)
            out[static_cast<std::size_t>(i) * ldo + static_cast<std::size_t>(j)] =
                dotScalar(q + static_cast<std::size_t>(i) * ldq, rows + static_cast<std::size_t>(j) * stride, n);
}

void axpyRowsCausal(F32Path path, const float* s, std::size_t lds, int m, const float* rows, std::size_t stride,
                    int count0, float* y, std::size_t ldy, int n)
{
    switch (path) {
    case F32Path::Avx512: detail::axpyRowsCausalAvx512(s, lds, m, rows, stride, count0, y, ldy, n); return;
    case F32Path::Avx2: detail::axpyRowsCausalAvx2(s, lds, m, rows, stride, count0, y, ldy, n); return;
    case F32Path::Scalar: break;
    }
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < count0 + i; ++j)
            axpy(F32Path::Scalar, s[static_cast<std::size_t>(i) * lds + static_cast<std::size_t>(j)],
                 rows + static_cast<std::size_t>(j) * stride, y + static_cast<std::size_t>(i) * ldy, n);
}

void rmsnorm(float* out, const float* x, const float* w, int n, float eps)
{
    float ss = 0.0f;
    for (int j = 0; j < n; ++j)
        ss += x[j] * x[j];
    ss /= static_cast<float>(n);
    ss += eps;
    ss = 1.0f / std::sqrt(ss);
    for (int j = 0; j < n; ++j)
        out[j] = w[j] * (ss * x[j]);
}

void softmax(float* x, int n)
{
    if (n <= 0)
        return;
    float maxVal = x[0];
    for (int i = 1; i < n; ++i)
        if (x[i] > maxVal)
            maxVal = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - maxVal);
        sum += x[i];
    }
    for (int i = 0; i < n; ++i)
        x[i] /= sum;
}

void siluMul(float* gate, const float* up, int n)
{
    for (int i = 0; i < n; ++i) {
        float v = gate[i];
        v *= 1.0f / (1.0f + std::exp(-v));
        gate[i] = v * up[i];
    }
}

} // namespace bq::kernels
