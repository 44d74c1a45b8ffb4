#include "bq/util/cpu_features.h"
#include <cpuid.h>
#include <cstdlib>
#include <cstring>

namespace bq {

static std::uint64_t readXcr0()
{
    std::uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (std::uint64_t(edx) << 32) | eax;
}

static CpuFeatures detect()
{
    CpuFeatures f;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    const bool osxsave = (c >> 27) & 1u;
    const bool fma = (c >> 12) & 1u, f16c = (c >> 29) & 1u, avx = (c >> 28) & 1u;
    if (!osxsave || !avx)
        return f;
    const std::uint64_t xcr0 = readXcr0();
    const bool ymmOs = (xcr0 & 0x6u) == 0x6u;
    const bool zmmOs = (xcr0 & 0xe6u) == 0xe6u;
    if (!ymmOs)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = (b >> 5) & 1u;
    f.fma = fma;
    f.f16c = f16c;
    if (zmmOs) {
        f.avx512f = (b >> 16) & 1u;
        f.avx512bw = (b >> 30) & 1u;
        f.avx512vl = (b >> 31) & 1u;
        f.avx512vnni = (c >> 11) & 1u;
        f.avx512vpopcntdq = (c >> 14) & 1u;
    }
    __cpuid_count(7, 1, a, b, c, d);
    f.avxvnni = (a >> 4) & 1u;

    if (const char* cap = std::getenv("BQ_CPU")) {
        if (std::strcmp(cap, "scalar") == 0)
            f = CpuFeatures{};
        else if (std::strcmp(cap, "avx2") == 0 || std::strcmp(cap, "avxvnni") == 0) {
            f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512vpopcntdq = false;
            if (std::strcmp(cap, "avx2") == 0)
                f.avxvnni = false;
        }
    }
    return f;
}

const CpuFeatures& cpuFeatures()
{
    static const CpuFeatures features = detect();
    return features;
}

std::string CpuFeatures::summary() const
{
    std::string s;
    auto add = [&](bool on, const char* name) {
        if (on) {
            if (!s.empty())
                s += ' ';
            s += name;
        }
    };
    add(avx2, "AVX2");
    add(fma, "FMA");
    add(f16c, "F16C");
    add(avxvnni, "AVX-VNNI");
    add(avx512f, "AVX512F");
    add(avx512bw, "AVX512BW");
    add(avx512vl, "AVX512VL");
    add(avx512vnni, "AVX512VNNI");
    add(avx512vpopcntdq, "AVX512VPOPCNTDQ");
    return s.empty() ? "scalar" : s;
}

} // namespace bq
