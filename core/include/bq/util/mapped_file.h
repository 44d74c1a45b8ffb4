// A read-only memory-mapped file. Shared ownership keeps the mapping alive for tensor views.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

namespace bq {

class MappedFile {
public:
    // Throws FormatError(path, "file", "a readable file") when the file cannot be opened or mapped.
    static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::byte* data() const noexcept { return m_data; }
    std::size_t size() const noexcept { return m_size; }
    std::span<const std::byte> bytes() const noexcept { return {m_data, m_size}; }
    const std::filesystem::path& path() const noexcept { return m_path; }

private:
    MappedFile() = default;
    std::filesystem::path m_path;
    const std::byte* m_data = nullptr;
    std::size_t m_size = 0;
};

} // namespace bq
