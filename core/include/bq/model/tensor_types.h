// The tensor-type table (the shape of ggml's type traits): one entry per DType holds its name, its ggml type
// id, the block geometry, a sentence describing the encoding, and the scalar reference codecs. Every block
// layout is written in tensor_types.cpp (our own and the packed-runtime types) or tensor_types_llamacpp.cpp
// (llama.cpp's other CPU types, read only) and nowhere else; the SIMD kernels (runtime/*_avx2.cpp,
// *_avx512.cpp) are layout specialists checked against these references by test_packed_kernels.
//
// Byte layouts (little-endian; d is an IEEE binary16 scale, "×32" a block of 32 weights along a row):
//   F32, F16, BF16, I8, I32  one element per block, stored as is
//   Q8_0 (ggml 8)   ×32:  d, int8 q[32]                                                  w_j = d · q_j
//   Q4_0 (ggml 2)   ×32:  d, uint8 qs[16]; byte j holds element j in its low nibble and element j + 16
//                         in its high nibble                                             w_j = d · (nibble_j − 8)
//   Q1_0 (ggml 41)  ×128: d, uint8 qs[16]; element j is bit j % 8 of byte j / 8          w_j = bit_j ? d : −d
//
// llama.cpp's Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4: their layouts are described next
// to their decoders in tensor_types_llamacpp.cpp, which follow ggml's dequantize_row_* operation for operation
// (bit-identical; tests/tools/check_gguf_types.py checks against gguf-py). They have no quantizer here.
//
// Adding a type: a DType value, a row in the table of tensor_types.cpp and its reference functions; a type
// whose blocks are one fp16 scale times small integers also gives its block codec, which the integer kernels
// and the exact exporters use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace bq {

// The values index the table in tensor_types.cpp (same order).
enum class DType : std::uint8_t {
    F32, F16, BF16, Q8_0, Q4_0, Q1_0, I8, I32,
    // llama.cpp's other CPU types: read (decoded by the reference dequantizers), never written.
    Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4
};

struct TensorTypeTraits {
    // n weights of a row (a multiple of blockSize) from / to their packed bytes.
    using DequantizeRow = void (*)(const std::byte* src, float* dst, std::int64_t n);
    using QuantizeRow = void (*)(const float* src, std::byte* dst, std::int64_t n);
    // Blocks of one fp16 scale times integers, w_j = halfToFloat(d) · q_j (blockSize q's per block). encode
    // stores q_j as the type can (Q1_0: q_j >= 0 as +1, else −1; Q4_0: −8..7; Q8_0: −128..127); decode
    // returns d's bits and fills q.
    using EncodeBlock = void (*)(std::uint16_t d, const std::int8_t* q, std::byte* block);
    using DecodeBlock = std::uint16_t (*)(const std::byte* block, std::int8_t* q);

    DType type;
    const char* name;         // ggml's name, e.g. "Q1_0"
    std::uint32_t ggmlType;   // ggml_type id, as stored in GGUF tensor infos
    int blockSize;            // elements per block (1 for plain types)
    int blockBytes;           // bytes per block
    const char* description;  // one sentence (UTF-8) on the encoding, for tooltips and `info`
    DequantizeRow dequantizeRow;
    QuantizeRow quantizeRow;  // ggml's quantize_row_*_ref rounding; nullptr when there is none (I8, I32 and
                              // the read-only llama.cpp types); callers refuse such a target by name
    EncodeBlock encodeBlock;  // nullptr unless the blocks are one fp16 scale times integers
    DecodeBlock decodeBlock;  // likewise

    // Exact storage cost, e.g. Q1_0: 18 · 8 / 128 = 1.125.
    double bitsPerWeight() const noexcept { return 8.0 * blockBytes / blockSize; }
    // Bytes of n elements along a row (n a multiple of blockSize).
    std::size_t rowBytes(std::int64_t n) const noexcept
    {
        return static_cast<std::size_t>(n / blockSize) * static_cast<std::size_t>(blockBytes);
    }
    bool isBlockQuantized() const noexcept { return blockSize > 1; }
    bool hasScaledBlocks() const noexcept { return encodeBlock && decodeBlock; }
};

// The entry of a type (every DType has one).
const TensorTypeTraits& tensorType(DType t) noexcept;
// The entry whose ggmlType is id, or nullptr for a ggml type this build does not store.
const TensorTypeTraits* tensorTypeFromGgml(std::uint32_t id) noexcept;
// Every entry, in DType order.
std::span<const TensorTypeTraits> tensorTypes() noexcept;

inline const char* dtypeName(DType t) noexcept { return tensorType(t).name; }
inline int dtypeBlockSize(DType t) noexcept { return tensorType(t).blockSize; }
inline int dtypeBlockBytes(DType t) noexcept { return tensorType(t).blockBytes; }
inline std::size_t dtypeRowBytes(DType t, std::int64_t count) noexcept { return tensorType(t).rowBytes(count); }

} // namespace bq
