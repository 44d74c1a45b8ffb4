// AVX-512 VNNI super-block kernels (Q6_K, TQ2_0, TQ1_0; kernels_superblock.h): the shared 256-bit tiles with
// the VNNI forms of the dot products (vpdpbusd for u8·s8, vpdpwssd for Q6_K's pairs × sub-block scales), and
// the 32 vector registers of AVX-512VL allowing 4 rows × 2 tokens in the prefill tiles.
#include "kernels_superblock.h"
#include <immintrin.h>

// GCC 12's AVX-512 headers build their don't-care operands from self-initialised variables (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bq::kernels::detail {
namespace {
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
inline __m256i dotI16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"
#include "kernels_superblock_ymm.inl"

namespace bq::kernels::detail {

void superBlockMatmulRowsAvx512(DType type, const std::byte* W, std::size_t rowBytes,
                                const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                                std::size_t rowEnd)
{
    superBlockRows<4, 4, 2>(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd);
}

} // namespace bq::kernels::detail
