// CPU feature detection (CPUID + OS support for the register state), for run-time kernel choice.
#pragma once
#include <string>

namespace bq {

struct CpuFeatures {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512vpopcntdq = false;
    bool avxvnni = false;
    std::string summary() const; // e.g. "AVX2 FMA F16C AVX512F AVX512BW AVX512VNNI"
};

// Detected once; BQ_CPU=scalar|avx2|avxvnni|avx512 in the environment caps it (for tests and benchmarks): avx2
// drops AVX-VNNI and AVX-512, avxvnni drops AVX-512 only.
const CpuFeatures& cpuFeatures();

} // namespace bq
