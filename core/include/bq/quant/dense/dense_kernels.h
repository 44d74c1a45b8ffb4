// Dense linear algebra of the quantization engine (Gram accumulation, Hessian preparation, method GEMMs,
// analysis) on the widest SIMD this CPU has. The rest of bq_core is compiled for baseline x86-64, so Eigen there
// runs on SSE2 only; these kernels are compiled three times (baseline, AVX2+FMA, AVX-512), each copy with Eigen
// renamed into its own namespace so the differently compiled template instances never meet at link time, and
// are chosen once at run time from cpuFeatures() (BQ_CPU=scalar|avx2|avx512 caps the choice).
//
// The interface is raw pointers (column-major, explicit leading dimensions) so no Eigen type crosses the
// boundary. Every kernel is single-threaded and its result depends only on its inputs and the path: the same
// inputs give bit-identical outputs on a given machine, whatever the caller's thread count.
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace bq::quant::dense {

enum class Path : std::uint8_t { Baseline, Avx2, Avx512 };

Path bestPath() noexcept; // detected once
const char* pathName(Path path) noexcept;
bool pathSupported(Path path) noexcept;

// C = alpha · op(A) · op(B) + beta · C, column-major; op(X) = Xᵀ when transX. C is m × n, op(A) m × k.
void gemm(bool transA, bool transB, Eigen::Index m, Eigen::Index n, Eigen::Index k, double alpha, const double* A,
          Eigen::Index lda, const double* B, Eigen::Index ldb, double beta, double* C, Eigen::Index ldc);
void gemm(bool transA, bool transB, Eigen::Index m, Eigen::Index n, Eigen::Index k, float alpha, const float* A,
          Eigen::Index lda, const float* B, Eigen::Index ldb, float beta, float* C, Eigen::Index ldc);

// Lower triangle of C (n × n) = alpha · A Aᵀ + beta · C with A n × k column-major (symmetric rank-k update,
// blocked into GEMMs). The strict upper triangle of C is neither read nor written.
void syrkLower(Eigen::Index n, Eigen::Index k, float alpha, const float* A, Eigen::Index lda, float beta, float* C,
               Eigen::Index ldc);
void syrkLower(Eigen::Index n, Eigen::Index k, double alpha, const double* A, Eigen::Index lda, double beta,
               double* C, Eigen::Index ldc);

// In-place Cholesky A = L Lᵀ of the lower triangle (n × n); false when A is not numerically positive definite.
// The strict upper triangle is left as it was.
bool choleskyLower(Eigen::Index n, double* A, Eigen::Index lda);

// B (n × nrhs) ← (L Lᵀ)⁻¹ B with L the lower Cholesky factor from choleskyLower (two blocked triangular solves).
void choleskySolve(Eigen::Index n, const double* L, Eigen::Index ldl, Eigen::Index nrhs, double* B, Eigen::Index ldb);

// In-place inverse of the lower-triangular L (n × n, non-zero diagonal); the strict upper triangle is not read.
void invertLower(Eigen::Index n, double* L, Eigen::Index ldl);

// Asked between the steps of a long kernel whether to stop (a cancelled job). Plain data, no Eigen, no bq types,
// so every compiled copy can take it.
struct Interrupt {
    const void* context = nullptr;
    bool (*requested)(const void* context) = nullptr;
    bool operator()() const { return requested && requested(context); }
};

enum class EigenStatus : std::uint8_t { Converged, NotConverged, Interrupted };

// Eigenvalues (ascending) of the symmetric matrix whose lower triangle is A (n × n): Eigen's
// SelfAdjointEigenSolver, step for step (scaling, Householder tridiagonalization, implicit QL), with the
// tridiagonalization's O(n³) column loop polling `interrupt` every 16 columns (~20 s at n = 4096 otherwise
// uninterruptible). The values equal Eigen's bit for bit.
EigenStatus symmetricEigenvalues(Eigen::Index n, const double* A, Eigen::Index lda, double* eigenvalues,
                                 Interrupt interrupt = {});

// The GEMM and the rank-k update on one explicit, supported path (tests compare the paths with these).
void gemmOnPath(Path path, bool transA, bool transB, Eigen::Index m, Eigen::Index n, Eigen::Index k, double alpha,
                const double* A, Eigen::Index lda, const double* B, Eigen::Index ldb, double beta, double* C,
                Eigen::Index ldc);
void syrkLowerOnPath(Path path, Eigen::Index n, Eigen::Index k, float alpha, const float* A, Eigen::Index lda,
                     float beta, float* C, Eigen::Index ldc);

// ---- Eigen conveniences (plain dense matrices, any storage order) -------------------------------------------

// a · b (nothing aliased), and a · bᵀ, aᵀ · b.
Eigen::MatrixXd multiply(const Eigen::Ref<const Eigen::MatrixXd>& a, const Eigen::Ref<const Eigen::MatrixXd>& b);
Eigen::MatrixXd multiplyABt(const Eigen::Ref<const Eigen::MatrixXd>& a, const Eigen::Ref<const Eigen::MatrixXd>& b);
Eigen::MatrixXd multiplyAtB(const Eigen::Ref<const Eigen::MatrixXd>& a, const Eigen::Ref<const Eigen::MatrixXd>& b);

} // namespace bq::quant::dense
