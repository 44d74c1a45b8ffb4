// Scalar reference dequantizers of llama.cpp's block types (ggml-common.h block structs), internal to the
// tensor-type table in tensor_types.cpp. Each follows ggml's dequantize_row_* operation for operation (same
// float products in the same order), so its output is bit-identical to ggml's and to gguf-py's numpy
// dequantize; tests/tools/check_gguf_types.py checks that on random blocks and on a real model.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bq::llamacpp {

// Block geometry (elements, bytes) of each type, shared with the table.
inline constexpr int kQK = 32;   // the small-block types
inline constexpr int kQK_K = 256; // the K-quants, IQ4_XS and the ternary types
inline constexpr int kQ4_1Bytes = 20, kQ5_0Bytes = 22, kQ5_1Bytes = 24, kIQ4_NLBytes = 18;
inline constexpr int kQ2_KBytes = 84, kQ3_KBytes = 110, kQ4_KBytes = 144, kQ5_KBytes = 176, kQ6_KBytes = 210;
inline constexpr int kQ8_KBytes = 292, kIQ4_XSBytes = 136, kTQ1_0Bytes = 54, kTQ2_0Bytes = 66;
inline constexpr int kMXFP4Bytes = 17;                     // 32 weights
inline constexpr int kNVFP4Block = 64, kNVFP4Bytes = 36;

// n weights (a multiple of the block size) of one row from their packed bytes.
void dequantizeRowQ4_1(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ5_0(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ5_1(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ2_K(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ3_K(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ4_K(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ5_K(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ6_K(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowQ8_K(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowIQ4_NL(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowIQ4_XS(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowTQ1_0(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowTQ2_0(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowMXFP4(const std::byte* src, float* dst, std::int64_t n);
void dequantizeRowNVFP4(const std::byte* src, float* dst, std::int64_t n);

} // namespace bq::llamacpp
