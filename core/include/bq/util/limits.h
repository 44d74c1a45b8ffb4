// Resource rule for hostile files: every allocation and every loop whose size comes from a file is bounded,
// BEFORE it happens, by the file's size times a small stated factor or by one of the named caps below; size
// arithmetic on file values is checked for overflow (checkedMul / checkedAdd, the one home for it).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace bq::limits {

// JSON (tokenizer.json, tokenizer_config.json, config.json, recipe JSON, safetensors headers, run-file JSON,
// bitstudio layer descriptors): nesting deeper than this is refused by a scan of the raw text, before parsing.
constexpr int kMaxJsonDepth = 64;
// safetensors header text (nlohmann's DOM takes at most ~25 bytes per text byte: <= ~400 MB).
constexpr std::uint64_t kMaxSafetensorsHeader = 16ull << 20;
// Model dimensions (hidden size, FFN size, head_dim, n_heads * head_dim ...), layers, heads, context, vocabulary.
constexpr std::int64_t kMaxModelDim = 1 << 18;
constexpr std::int64_t kMaxLayers = 1 << 12;
constexpr std::int64_t kMaxHeads = 1 << 12;
constexpr std::int64_t kMaxContext = 1 << 24;
constexpr std::int64_t kMaxVocab = 1 << 22;
// GGUF metadata in memory: at most this many bytes of parsed values per byte of file (+ 1 MiB).
constexpr std::uint64_t kGgufMetadataBytesPerFileByte = 8;
// A bitstudio layer unpacks to one byte per weight per plane: rows x cols x (planes + codes) <= this x file size.
constexpr std::uint64_t kBitstudioCellsPerFileByte = 64;
constexpr std::int64_t kMaxBitstudioPlanes = 64;
// HDF5 run-file datasets: bytes in memory <= this x the dataset's stored bytes (the writer stores them raw).
constexpr std::uint64_t kHdf5BytesPerStoredByte = 4;

} // namespace bq::limits

namespace bq {

// a * b (a + b) into out; false on overflow.
inline bool checkedMul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept
{
    return !__builtin_mul_overflow(a, b, &out);
}
inline bool checkedMul(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept
{
    return !__builtin_mul_overflow(a, b, &out);
}
inline bool checkedAdd(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept
{
    return !__builtin_add_overflow(a, b, &out);
}

// The deepest nesting of [ and { in JSON text (outside strings), scanning without allocating; stops early and
// returns maxDepth + 1 as soon as the nesting exceeds maxDepth.
int jsonNestingDepth(std::string_view text, int maxDepth = limits::kMaxJsonDepth) noexcept;
// Throws FormatError(path, field, ...) naming the depth limit when the text nests deeper than kMaxJsonDepth.
void checkJsonDepth(std::string_view text, const std::string& path, const std::string& field);

} // namespace bq
