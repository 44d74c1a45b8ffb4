// Hugging Face safetensors reader (huggingface/safetensors, safetensors/src/tensor.rs).
//
//   bytes 0..7        uint64 N (little-endian): the JSON header length (at most 100 MB and inside the file)
//   bytes 8..8+N-1    UTF-8 JSON object, may be padded with trailing spaces:
//                       "<name>": {"dtype": "F16", "shape": [N, K], "data_offsets": [begin, end]}
//                       "__metadata__": {string: string}            (optional)
//   bytes 8+N..end    the byte buffer; offsets are relative to its start, row-major, little-endian
//
// Checked: header length, every entry's fields, numel × dtype size == end − begin, end inside the buffer, no
// two tensors overlapping. Tensors come out as zero-copy views into the mapped file (offsets need not be
// aligned; Tensor readers copy through memcpy). Only F32, F16 and BF16 tensors can be materialised.
//
// Sharded checkpoints: model.safetensors.index.json = {"metadata": {...}, "weight_map": {tensor: file}}.
#pragma once
#include "bq/model/tensor.h"
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bq {

class MappedFile;

struct SafetensorsEntry {
    std::string name;
    std::string dtype; // as written: "F32", "BF16", "I64", ...
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0, end = 0; // relative to the byte buffer
};

class SafetensorsFile {
public:
    // Maps and validates the file. Throws FormatError(path, field, expected, byte offset).
    static std::shared_ptr<const SafetensorsFile> open(const std::filesystem::path& path);

    const std::filesystem::path& path() const noexcept { return m_path; }
    const std::vector<SafetensorsEntry>& entries() const noexcept { return m_entries; } // file order of the header
    const std::map<std::string, std::string>& metadata() const noexcept { return m_metadata; }
    const SafetensorsEntry* find(const std::string& name) const noexcept;
    std::uint64_t dataStart() const noexcept { return m_dataStart; }

    // A zero-copy view named `name` (pass a different name to rename it). Throws UnsupportedModel naming the
    // tensor and its dtype when it is not F32, F16 or BF16; std::out_of_range when absent.
    Tensor tensor(const std::string& entryName, const std::string& name) const;
    Tensor tensor(const std::string& entryName) const { return tensor(entryName, entryName); }

private:
    std::filesystem::path m_path;
    std::shared_ptr<const MappedFile> m_file;
    std::vector<SafetensorsEntry> m_entries;
    std::map<std::string, std::size_t> m_index;
    std::map<std::string, std::string> m_metadata;
    std::uint64_t m_dataStart = 0;
};

// All safetensors files of a checkpoint directory: model.safetensors.index.json (weight_map) when present,
// else model.safetensors, else every *.safetensors file (sorted). Maps each tensor name to its file.
struct SafetensorsCheckpoint {
    std::vector<std::shared_ptr<const SafetensorsFile>> files;
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> byTensor;
};
SafetensorsCheckpoint openSafetensorsDirectory(const std::filesystem::path& dir);

} // namespace bq
