// Atomic file output: write to a fresh "<target>.tmp-<pid>-<n>" (created with O_EXCL: never an existing file,
// never through a planted symlink), then commit(): flush, fsync, a checked close, rename over the target, fsync
// of the directory (so the rename itself survives a crash). If the writer is destroyed without commit() (error,
// cancel), the temporary file is removed and the target is untouched.
#pragma once
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string_view>

namespace bq {

class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path target); // throws std::runtime_error naming the path
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t bytes);
    void write(std::string_view s) { write(s.data(), s.size()); }
    void writeZeros(std::size_t bytes);
    std::uint64_t position() const noexcept { return m_written; }
    void commit(); // flush, fsync, rename; after this the target holds the data

    const std::filesystem::path& target() const noexcept { return m_target; }

private:
    std::filesystem::path m_target, m_temp;
    std::FILE* m_file = nullptr;
    std::uint64_t m_written = 0;
    bool m_committed = false;
};

// Writes a whole string to a file atomically.
void writeFileAtomically(const std::filesystem::path& target, std::string_view contents);

} // namespace bq
