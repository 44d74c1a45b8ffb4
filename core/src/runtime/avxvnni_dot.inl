// The dot products of the AVX-VNNI level (kernels_q_avxvnni.cpp, kernels_superblock_avxvnni.cpp), for the shared
// 256-bit tiles: VEX vpdpbusd / vpdpwssd. BQ_AVXVNNI_EVEX_TWIN is defined only by the tests' second build of those
// files with the AVX-512 flags (tests/support/avxvnni_evex_twin.h): the same operations in EVEX encoding, so a CPU
// with AVX-512 VNNI but without AVX-VNNI (which faults on the VEX form) runs this level's code; BQ_AVXVNNI_NAME then
// renames the two entry points.
#pragma once
#include <immintrin.h>

namespace bq::kernels::detail {
namespace {
#ifdef BQ_AVXVNNI_EVEX_TWIN
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
inline __m256i dotI16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
#define BQ_AVXVNNI_NAME(name) name##EvexTwin
#else
inline __m256i dotU8S8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
inline __m256i dotI16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }
#define BQ_AVXVNNI_NAME(name) name
#endif
} // namespace
} // namespace bq::kernels::detail
