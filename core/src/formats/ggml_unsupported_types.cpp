#include "ggml_unsupported_types.h"

namespace bq::ggml {

const char* typeName(std::uint32_t id) noexcept
{
    // ggml.h enum ggml_type, by id.
    static const char* names[] = {"F32",  "F16",  "Q4_0", "Q4_1",   "Q4_2",  "Q4_3",    "Q5_0",   "Q5_1",
                                  "Q8_0", "Q8_1", "Q2_K", "Q3_K",   "Q4_K",  "Q5_K",    "Q6_K",   "Q8_K",
                                  "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
                                  "I8",   "I16",  "I32",  "I64",    "F64",   "IQ1_M",   "BF16",   "Q4_0_4_4",
                                  "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8",
                                  "IQ4_NL_8_8", "MXFP4", "NVFP4", "Q1_0", "Q2_0"};
    return id < sizeof(names) / sizeof(names[0]) ? names[id] : nullptr;
}

const char* unsupportedReason(std::uint32_t id) noexcept
{
    switch (id) {
    case 16: case 17: case 18: case 19: case 21: case 22: case 29: // IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ3_S, IQ2_S, IQ1_M
        return "it is a codebook type, whose weights are indices into ggml's lattice grids (tables of 256 to 2048 "
               "packed vectors, plus sign tables), which this build does not carry";
    case 39: case 40: // MXFP4, NVFP4
        return "it is a 4-bit floating-point microscaling type (e2m1 values with shared exponent scales), "
               "not implemented here";
    case 4: case 5: case 31: case 32: case 33: case 36: case 37: case 38:
        return "ggml no longer writes it (removed block layout or load-time repacking of Q4_0 / IQ4_NL)";
    case 9: // Q8_1
        return "it is ggml's internal dot-product operand, not a storage type for weights";
    default:
        return "no model weights use it and this build does not read it";
    }
}

} // namespace bq::ggml
