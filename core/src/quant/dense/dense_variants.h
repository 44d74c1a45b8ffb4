// The three compiled copies of the dense kernels (dense_kernels_impl.inc), declared without any Eigen type so
// the dispatcher can name all of them. One namespace per instruction set.
#pragma once
#include <cstddef>

#define BQ_DENSE_DECLARE_VARIANT(ns)                                                                              \
    namespace bq::quant::dense::ns {                                                                             \
    void gemm(bool ta, bool tb, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, double alpha,                \
              const double* A, std::ptrdiff_t lda, const double* B, std::ptrdiff_t ldb, double beta, double* C,    \
              std::ptrdiff_t ldc);                                                                               \
    void gemm(bool ta, bool tb, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k, float alpha,                 \
              const float* A, std::ptrdiff_t lda, const float* B, std::ptrdiff_t ldb, float beta, float* C,        \
              std::ptrdiff_t ldc);                                                                               \
    void syrkLower(std::ptrdiff_t n, std::ptrdiff_t k, float alpha, const float* A, std::ptrdiff_t lda,           \
                   float beta, float* C, std::ptrdiff_t ldc);                                                    \
    void syrkLower(std::ptrdiff_t n, std::ptrdiff_t k, double alpha, const double* A, std::ptrdiff_t lda,         \
                   double beta, double* C, std::ptrdiff_t ldc);                                                  \
    bool choleskyLower(std::ptrdiff_t n, double* A, std::ptrdiff_t lda);                                         \
    void choleskySolve(std::ptrdiff_t n, const double* L, std::ptrdiff_t ldl, std::ptrdiff_t nrhs, double* B,    \
                       std::ptrdiff_t ldb);                                                                      \
    void invertLower(std::ptrdiff_t n, double* L, std::ptrdiff_t ldl);                                           \
    int symmetricEigenvalues(std::ptrdiff_t n, const double* A, std::ptrdiff_t lda, double* eigenvalues,         \
                             const void* interruptContext, bool (*interrupted)(const void*));                    \
    }

BQ_DENSE_DECLARE_VARIANT(baseline)
BQ_DENSE_DECLARE_VARIANT(avx2)
BQ_DENSE_DECLARE_VARIANT(avx512)
