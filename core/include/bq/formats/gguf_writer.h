// GGUF v3 writer: the layout of gguf_file.h. Metadata keys and tensors are written in insertion order, each
// tensor's offset aligned (general.alignment is written when the alignment is not 32) and zero-padded, to a
// temporary file that is fsynced and renamed (AtomicFile). The same inputs always give byte-identical files.
#pragma once
#include "bq/formats/gguf_file.h"
#include "bq/model/tensor.h"
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace bq {

class GgufWriter {
public:
    // alignment: a power of two, at least 8.
    explicit GgufWriter(std::uint32_t alignment = 32);

    // Sets a key; an existing key keeps its position. "general.alignment" is managed by the writer.
    void set(const std::string& key, GgufValue value);
    bool has(const std::string& key) const noexcept;

    // Adds a tensor (shape outermost first, as in Tensor); its bytes are referenced, not copied, so the
    // tensor's keepAlive must stay valid until write(). A tensor with data == nullptr and its nbytes set counts
    // in layout() (a size estimate that needs no data) but write() refuses it. Throws std::invalid_argument when the byte size does
    // not match the shape and dtype, the last dimension is not a multiple of the block size, the name is
    // longer than 63 bytes or already used.
    void addTensor(const Tensor& tensor);
    void addTensor(const std::string& name, DType dtype, std::vector<std::int64_t> shape,
                   std::vector<std::byte> bytes);

    std::uint32_t alignment() const noexcept { return m_alignment; }
    const std::vector<Tensor>& tensors() const noexcept { return m_tensors; }

    // Where write() puts everything, computed without writing: the header, metadata and tensor infos padded to
    // the alignment (headerBytes), tensor i at headerBytes + offsets[i], and the whole file's size.
    struct Layout {
        std::uint64_t headerBytes = 0, fileBytes = 0;
        std::vector<std::uint64_t> offsets;
    };
    Layout layout() const;
    void write(const std::filesystem::path& path) const;

private:
    std::vector<std::pair<std::string, GgufValue>> keyValues() const; // as written (general.alignment added)

    std::uint32_t m_alignment;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    std::vector<Tensor> m_tensors;
};

} // namespace bq
