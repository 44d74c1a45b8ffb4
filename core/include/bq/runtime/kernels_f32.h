// fp32 kernels of the reference runtime: GEMV (decode), GEMM (prefill) and the small vector helpers.
// Every path (scalar, AVX2/FMA, AVX-512) computes each output element as ONE dot product whose summation
// order depends only on K and the path — not on the row tile, the token tile or the thread split — so
// results are bit-identical for any thread count, and matmul over T tokens equals T matvec calls exactly.
// The scalar path sums sequentially in fp32, exactly as llama2.c run.c does.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bq {
class ThreadPool;
}

namespace bq::kernels {

enum class F32Path : std::uint8_t { Scalar, Avx2, Avx512 };

// The fastest path cpuFeatures() allows (honours BQ_CPU=scalar|avx2|avx512).
F32Path bestF32Path() noexcept;
const char* f32PathName(F32Path path) noexcept;
// Whether this CPU can run `path`.
bool f32PathSupported(F32Path path) noexcept;

// Single-threaded row-range kernels for one explicit path (tests compare paths with these).
// W is [N][K] row-major. y[n] = Σ_k W[n][k]·x[k] for n in [rowBegin, rowEnd).
void matvecRows(F32Path path, const float* W, int K, const float* x, float* y, std::size_t rowBegin,
                std::size_t rowEnd);
// Y[t·ldy + n] = Σ_k W[n][k]·X[t·ldx + k] for t < T, n in [rowBegin, rowEnd).
void matmulRows(F32Path path, const float* W, int K, const float* X, std::size_t ldx, int T, float* Y,
                std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd);
float dot(F32Path path, const float* a, const float* b, int n);
// y += a·x
void axpy(F32Path path, float a, const float* x, float* y, int n);

// Multithreaded (pool may be null), best path; output rows split with ThreadPool::parallelFor.
void matvec(const float* W, int N, int K, const float* x, float* y, ThreadPool* pool);
// X is [T][K], Y is [T][N].
void matmul(const float* W, int N, int K, const float* X, int T, float* Y, ThreadPool* pool);
float dot(const float* a, const float* b, int n);
void axpy(float a, const float* x, float* y, int n);
// Attention over a strided cache, best path: out[j] = dot(q, rows + j·stride, n) for j < count, and
// y += s[j]·(rows + j·stride) for j = 0, 1, ... in order. The same results as dot / axpy per cached row, bit for
// bit, without a call and a path dispatch per row (decode calls these for every head of every layer).
void dotRows(const float* q, const float* rows, std::size_t stride, int count, int n, float* out);
void axpyRows(const float* s, const float* rows, std::size_t stride, int count, float* y, int n);

// Causal attention of m consecutive queries at once (prefill), query i seeing the cached rows j < count0 + i.
// Scores: out[i·ldo + j] = dot(q + i·ldq, rows + j·stride, n). Value sums: y + i·ldy += s[i·lds + j]·(rows +
// j·stride) for j = 0, 1, ... in order. Per query bit for bit dotRows / axpyRows (dot / axpy per row of `path`),
// so a prefill equals token-by-token decode; the work is tiled over queries × rows like a GEMM.
void dotRowsCausal(F32Path path, const float* q, std::size_t ldq, int m, const float* rows, std::size_t stride,
                   int count0, int n, float* out, std::size_t ldo);
void axpyRowsCausal(F32Path path, const float* s, std::size_t lds, int m, const float* rows, std::size_t stride,
                    int count0, float* y, std::size_t ldy, int n);

// run.c numerics: ss = Σx² (fp32, sequential); out = w·(x·1/sqrt(ss/n + eps)). out may alias x.
void rmsnorm(float* out, const float* x, const float* w, int n, float eps);
// In place, max subtracted, fp32.
void softmax(float* x, int n);
// gate[i] = silu(gate[i])·up[i]
void siluMul(float* gate, const float* up, int n);

} // namespace bq::kernels
