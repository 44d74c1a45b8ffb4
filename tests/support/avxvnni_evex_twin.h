// The AVX-VNNI level's kernels (core/src/runtime/kernels_q_avxvnni.cpp, kernels_superblock_avxvnni.cpp) compiled
// a second time in EVEX encoding under these names (avxvnni_*_evex_twin_avx512.cpp), for machines with AVX-512
// VL/VNNI but without AVX-VNNI: the same source and the same operations, so test_packed_kernels checks this
// level's code where the CPU cannot execute its VEX form. Call only when qPathSupported(QPath::Avx512).
#pragma once
#include "bq/runtime/kernels_q.h"

namespace bq::kernels::detail {
void packedMatmulRowsAvxVnniEvexTwin(DType type, const std::byte* W, std::size_t rowBytes,
                                     const QuantizedActivations& X, float* Y, std::size_t ldy, std::size_t rowBegin,
                                     std::size_t rowEnd);
void superBlockMatmulRowsAvxVnniEvexTwin(DType type, const std::byte* W, std::size_t rowBytes,
                                         const QuantizedActivations& X, float* Y, std::size_t ldy,
                                         std::size_t rowBegin, std::size_t rowEnd);
} // namespace bq::kernels::detail
