// AVX2 super-block kernels (Q6_K, TQ2_0, TQ1_0; kernels_superblock.h): the shared 256-bit tiles with
// vpmaddubsw + vpmaddwd dot products.
#include "kernels_superblock.h"
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {
// Pairs of u8·s8 products fit int16: u ≤ 3 (ternary digits) or ≤ 32 (|Q6_K weight|), |s| ≤ 127.
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
inline __m256i dotI16(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"
#include "kernels_superblock_ymm.inl"

namespace bq::kernels::detail {

void superBlockMatmulRowsAvx2(DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X,
                              float* Y, std::size_t ldy, std::size_t rowBegin, std::size_t rowEnd)
{
    // GEMV one row at a time (one sequential weight stream; see kernels_superblock_avx512.cpp), prefill 2 × 2.
    superBlockRows<1, 2, 2>(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd);
}

} // namespace bq::kernels::detail
