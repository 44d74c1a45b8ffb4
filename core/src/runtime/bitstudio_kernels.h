// Row kernels of the bitstudio PackedLinear (bitstudio_packed.cpp): scalar here, AVX2 in
// bitstudio_kernels_avx2.cpp (only called when the CPU has AVX2).
#pragma once
#include <cstdint>

namespace bq::kernels {

// One sign plane, one row: Σ_g scale[g]·Σ_{j∈g} mask_j·s_j·xs_j (+ mean[g]·Σ_{j∈g} mask_j·x_j when mean).
// signs/mask: packed bits of the row (mask null = all); group: columns per group (> 0).
struct PlaneRow {
    const std::uint8_t* signs;
    const std::uint8_t* mask;
    const float* scale;
    const float* mean;
};
float planeRowScalar(const PlaneRow& r, const float* xs, const float* x, int m, int group);
float planeRowAvx2(const PlaneRow& r, const float* xs, const float* x, int m, int group); // group % 8 == 0

// Codes, one row: Σ_g scale[g]·(Σ_{j∈g} q_j x_j − zero[g]·Σ_{j∈g} x_j).
float codeRowScalar(const std::uint8_t* q, const float* scale, const float* zero, const float* x, int m, int group);
float codeRowAvx2(const std::uint8_t* q, const float* scale, const float* zero, const float* x, int m, int group);

} // namespace bq::kernels
