// Run-time choice among the three compiled copies of the dense kernels.
#include "bq/quant/dense/dense_kernels.h"
#include "bq/util/cpu_features.h"
#include "dense_variants.h"

namespace bq::quant::dense {

namespace {

Path detect() noexcept
{
    if (pathSupported(Path::Avx512))
        return Path::Avx512;
    if (pathSupported(Path::Avx2))
        return Path::Avx2;
    return Path::Baseline;
}

} // namespace

bool pathSupported(Path path) noexcept
{
    const CpuFeatures& f = cpuFeatures();
    switch (path) {
    case Path::Baseline: return true;
    case Path::Avx2: return f.avx2 && f.fma;
    case Path::Avx512: return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512vl;
    }
    return false;
}

Path bestPath() noexcept
{
    static const Path path = detect();
    return path;
}

const char* pathName(Path path) noexcept
{
    switch (path) {
    case Path::Baseline: return "baseline";
    case Path::Avx2: return "avx2";
    case Path::Avx512: return "avx512";
    }
    return "?";
}

#define BQ_DENSE_DISPATCH_ON(path, call)                                                                            \
    switch (path) {                                                                                          \
    case Path::Avx512: return avx512::call;                                                                        \
    case Path::Avx2: return avx2::call;                                                                            \
    case Path::Baseline: break;                                                                                    \
    }                                                                                                              \
    return baseline::call
#define BQ_DENSE_DISPATCH(call) BQ_DENSE_DISPATCH_ON(bestPath(), call)

void gemmOnPath(Path path, bool transA, bool transB, Eigen::Index m, Eigen::Index n, Eigen::Index k, double alpha,
                const double* A, Eigen::Index lda, const double* B, Eigen::Index ldb, double beta, double* C,
                Eigen::Index ldc)
{
    BQ_DENSE_DISPATCH_ON(path, gemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}

void syrkLowerOnPath(Path path, Eigen::Index n, Eigen::Index k, float alpha, const float* A, Eigen::Index lda,
                     float beta, float* C, Eigen::Index ldc)
{
    BQ_DENSE_DISPATCH_ON(path, syrkLower(n, k, alpha, A, lda, beta, C, ldc));
}

void gemm(bool transA, bool transB, Eigen::Index m, Eigen::Index n, Eigen::Index k, double alpha, const double* A,
          Eigen::Index lda, const double* B, Eigen::Index ldb, double beta, double* C, Eigen::Index ldc)
{
    BQ_DENSE_DISPATCH(gemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}

void gemm(bool transA, bool transB, Eigen::Index m, Eigen::Index n, Eigen::Index k, float alpha, const float* A,
          Eigen::Index lda, const float* B, Eigen::Index ldb, float beta, float* C, Eigen::Index ldc)
{
    BQ_DENSE_DISPATCH(gemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}

void syrkLower(Eigen::Index n, Eigen::Index k, float alpha, const float* A, Eigen::Index lda, float beta, float* C,
               Eigen::Index ldc)
{
    BQ_DENSE_DISPATCH(syrkLower(n, k, alpha, A, lda, beta, C, ldc));
}

void syrkLower(Eigen::Index n, Eigen::Index k, double alpha, const double* A, Eigen::Index lda, double beta,
               double* C, Eigen::Index ldc)
{
    BQ_DENSE_DISPATCH(syrkLower(n, k, alpha, A, lda, beta, C, ldc));
}

bool choleskyLower(Eigen::Index n, double* A, Eigen::Index lda)
{
    BQ_DENSE_DISPATCH(choleskyLower(n, A, lda));
}

void choleskySolve(Eigen::Index n, const double* L, Eigen::Index ldl, Eigen::Index nrhs, double* B, Eigen::Index ldb)
{
    BQ_DENSE_DISPATCH(choleskySolve(n, L, ldl, nrhs, B, ldb));
}

void invertLower(Eigen::Index n, double* L, Eigen::Index ldl)
{
    BQ_DENSE_DISPATCH(invertLower(n, L, ldl));
}

EigenStatus symmetricEigenvalues(Eigen::Index n, const double* A, Eigen::Index lda, double* eigenvalues,
                                 Interrupt interrupt)
{
    const auto status = [&]() -> int {
        BQ_DENSE_DISPATCH(symmetricEigenvalues(n, A, lda, eigenvalues, interrupt.context, interrupt.requested));
    }();
    return static_cast<EigenStatus>(status);
}

#undef BQ_DENSE_DISPATCH
#undef BQ_DENSE_DISPATCH_ON

Eigen::MatrixXd multiply(const Eigen::Ref<const Eigen::MatrixXd>& a, const Eigen::Ref<const Eigen::MatrixXd>& b)
{
    Eigen::MatrixXd c(a.rows(), b.cols());
    gemm(false, false, a.rows(), b.cols(), a.cols(), 1.0, a.data(), a.outerStride(), b.data(), b.outerStride(), 0.0,
         c.data(), c.rows());
    return c;
}

Eigen::MatrixXd multiplyABt(const Eigen::Ref<const Eigen::MatrixXd>& a, const Eigen::Ref<const Eigen::MatrixXd>& b)
{
    Eigen::MatrixXd c(a.rows(), b.rows());
    gemm(false, true, a.rows(), b.rows(), a.cols(), 1.0, a.data(), a.outerStride(), b.data(), b.outerStride(), 0.0,
         c.data(), c.rows());
    return c;
}

Eigen::MatrixXd multiplyAtB(const Eigen::Ref<const Eigen::MatrixXd>& a, const Eigen::Ref<const Eigen::MatrixXd>& b)
{
    Eigen::MatrixXd c(a.cols(), b.cols());
    gemm(true, false, a.cols(), b.cols(), a.rows(), 1.0, a.data(), a.outerStride(), b.data(), b.outerStride(), 0.0,
         c.data(), c.rows());
    return c;
}

} // namespace bq::quant::dense
