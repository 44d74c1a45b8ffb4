// AVX-VNNI super-block kernels (Q6_K, TQ2_0, TQ1_0; kernels_superblock.h): the shared 256-bit tiles of the AVX2
// path with VEX vpdpbusd / vpdpwssd as their dot products (avxvnni_dot.inl; one instruction each instead of two
// or three).
#include "kernels_superblock.h"
#include "avxvnni_dot.inl"
#include "kernels_q_ymm.inl"
#include "kernels_superblock_ymm.inl"

namespace bq::kernels::detail {

void BQ_AVXVNNI_NAME(superBlockMatmulRowsAvxVnni)(DType type, const std::byte* W, std::size_t rowBytes,
                                                  const QuantizedActivations& X, float* Y, std::size_t ldy,
                                                  std::size_t rowBegin, std::size_t rowEnd)
{
    // As the AVX2 path: GEMV one row at a time, prefill 2 rows × 2 tokens.
    superBlockRows<1, 2, 2>(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd);
}

} // namespace bq::kernels::detail
