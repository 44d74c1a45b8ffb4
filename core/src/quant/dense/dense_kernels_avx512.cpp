// AVX-512 copy of the dense kernels; Eigen renamed so these instances do not collide with baseline ones.
#define BQ_DENSE_VARIANT avx512
#define Eigen EigenAvx512
#include "dense_kernels_impl.inc"
