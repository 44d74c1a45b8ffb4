// The tensor-type table: its sizes against the GGUF spec (ggml's type traits), each reference quantizer and
// dequantizer against hand-computed blocks, and the block codecs.
#include "bq/model/tensor.h"
#include "bq/model/tensor_types.h"
#include "bq/util/fp16.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace bq;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values)
{
    std::vector<std::byte> out;
    for (int v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

std::vector<std::byte> quantize(DType type, const std::vector<float>& x)
{
    const TensorTypeTraits& t = tensorType(type);
    std::vector<std::byte> out(t.rowBytes(static_cast<std::int64_t>(x.size())));
    t.quantizeRow(x.data(), out.data(), static_cast<std::int64_t>(x.size()));
    return out;
}

std::vector<float> dequantize(DType type, const std::vector<std::byte>& b, std::size_t n)
{
    std::vector<float> out(n);
    tensorType(type).dequantizeRow(b.data(), out.data(), static_cast<std::int64_t>(n));
    return out;
}

} // namespace

TEST_CASE("tensor-type table matches the GGUF spec", "[tensor_types]")
{
    struct Spec {
        DType type;
        const char* name;
        std::uint32_t ggml;
        int blockSize, blockBytes;
        double bits;
        bool quantizer, scaledBlocks;
    };
    // ggml.h enum ggml_type and ggml.c type_traits (blck_size, type_size); Q1_0 as in llama.cpp's Q1_0 PR.
    const Spec specs[] = {
        {DType::F32, "F32", 0, 1, 4, 32.0, true, false},     {DType::F16, "F16", 1, 1, 2, 16.0, true, false},
        {DType::BF16, "BF16", 30, 1, 2, 16.0, true, false},  {DType::Q8_0, "Q8_0", 8, 32, 34, 8.5, true, true},
        {DType::Q4_0, "Q4_0", 2, 32, 18, 4.5, true, true},   {DType::Q1_0, "Q1_0", 41, 128, 18, 1.125, true, true},
        {DType::I8, "I8", 24, 1, 1, 8.0, false, false},      {DType::I32, "I32", 26, 1, 4, 32.0, false, false},
        // llama.cpp's types, read only: bits = 8 · block bytes / block size.
        {DType::Q4_1, "Q4_1", 3, 32, 20, 5.0, false, false},       {DType::Q5_0, "Q5_0", 6, 32, 22, 5.5, false, false},
        {DType::Q5_1, "Q5_1", 7, 32, 24, 6.0, false, false},       {DType::Q2_K, "Q2_K", 10, 256, 84, 2.625, false, false},
        {DType::Q3_K, "Q3_K", 11, 256, 110, 3.4375, false, false}, {DType::Q4_K, "Q4_K", 12, 256, 144, 4.5, false, false},
        {DType::Q5_K, "Q5_K", 13, 256, 176, 5.5, false, false},    {DType::Q6_K, "Q6_K", 14, 256, 210, 6.5625, false, false},
        {DType::Q8_K, "Q8_K", 15, 256, 292, 9.125, false, false},  {DType::IQ4_NL, "IQ4_NL", 20, 32, 18, 4.5, false, false},
        {DType::IQ4_XS, "IQ4_XS", 23, 256, 136, 4.25, false, false},
        {DType::TQ1_0, "TQ1_0", 34, 256, 54, 1.6875, false, false},
        {DType::TQ2_0, "TQ2_0", 35, 256, 66, 2.0625, false, false},
    };
    REQUIRE(tensorTypes().size() == std::size(specs));
    for (const Spec& s : specs) {
        INFO(s.name);
        const TensorTypeTraits& t = tensorType(s.type);
        CHECK(t.type == s.type);
        CHECK(std::string(t.name) == s.name);
        CHECK(std::string(dtypeName(s.type)) == s.name);
        CHECK(t.ggmlType == s.ggml);
        CHECK(t.blockSize == s.blockSize);
        CHECK(t.blockBytes == s.blockBytes);
        CHECK(t.bitsPerWeight() == s.bits);
        CHECK((t.quantizeRow != nullptr) == s.quantizer);
        CHECK(t.dequantizeRow != nullptr);
        CHECK(t.hasScaledBlocks() == s.scaledBlocks);
        CHECK(std::strlen(t.description) > 10);
        CHECK(tensorTypeFromGgml(s.ggml) == &t);
        CHECK(&tensorTypes()[static_cast<std::size_t>(s.type)] == &t);
    }
    CHECK(dtypeRowBytes(DType::Q1_0, 256) == 36);
    CHECK(dtypeRowBytes(DType::Q4_0, 64) == 36);
    CHECK(dtypeRowBytes(DType::Q8_0, 96) == 102);
    CHECK(dtypeRowBytes(DType::BF16, 5) == 10);
    // Valid ggml types this build does not read: Q8_1, IQ2_XXS, IQ3_S, IQ1_M, MXFP4; and no type at all.
    for (std::uint32_t id : {9u, 16u, 21u, 29u, 39u, 1000u})
        CHECK(tensorTypeFromGgml(id) == nullptr);
}

TEST_CASE("Q8_0 reference quantizer and dequantizer on a hand-computed block", "[tensor_types]")
{
    // amax 127 gives d = 1 (fp16 0x3c00); q = round(x / d), halves away from zero.
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;
    x[1] = -127.0f;
    x[2] = 0.5f;
    x[3] = -0.5f;
    x[4] = 2.4f;
    x[5] = -2.6f;
    x[31] = 100.0f;
    auto expect = bytes({0x00, 0x3c, 0x7f, 0x81, 0x01, 0xff, 0x02, 0xfd});
    expect.resize(34, std::byte{0});
    expect[33] = std::byte{100};
    const auto q = quantize(DType::Q8_0, x);
    CHECK(q == expect);
    const auto back = dequantize(DType::Q8_0, q, 32);
    const std::vector<float> values = {127, -127, 1, -1, 2, -3};
    for (std::size_t j = 0; j < values.size(); ++j)
        CHECK(back[j] == values[j]);
    CHECK(back[6] == 0.0f);
    CHECK(back[31] == 100.0f);

    // An all-zero block: d = 0, q = 0.
    CHECK(quantize(DType::Q8_0, std::vector<float>(32, 0.0f)) == std::vector<std::byte>(34, std::byte{0}));
}

TEST_CASE("Q4_0 reference quantizer and dequantizer on hand-computed blocks", "[tensor_types]")
{
    SECTION("largest magnitude negative: d = -8 / -8 = 1")
    {
        // nibble = min(15, (int8)(x / d + 8.5)); byte j = nibble j | nibble (j + 16) << 4.
        std::vector<float> x(32, 0.0f);
        x[0] = -8.0f;  // nibble 0
        x[1] = 7.0f;   // 15
        x[2] = 7.9f;   // 16, clamped to 15
        x[3] = 0.49f;  // 8
        x[4] = 0.5f;   // 9
        x[5] = -3.2f;  // 5
        x[16] = 1.0f;  // 9
        x[17] = -1.0f; // 7
        auto expect = bytes({0x00, 0x3c, 0x90, 0x7f, 0x8f, 0x88, 0x89, 0x85});
        expect.resize(18, std::byte{0x88});
        const auto q = quantize(DType::Q4_0, x);
        CHECK(q == expect);
        const auto back = dequantize(DType::Q4_0, q, 32);
        const std::vector<float> values = {-8, 7, 7, 0, 1, -3};
        for (std::size_t j = 0; j < values.size(); ++j)
            CHECK(back[j] == values[j]);
        CHECK(back[16] == 1.0f);
        CHECK(back[17] == -1.0f);
        CHECK(back[31] == 0.0f);
    }
    SECTION("largest magnitude positive: a negative scale d = 16 / -8 = -2")
    {
        std::vector<float> x(32, 0.0f);
        x[0] = 16.0f; // 16 / -2 + 8.5 = 0.5 -> nibble 0
        x[1] = -4.0f; // 10
        x[2] = 3.0f;  // 7 (decodes to 2)
        auto expect = bytes({0x00, 0xc0, 0x80, 0x8a, 0x87});
        expect.resize(18, std::byte{0x88});
        const auto q = quantize(DType::Q4_0, x);
        CHECK(q == expect);
        const auto back = dequantize(DType::Q4_0, q, 32);
        CHECK(back[0] == 16.0f);
        CHECK(back[1] == -4.0f);
        CHECK(back[2] == 2.0f);
        CHECK(back[3] == 0.0f);
    }
    SECTION("an all-zero block stores d = -0 (0 / -8), as ggml does")
    {
        auto expect = bytes({0x00, 0x80});
        expect.resize(18, std::byte{0x88});
        CHECK(quantize(DType::Q4_0, std::vector<float>(32, 0.0f)) == expect);
    }
}

TEST_CASE("Q1_0 reference quantizer and dequantizer on a hand-computed block", "[tensor_types]")
{
    // Magnitudes 0.5 and 1.5 alternate: mean |x| = 1 = d (fp16 0x3c00). Bit j % 8 of byte j / 8 is x_j >= 0.
    std::vector<float> x(128);
    for (int j = 0; j < 128; ++j) {
        bool positive;
        if (j < 8)
            positive = true; // byte 0xff
        else if (j < 16)
            positive = false; // 0x00
        else if (j < 24)
            positive = j == 16; // 0x01
        else if (j < 32)
            positive = j == 31; // 0x80
        else
            positive = j % 2 == 0; // 0x55
        x[static_cast<std::size_t>(j)] = (positive ? 1.0f : -1.0f) * (j % 2 ? 1.5f : 0.5f);
    }
    auto expect = bytes({0x00, 0x3c, 0xff, 0x00, 0x01, 0x80});
    expect.resize(18, std::byte{0x55});
    const auto q = quantize(DType::Q1_0, x);
    CHECK(q == expect);
    const auto back = dequantize(DType::Q1_0, q, 128);
    for (std::size_t j = 0; j < 128; ++j) {
        INFO("j = " << j);
        CHECK(back[j] == (x[j] >= 0.0f ? 1.0f : -1.0f));
    }

    // Zero counts as positive (ggml's bit = (w >= 0)); an all-zero block is d = 0 with every bit set.
    auto zero = bytes({0x00, 0x00});
    zero.resize(18, std::byte{0xff});
    CHECK(quantize(DType::Q1_0, std::vector<float>(128, 0.0f)) == zero);
}

TEST_CASE("plain types convert element by element", "[tensor_types]")
{
    const std::vector<float> x = {1.0f, -2.0f, 65504.0f, 1.0f + std::ldexp(1.0f, -11)};
    CHECK(quantize(DType::F16, x) == bytes({0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x00, 0x3c}));
    CHECK(quantize(DType::BF16, {1.0f, -2.0f}) == bytes({0x80, 0x3f, 0x00, 0xc0}));
    CHECK(dequantize(DType::F16, bytes({0x00, 0x3c, 0x00, 0xc0}), 2) == std::vector<float>{1.0f, -2.0f});
    CHECK(dequantize(DType::BF16, bytes({0x80, 0x3f, 0x49, 0x40}), 2) == std::vector<float>{1.0f, 3.140625f});
    const auto f32 = quantize(DType::F32, x);
    CHECK(dequantize(DType::F32, f32, x.size()) == x);
    CHECK(dequantize(DType::I8, bytes({0x80, 0x7f, 0xff, 0x00}), 4) == std::vector<float>{-128, 127, -1, 0});
    CHECK(dequantize(DType::I32, bytes({0xfe, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00}), 2) ==
          std::vector<float>{-2.0f, 65536.0f});
}

TEST_CASE("scaled block codecs round-trip every level they store", "[tensor_types]")
{
    std::mt19937 rng(7);
    struct Levels {
        DType type;
        int lo, hi;
    };
    for (const Levels& l : {Levels{DType::Q8_0, -128, 127}, Levels{DType::Q4_0, -8, 7}, Levels{DType::Q1_0, -1, 1}}) {
        const TensorTypeTraits& t = tensorType(l.type);
        INFO(t.name);
        std::uniform_int_distribution<int> level(l.lo, l.hi);
        for (int trial = 0; trial < 20; ++trial) {
            std::vector<std::int8_t> q(static_cast<std::size_t>(t.blockSize));
            for (auto& v : q) {
                v = static_cast<std::int8_t>(level(rng));
                if (l.type == DType::Q1_0 && v == 0)
                    v = 1; // Q1_0 has no zero level
            }
            const std::uint16_t d = static_cast<std::uint16_t>(0x3000 + trial);
            std::vector<std::byte> block(static_cast<std::size_t>(t.blockBytes));
            t.encodeBlock(d, q.data(), block.data());
            std::vector<std::int8_t> back(q.size());
            CHECK(t.decodeBlock(block.data(), back.data()) == d);
            CHECK(back == q);
            // The dequantizer agrees with the codec: w_j = d · q_j.
            const auto w = dequantize(l.type, block, q.size());
            for (std::size_t j = 0; j < q.size(); ++j)
                REQUIRE(w[j] == halfToFloat(d) * float(q[j]));
        }
    }
}

TEST_CASE("Tensor::rowToFloat dequantizes one row through the table", "[tensor_types]")
{
    // Two Q4_0 rows of 32: row 0 all 0x88 (zeros) with d = 1, row 1 nibble 15 everywhere with d = 0.5.
    std::vector<std::byte> b(36);
    const auto one = bytes({0x00, 0x3c}), half = bytes({0x00, 0x38});
    std::copy(one.begin(), one.end(), b.begin());
    std::fill(b.begin() + 2, b.begin() + 18, std::byte{0x88});
    std::copy(half.begin(), half.end(), b.begin() + 18);
    std::fill(b.begin() + 20, b.end(), std::byte{0xff});
    const Tensor t = makeOwnedTensor("w", DType::Q4_0, {2, 32}, b);
    std::vector<float> row(32);
    t.rowToFloat(1, row.data());
    CHECK(row == std::vector<float>(32, 3.5f));
    t.rowToFloat(0, row.data());
    CHECK(row == std::vector<float>(32, 0.0f));
}
