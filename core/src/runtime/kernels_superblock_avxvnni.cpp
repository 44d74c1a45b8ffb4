// AVX-VNNI super-block kernels (Q6_K, TQ2_0, TQ1_0; kernels_superblock.h): the shared 256-bit tiles of the AVX2
// path with VEX vpdpbusd / vpdpwssd as their dot products (one instruction each instead of two or three).
// BQ_AVXVNNI_EVEX_TWIN: see kernels_q_avxvnni.cpp (the tests' EVEX copy under another name).
#include "kernels_superblock.h"
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {
#ifdef BQ_AVXVNNI_EVEX_TWIN
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
inline __m256i dotI16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
#else
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
inline __m256i dotI16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }
#endif
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"
#include "kernels_superblock_ymm.inl"

namespace bq::kernels::detail {

#ifdef BQ_AVXVNNI_EVEX_TWIN
void superBlockMatmulRowsAvxVnniEvexTwin(
#else
void superBlockMatmulRowsAvxVnni(
#endif
    DType type, const std::byte* W, std::size_t rowBytes, const QuantizedActivations& X, float* Y, std::size_t ldy,
    std::size_t rowBegin, std::size_t rowEnd)
{
    // As the AVX2 path: GEMV one row at a time, prefill 2 rows × 2 tokens.
    superBlockRows<1, 2, 2>(type, W, rowBytes, X, Y, ldy, rowBegin, rowEnd);
}

} // namespace bq::kernels::detail
