// The `bitstudio` GGUF layout: every QuantizedLinear stored exactly, as component tensors of STANDARD ggml
// types (I8 bit planes, F16/F32 scales) so ggml, gguf-py and every GGUF tool still parse the file
// (formats-and-runtime.md §5: private type ids would make the whole file unreadable to them).
//
// For a quantized tensor "<base>.weight" (n rows × m columns, mb = ceil(m / 8) bytes per packed row, G_p =
// ceil(m / group_p) or 1 when group_p = 0) the file holds, instead of "<base>.weight":
//
//   <base>.p<k>.signs      I8  [n, mb]     (mask "all") plane k signs: bit j%8 (LSB first) of byte j/8 of row i
//                                          = 1 for +1, 0 for −1; padding bits 0
//                          I8  [max(1, ceil(c/8))] (mask "columns"/"elements") only the c signs the mask selects,
//                                          in row-major order, bit t at byte t/8, bit t%8; unmasked signs read as +1
//   <base>.p<k>.colmask    I8  [mb]        (mask "columns") bit j = 1: the plane applies to column j
//   <base>.p<k>.elemmask   I8  [n, mb]     (mask "elements") bit (i, j) = 1: the plane applies to weight (i, j)
//   <base>.p<k>.scale      F16|F32 [n, G_p] row scale per group
//   <base>.p<k>.colscale   F16|F32 [m]     column scale (absent = 1)
//   <base>.p<k>.mean       F16|F32 [n, G_p] group mean (absent = 0)
//   <base>.codes           I8  [bits, n, mb] bit plane b holds bit b of every code (b = 0 least significant)
//   <base>.code_scale      F16|F32 [n, G_c]
//   <base>.code_zero       F16|F32 [n, G_c]
//
// Floating components are F16 when every value survives an fp16 round trip exactly, else F32: exact either way.
// (GGUF lists dims innermost first, so [n, mb] appears as ne = [mb, n].)
//
// Metadata: bitstudio.quantized_tensors (string array of "<base>.weight" names, file order) and, per tensor,
// bitstudio.tensor.<base>.weight = JSON {"method", "rows", "cols", "storage_bits_per_weight",
// "planes": [{"group", "mask": "all"|"columns"|"elements", "colscale": bool, "mean": bool}],
// "codes": null | {"bits", "group"}}. Value: Ŵ_ij = Σ_k [mask_k(i,j)]·(mean_k[i,g] + scale_k[i,g]·colscale_k[j]·s_k(i,j))
// + code_scale[i,g]·(q_ij − code_zero[i,g]), exactly QuantizedLinear::dequantize().
#pragma once
#include "bq/model/tensor.h"
#include "bq/model/quantized_linear.h"
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bq {
class GgufFile;
struct Model;
} // namespace bq

namespace bq {

inline constexpr const char* kBitstudioTensorsKey = "bitstudio.quantized_tensors";
inline constexpr const char* kBitstudioTensorKeyPrefix = "bitstudio.tensor.";

// "blk.0.attn_q.weight" -> "blk.0.attn_q" (names without ".weight" are used whole).
std::string componentBase(const std::string& tensor);

// The component tensors and the descriptor of one layer. Throws std::logic_error for an invalid layer.
std::vector<Tensor> bitstudioComponents(const QuantizedLinear& layer);
nlohmann::json bitstudioDescriptor(const QuantizedLinear& layer);

// Reads one layer back (bit-identical to what bitstudioComponents got, except that signs outside a plane's mask,
// which never contribute, read as +1). FormatError naming the file, the
// key or tensor and what was expected.
QuantizedLinear readBitstudioLayer(const GgufFile& file, const std::string& tensor);
// Every layer listed in bitstudio.quantized_tensors (empty for other files).
std::map<std::string, QuantizedLinear> readBitstudioLayers(const GgufFile& file);
std::map<std::string, QuantizedLinear> loadBitstudioLayers(const std::filesystem::path& gguf);

// Loader hook (gguf_model.cpp): replaces the components of every listed layer in model.tensors by its
// dequantized F32 "<base>.weight" so the reference runtime runs the file; no-op for other files.
void applyBitstudioTensors(const GgufFile& file, Model& model);

// Rows reordered: row r of the result is row order[r] of `layer` (RoPE reordering on export).
QuantizedLinear permuteRows(const QuantizedLinear& layer, const std::vector<std::int64_t>& order);

} // namespace bq
