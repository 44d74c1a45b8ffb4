// The reference dequantizers of llama.cpp's block types, each on a hand-built block whose expected weights are
// worked out here from the format definition (ggml-common.h block structs, ggml-quants.c dequantize_row_*).
// tests/tools/check_gguf_types.py compares the same decoders with gguf-py on random blocks, bit for bit.
#include "bq/model/tensor_types.h"
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace bq;

namespace {

// fp16 bit patterns of the scales used below.
constexpr std::uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400, kHalfMinusOne = 0xbc00;

struct Block {
    std::vector<std::byte> bytes;
    explicit Block(DType type) : bytes(static_cast<std::size_t>(tensorType(type).blockBytes), std::byte{0}) {}
    void set(int offset, int value) { bytes.at(static_cast<std::size_t>(offset)) = static_cast<std::byte>(value); }
    void setHalf(int offset, std::uint16_t bits)
    {
        set(offset, bits & 0xff);
        set(offset + 1, bits >> 8);
    }
};

std::vector<float> decode(DType type, const Block& b)
{
    const TensorTypeTraits& t = tensorType(type);
    REQUIRE(static_cast<int>(b.bytes.size()) == t.blockBytes);
    std::vector<float> w(static_cast<std::size_t>(t.blockSize));
    t.dequantizeRow(b.bytes.data(), w.data(), t.blockSize);
    return w;
}

} // namespace

TEST_CASE("Q4_1: w = d·q + m, element j low nibble, j + 16 high", "[tensor_types][llamacpp]")
{
    Block b(DType::Q4_1);
    b.setHalf(0, kHalfHalf);     // d = 0.5
    b.setHalf(2, kHalfMinusOne); // m = −1
    b.set(4, 0x3a);              // w0: q 10, w16: q 3
    b.set(4 + 15, 0xf0);         // w15: q 0, w31: q 15
    const auto w = decode(DType::Q4_1, b);
    CHECK(w[0] == 4.0f);
    CHECK(w[16] == 0.5f);
    CHECK(w[15] == -1.0f);
    CHECK(w[31] == 6.5f);
    CHECK(w[1] == -1.0f);
}

TEST_CASE("Q5_0: w = d·(q − 16), the fifth bits in a 32-bit mask", "[tensor_types][llamacpp]")
{
    Block b(DType::Q5_0);
    b.setHalf(0, kHalfHalf);
    b.set(2, 0x01); // qh bit 0: fifth bit of w0
    b.set(4, 0x02); // qh bit 17: fifth bit of w17
    b.set(6, 0x21); // w0: 1 | 16 = 17, w16: 2
    b.set(7, 0xf3); // w1: 3, w17: 15 | 16 = 31
    const auto w = decode(DType::Q5_0, b);
    CHECK(w[0] == 0.5f);
    CHECK(w[16] == -7.0f);
    CHECK(w[1] == -6.5f);
    CHECK(w[17] == 7.5f);
    CHECK(w[2] == -8.0f);
}

TEST_CASE("Q5_1: w = d·q + m", "[tensor_types][llamacpp]")
{
    Block b(DType::Q5_1);
    b.setHalf(0, kHalfHalf);
    b.setHalf(2, kHalfOne);
    b.set(7, 0x80);      // qh bit 31: fifth bit of w31
    b.set(8 + 15, 0x4c); // w15: 12, w31: 4 | 16 = 20
    const auto w = decode(DType::Q5_1, b);
    CHECK(w[15] == 7.0f);
    CHECK(w[31] == 11.0f);
    CHECK(w[0] == 1.0f);
}

TEST_CASE("Q8_K: w = d·q with an fp32 d; the block sums do not enter", "[tensor_types][llamacpp]")
{
    Block b(DType::Q8_K);
    const float d = 0.25f;
    std::memcpy(b.bytes.data(), &d, 4);
    b.set(4, 0x80);       // q0 = −128
    b.set(4 + 255, 0x7f); // q255 = 127
    for (int i = 260; i < 292; ++i)
        b.set(i, 0xff);   // bsums, not weights
    const auto w = decode(DType::Q8_K, b);
    CHECK(w[0] == -32.0f);
    CHECK(w[255] == 31.75f);
    CHECK(w[1] == 0.0f);
}

TEST_CASE("Q2_K: w = d·scale·q − dmin·min per 16 weights", "[tensor_types][llamacpp]")
{
    // Weight 128h + 32k + 16p + l is bit pair k of qs[32h + 16p + l], with scales[8h + 2k + p].
    Block b(DType::Q2_K);
    b.setHalf(80, kHalfHalf);    // d = 0.5
    b.setHalf(82, kHalfQuarter); // dmin = 0.25
    b.set(0, 0x23);              // scales[0]: scale 3, min 2
    b.set(16 + 0, 0x03);         // w0: q 3
    b.set(15, 0xf1);             // scales[15] (h 1, k 3, p 1 → w240..255): scale 1, min 15
    b.set(16 + 63, 0xc0);        // w255: bits 6-7 of qs[63] = 3
    b.set(5, 0x04);              // scales[5] (h 0, k 2, p 1 → w80..95): scale 4, min 0
    b.set(16 + 20, 0x20);        // w84: bits 4-5 of qs[20] = 2
    const auto w = decode(DType::Q2_K, b);
    CHECK(w[0] == 4.0f);   // 0.5·3·3 − 0.25·2
    CHECK(w[1] == -0.5f);  // q 0
    CHECK(w[255] == -2.25f); // 0.5·1·3 − 0.25·15
    CHECK(w[240] == -3.75f);
    CHECK(w[84] == 4.0f);  // 0.5·4·2
    CHECK(w[20] == 0.0f);  // bits 0-1 of qs[20], scales[1] = 0
}

TEST_CASE("Q3_K: w = d·(scale − 32)·(q − 4·(hmask bit clear))", "[tensor_types][llamacpp]")
{
    // Weight 128h + 32k + l (l < 32): bit pair k of qs[32h + l], hmask[l] bit 4h + k, scale 8h + 2k + l / 16.
    // Scale i: low nibble from scales[i] (i < 8) or scales[i − 8] >> 4, top bit pair from scales[8 + i % 4]
    // at bits 2·(i / 4).
    Block b(DType::Q3_K);
    for (int l = 0; l < 32; ++l)
        b.set(l, 0xff);     // every hmask bit set: no −4
    b.set(1, 0xfe);         // w1: hmask bit 0 clear → q = 0 − 4
    b.set(32 + 0, 0x03);    // w0: q 3
    b.set(32 + 32 + 18, 0x10); // w210 (h 1, k 2, l 18): bits 4-5 = 1
    b.set(96 + 0, 0x01);    // scale 0 low nibble 1
    b.set(96 + 8, 0x02);    // scale 0 top bits 2 → 1 | 32 = 33 → 1
    b.set(96 + 5, 0x70);    // scale 13 low nibble 7, top bits (scales[9] >> 6) 0 → 7 − 32 = −25
    b.setHalf(108, kHalfHalf);
    const auto w = decode(DType::Q3_K, b);
    CHECK(w[0] == 1.5f);    // 0.5·1·3
    CHECK(w[1] == -2.0f);   // 0.5·1·(−4)
    CHECK(w[210] == -12.5f); // 0.5·(−25)·1
    CHECK(w[2] == 0.0f);
}

namespace {

// Q4_K and Q5_K share the scales: sub-block 0 scale 5, min 2; sub-block 7 scale 1 | 1 << 4 = 17, min 3 | 2 << 4 = 35.
void setKScales(Block& b)
{
    b.set(4 + 0, 0x05);
    b.set(4 + 4, 0x02);
    b.set(4 + 11, 0x31);
    b.set(4 + 3, 0x40);
    b.set(4 + 7, 0x80);
}

} // namespace

TEST_CASE("Q4_K: w = d·scale·q − dmin·min per 32 weights, 6-bit packed scales", "[tensor_types][llamacpp]")
{
    Block b(DType::Q4_K);
    b.setHalf(0, kHalfHalf); // d = 0.5
    b.setHalf(2, kHalfOne);  // dmin = 1
    setKScales(b);
    b.set(16 + 0, 0x03);     // w0: q 3
    b.set(16 + 127, 0xf0);   // w255 (high nibble of the last byte): q 15; w223: q 0
    const auto w = decode(DType::Q4_K, b);
    CHECK(w[0] == 5.5f);    // 0.5·5·3 − 2
    CHECK(w[1] == -2.0f);
    CHECK(w[255] == 92.5f); // 0.5·17·15 − 35
    CHECK(w[224] == -35.0f);
    CHECK(w[223] == 0.0f);  // sub-block 6: scale 0, min 0
}

TEST_CASE("Q5_K: Q4_K with a fifth bit per weight", "[tensor_types][llamacpp]")
{
    Block b(DType::Q5_K);
    b.setHalf(0, kHalfHalf);
    b.setHalf(2, kHalfOne);
    setKScales(b);
    b.set(16 + 0, 0x01);   // qh[0] bit 0: fifth bit of w0
    b.set(16 + 31, 0x80);  // qh[31] bit 7: fifth bit of w255
    b.set(48 + 0, 0x03);
    b.set(48 + 127, 0xf0);
    const auto w = decode(DType::Q5_K, b);
    CHECK(w[0] == 45.5f);    // 0.5·5·19 − 2
    CHECK(w[255] == 228.5f); // 0.5·17·31 − 35
    CHECK(w[1] == -2.0f);
}

TEST_CASE("Q6_K: w = d·scale·(q − 32), low nibbles and high bit pairs interleaved", "[tensor_types][llamacpp]")
{
    Block b(DType::Q6_K);
    b.set(0, 0xf1);           // ql[0]: w0 low 1, w64 low 15
    b.set(128 + 0, 0x32);     // qh[0]: w0 high 2, w64 high 3 (bits 4-5)
    b.set(192 + 0, 2);        // scale of w0..15
    b.set(192 + 4, 0xfd);     // scale −3 of w64..79
    b.set(192 + 15, 127);     // scale of w240..255
    b.setHalf(208, kHalfHalf);
    const auto w = decode(DType::Q6_K, b);
    CHECK(w[0] == 1.0f);      // 0.5·2·(33 − 32)
    CHECK(w[64] == -46.5f);   // 0.5·(−3)·(63 − 32)
    CHECK(w[255] == -2032.0f); // 0.5·127·(0 − 32)
    CHECK(w[1] == -32.0f);    // 0.5·2·(0 − 32)
}

TEST_CASE("IQ4_NL: w = d·grid[code]", "[tensor_types][llamacpp]")
{
    Block b(DType::IQ4_NL);
    b.setHalf(0, kHalfHalf);
    b.set(2 + 0, 0xf0);  // w0: code 0 (−127), w16: code 15 (113)
    b.set(2 + 15, 0x78); // w15: code 8 (1), w31: code 7 (−10)
    const auto w = decode(DType::IQ4_NL, b);
    CHECK(w[0] == -63.5f);
    CHECK(w[16] == 56.5f);
    CHECK(w[15] == 0.5f);
    CHECK(w[31] == -5.0f);
}

TEST_CASE("IQ4_XS: w = d·(scale − 32)·grid[code] per 32 weights", "[tensor_types][llamacpp]")
{
    Block b(DType::IQ4_XS);
    b.setHalf(0, kHalfHalf);
    b.set(2, 0x02);         // scales_h: sub-block 0 top bits 2, the rest 0
    b.set(4, 0x03);         // scales_l: sub-block 0 low nibble 3 → 35 − 32 = 3; sub-block 1: 0 − 32
    b.set(8 + 0, 0xf0);     // w0: code 0, w16: code 15
    b.set(8 + 127, 0x89);   // w239: code 9 (13), w255: code 8 (1); sub-block 7 scale −32
    const auto w = decode(DType::IQ4_XS, b);
    CHECK(w[0] == -190.5f); // 1.5·(−127)
    CHECK(w[16] == 169.5f); // 1.5·113
    CHECK(w[239] == -208.0f); // −16·13
    CHECK(w[255] == -16.0f);
    CHECK(w[32] == 2032.0f); // −16·(−127)
}

TEST_CASE("TQ2_0: 2-bit codes c, w = d·(c − 1)", "[tensor_types][llamacpp]")
{
    // Weight 128h + 32k + m is bit pair k of qs[32h + m].
    Block b(DType::TQ2_0);
    b.set(0, 0x18);  // codes 0, 2, 1, 0 for w0, w32, w64, w96
    b.set(63, 0xc6); // codes 2, 1, 0, 3 for w159, w191, w223, w255
    b.setHalf(64, kHalfHalf);
    const auto w = decode(DType::TQ2_0, b);
    CHECK(w[0] == -0.5f);
    CHECK(w[32] == 0.5f);
    CHECK(w[64] == 0.0f);
    CHECK(w[96] == -0.5f);
    CHECK(w[159] == 0.5f);
    CHECK(w[191] == 0.0f);
    CHECK(w[223] == -0.5f);
    CHECK(w[255] == 1.0f); // code 3 (never written by ggml) decodes to 2d
}

TEST_CASE("TQ1_0: five base-3 digits a byte, stored as ceil(t·256/243)", "[tensor_types][llamacpp]")
{
    // Digit n of a byte (the coefficient 3^(4 − n) of t) is weight 32n + m of qs[m] (m < 32), 160 + 16n + m of
    // qs[32 + m], and 240 + 4n + m of qh[m] (four digits, coefficients 81, 27, 9, 3). w = d·(digit − 1).
    Block b(DType::TQ1_0);
    b.set(0, 187);       // digits 2, 0, 1, 2, 0: t = 162 + 9 + 6 = 177, ceil(177·256/243) = 187
    b.set(47, 255);      // digits 2, 2, 2, 2, 2: t = 242, ceil(242·256/243) = 255
    b.set(48, 67);       // digits 0, 2, 1, 0: t = 54 + 9 = 63, ceil(63·256/243) = 67
    b.setHalf(52, kHalfHalf);
    const auto w = decode(DType::TQ1_0, b);
    const float first[5] = {0.5f, -0.5f, 0.0f, 0.5f, -0.5f};
    for (int n = 0; n < 5; ++n) {
        CHECK(w[static_cast<std::size_t>(32 * n)] == first[n]);
        CHECK(w[static_cast<std::size_t>(160 + 16 * n + 15)] == 0.5f);
    }
    const float high[4] = {-0.5f, 0.5f, 0.0f, -0.5f};
    for (int n = 0; n < 4; ++n)
        CHECK(w[static_cast<std::size_t>(240 + 4 * n)] == high[n]);
    CHECK(w[1] == -0.5f); // byte 0: every digit 0
}

TEST_CASE("MXFP4: w = e2m1(code)·2^(e − 127)", "[tensor_types][llamacpp]")
{
    Block b(DType::MXFP4);
    b.set(0, 128);        // e = 128: scale 2
    b.set(1 + 0, 0xf7);   // w0: code 7 (6), w16: code 15 (−6)
    b.set(1 + 15, 0x19);  // w15: code 9 (−0.5), w31: code 1 (0.5)
    const auto w = decode(DType::MXFP4, b);
    CHECK(w[0] == 12.0f);
    CHECK(w[16] == -12.0f);
    CHECK(w[15] == -1.0f);
    CHECK(w[31] == 1.0f);
    CHECK(w[1] == 0.0f);

    b.set(0, 0);          // e = 0: 2^−127 (subnormal): w0 = 6 · 2^−127
    CHECK(decode(DType::MXFP4, b)[0] == 6.0f * 0x1p-127f);
}

TEST_CASE("NVFP4: w = e4m3(d_s)·e2m1(code) per 16 weights", "[tensor_types][llamacpp]")
{
    // Sub-block s: scale byte s, codes in qs[8s..8s+7] (low nibbles weights 16s..16s+7, high 16s+8..16s+15).
    Block b(DType::NVFP4);
    b.set(0, 0x38);           // exponent 7, mantissa 0: 1.0
    b.set(1, 0x44);           // exponent 8, mantissa 4: 1.5 · 2 = 3.0
    b.set(2, 0x03);           // subnormal: 3 · 2^−9
    b.set(3, 0x7f);           // the NaN code: 0
    b.set(4 + 0, 0xc7);       // w0: code 7 (6), w8: code 12 (−2)
    b.set(4 + 8 + 7, 0x2b);   // w23: code 11 (−1.5), w31: code 2 (1)
    b.set(4 + 16, 0x07);      // w32: 6
    b.set(4 + 24, 0x07);      // w48: 6 · 0 = 0
    const auto w = decode(DType::NVFP4, b);
    CHECK(w[0] == 6.0f);
    CHECK(w[8] == -2.0f);
    CHECK(w[23] == -4.5f);
    CHECK(w[31] == 3.0f);
    CHECK(w[32] == 6.0f * 3.0f * 0x1p-9f);
    CHECK(w[48] == 0.0f);
    CHECK(w[1] == 0.0f);
}
