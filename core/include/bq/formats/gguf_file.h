// GGUF v2/v3 container reader (ggml-org/ggml docs/gguf.md, src/gguf.cpp). All fields little-endian.
//
//   char[4] magic "GGUF"; uint32 version (2 or 3); uint64 tensor_count; uint64 metadata_kv_count
//   metadata_kv_count × { gguf_string key; uint32 value_type; value }
//       gguf_string = uint64 length + bytes (no terminator)
//       value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (1 byte), 8 string,
//                    9 array (uint32 elem_type, uint64 count, elements; may nest), 10 u64, 11 i64, 12 f64
//   tensor_count × { gguf_string name; uint32 n_dims (1..4); uint64 ne[n_dims] (innermost first);
//                    uint32 ggml_type; uint64 offset (relative to the data section, a multiple of ALIGNMENT) }
//   zero padding to a multiple of ALIGNMENT (general.alignment, default 32), counted from the file start
//   data section
//
// Every count and length is checked against the bytes left before anything is allocated; errors carry the
// byte offset of the field. A byte-swapped version number means a big-endian file, which is refused.
#pragma once
#include "bq/model/tensor.h"
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bq {

class MappedFile;

enum class GgufType : std::uint32_t {
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8,
    Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12
};
const char* ggufTypeName(GgufType t) noexcept;

// One metadata value. Scalars live in u (unsigned, bool), i (signed), f (floats) or s (string); arrays keep
// their element type and the elements in the matching vector (nested arrays in `arrays`).
struct GgufValue {
    GgufType type = GgufType::UInt32;
    std::uint64_t u = 0;
    std::int64_t i = 0;
    double f = 0.0;
    std::string s;
    GgufType elemType = GgufType::UInt8;
    std::vector<std::uint64_t> uints;   // u8/u16/u32/u64/bool arrays
    std::vector<std::int64_t> ints;     // i8/i16/i32/i64 arrays
    std::vector<double> floats;         // f32/f64 arrays
    std::vector<std::string> strings;   // string arrays
    std::vector<GgufValue> arrays;      // arrays of arrays

    static GgufValue u32(std::uint32_t v);
    static GgufValue i32(std::int32_t v);
    static GgufValue u64(std::uint64_t v);
    static GgufValue f32(float v);
    static GgufValue boolean(bool v);
    static GgufValue str(std::string v);
    static GgufValue stringArray(std::vector<std::string> v);
    static GgufValue f32Array(const std::vector<float>& v);
    static GgufValue i32Array(const std::vector<std::int32_t>& v);

    bool isArray() const noexcept { return type == GgufType::Array; }
    std::size_t arraySize() const noexcept;
    // Display text: numbers, strings (long ones shortened), arrays summarised as "[32000 strings]".
    std::string toDisplay() const;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<std::uint64_t> ne; // innermost first, as stored
    std::uint32_t ggmlType = 0;    // the tensor-type table maps it to dtype (tensor_types.h)
    DType dtype = DType::F32;
    std::uint64_t offset = 0;      // relative to the data section
    std::uint64_t nbytes = 0;
    std::uint64_t infoOffset = 0;  // byte offset of the tensor info record (for messages)
};

class GgufFile {
public:
    // Throws FormatError(path, field, expected, byte offset); UnsupportedModel for a valid ggml type this build
    // cannot store (e.g. Q4_K), naming the tensor.
    static std::shared_ptr<const GgufFile> open(const std::filesystem::path& path);

    const std::filesystem::path& path() const noexcept { return m_path; }
    std::uint32_t version() const noexcept { return m_version; }
    std::uint64_t alignment() const noexcept { return m_alignment; }
    std::uint64_t dataStart() const noexcept { return m_dataStart; }
    std::uint64_t fileSize() const noexcept;

    const std::vector<std::pair<std::string, GgufValue>>& metadata() const noexcept { return m_kv; }
    const std::vector<GgufTensorInfo>& tensorInfos() const noexcept { return m_tensors; }
    const GgufValue* find(const std::string& key) const noexcept;
    const GgufTensorInfo* findTensor(const std::string& name) const noexcept;

    // Typed access. The optional forms return nullopt when the key is absent; all throw FormatError naming the
    // key when it is present with another type. Integer getters accept any integer type that fits.
    std::optional<std::string> getString(const std::string& key) const;
    std::optional<std::int64_t> getInt(const std::string& key) const;
    std::optional<double> getFloat(const std::string& key) const; // f32/f64 (and integers)
    std::optional<bool> getBool(const std::string& key) const;
    std::int64_t requireInt(const std::string& key) const; // FormatError when absent
    std::vector<std::string> getStringArray(const std::string& key) const; // empty when absent
    std::vector<float> getFloatArray(const std::string& key) const;
    std::vector<std::int64_t> getIntArray(const std::string& key) const;

    // A zero-copy view; dims reversed to outermost-first (ne = [K, N] -> shape [N, K]).
    Tensor tensor(const GgufTensorInfo& info, const std::string& name) const;
    Tensor tensor(const GgufTensorInfo& info) const { return tensor(info, info.name); }

    // Metadata as display pairs (arrays summarised).
    std::vector<std::pair<std::string, std::string>> displayMetadata() const;

private:
    std::filesystem::path m_path;
    std::shared_ptr<const MappedFile> m_file;
    std::uint32_t m_version = 0;
    std::uint64_t m_alignment = 32;
    std::uint64_t m_dataStart = 0;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    std::map<std::string, std::size_t> m_kvIndex;
    std::vector<GgufTensorInfo> m_tensors;
    std::map<std::string, std::size_t> m_tensorIndex;
    friend class GgufParser;
};

} // namespace bq
