// Baseline x86-64 copy of the dense kernels (Eigen under its own name: same flags as the rest of bq_core).
#define BQ_DENSE_VARIANT baseline
#include "dense_kernels_impl.inc"
