// AVX2 + FMA copy of the dense kernels; Eigen renamed so these instances do not collide with baseline ones.
#define BQ_DENSE_VARIANT avx2
#define Eigen EigenAvx2
#include "dense_kernels_impl.inc"
