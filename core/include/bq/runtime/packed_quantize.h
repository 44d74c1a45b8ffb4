// Block quantization of fp32 rows with the reference quantizers of the tensor-type table (tensor_types.h:
// Q1_0 = sign × fp16(mean |w|) per 128, Q4_0 / Q8_0 = ggml's quantize_row_*_ref) on a thread pool, and the
// in-memory packing of a model's linear layers, used by the benchmark (an fp32 model's Q1_0 / Q4_0 twin) and
// the packed-runtime tests.
#pragma once
#include "bq/model/model.h"
#include <memory>
#include <string>
#include <vector>

namespace bq {

class ThreadPool;

// rows × cols fp32 values (cols a multiple of the block size) → packed rows of a block-quantized type with a
// reference quantizer (std::invalid_argument otherwise). pool may be null; the bytes do not depend on it.
std::vector<std::byte> quantizeRows(DType type, const float* w, std::int64_t rows, std::int64_t cols,
                                    ThreadPool* pool = nullptr);
// Any tensor (converted to fp32 row by row) → an owned tensor of `type` with the same name and shape.
Tensor quantizeTensor(const Tensor& src, DType type, ThreadPool* pool = nullptr);

struct PackedConversion {
    std::shared_ptr<const Model> model;
    std::vector<std::string> packed;    // tensors now in the packed type(s)
    std::vector<std::string> keptFloat; // linear weights whose row length does not fit the block (left as they were)
};

// Every linear weight (attention, FFN) whose row length is a multiple of linearType's block becomes linearType;
// the output head becomes headType (F32 = leave it). A head tied to token_embd.weight is packed in place, so
// embedding lookups then dequantize one row per token. Norms and biases are untouched.
PackedConversion packModelLinears(std::shared_ptr<const Model> model, DType linearType, DType headType,
                                  ThreadPool* pool = nullptr);

} // namespace bq
