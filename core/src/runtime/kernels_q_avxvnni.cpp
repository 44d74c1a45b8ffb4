// AVX-VNNI packed kernels (QPath::AvxVnni: AVX2 + 256-bit VEX vpdpbusd, on Alder Lake and later Intel client CPUs
// and Zen 5). Q4_0 / Q8_0 run the shared kernels of kernels_q_blocks.inl with vpdpbusd as the dot product: the
// same source and instruction sequence the AVX-512 path runs for these types (there in EVEX encoding), one
// instruction where AVX2 needs vpmaddubsw + vpmaddwd + vpaddd. Q1_0 and the activation quantization stay on the
// AVX2 kernels (kernels_q.cpp dispatches): the Q1_0 LUT kernel does no multiplications.
#include "bq/runtime/kernels_q.h"
#include "avxvnni_dot.inl"

namespace bq::kernels::detail {
namespace {
constexpr bool kVnni = true;
} // namespace
} // namespace bq::kernels::detail

#include "kernels_q_ymm.inl"
#include "kernels_q_blocks.inl"

namespace bq::kernels::detail {

void BQ_AVXVNNI_NAME(packedMatmulRowsAvxVnni)(DType type, const std::byte* W, std::size_t rowBytes,
                                              const QuantizedActivations& X, float* Y, std::size_t ldy,
                                              std::size_t rowBegin, std::size_t rowEnd)
{
    switch (type) {
    case DType::Q4_0: blockMatmulRows<DType::Q4_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    case DType::Q8_0: blockMatmulRows<DType::Q8_0>(W, rowBytes, X, Y, ldy, rowBegin, rowEnd); return;
    default: return;
    }
}

} // namespace bq::kernels::detail
