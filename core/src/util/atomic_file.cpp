#include "bq/util/atomic_file.h"
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <utility>
#include <cstring>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace bq {

namespace {

std::atomic<unsigned> g_serial{0};

std::runtime_error ioError(const std::filesystem::path& target, const std::string& what)
{
    return std::runtime_error(target.string() + ": " + what + ": " + std::strerror(errno));
}

void syncDirectory(const std::filesystem::path& target)
{
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        throw ioError(target, "cannot open its directory to sync the rename");
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0 && errno != EINVAL) // some file systems cannot sync a directory; the data itself is synced
        throw ioError(target, "cannot sync its directory");
}

} // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : m_target(std::move(target))
{
    m_temp = m_target;
    m_temp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_serial.fetch_add(1));
    const int fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        throw ioError(m_target, "cannot create the temporary file " + m_temp.string());
    m_file = ::fdopen(fd, "wb");
    if (!m_file) {
        ::close(fd);
        std::error_code ec;
        std::filesystem::remove(m_temp, ec);
        throw ioError(m_target, "cannot open the temporary file " + m_temp.string());
    }
}

AtomicFile::~AtomicFile()
{
    if (m_file)
        std::fclose(m_file);
    if (!m_committed) {
        std::error_code ec;
        std::filesystem::remove(m_temp, ec);
    }
}

void AtomicFile::write(const void* data, std::size_t bytes)
{
    if (bytes == 0)
        return;
    if (std::fwrite(data, 1, bytes, m_file) != bytes)
        throw std::runtime_error(m_target.string() + ": write failed: " + std::strerror(errno));
    m_written += bytes;
}

void AtomicFile::writeZeros(std::size_t bytes)
{
    static const std::vector<char> zeros(4096, 0);
    while (bytes > 0) {
        const std::size_t n = bytes < zeros.size() ? bytes : zeros.size();
        write(zeros.data(), n);
        bytes -= n;
    }
}

void AtomicFile::commit()
{
    if (std::fflush(m_file) != 0 || ::fsync(::fileno(m_file)) != 0)
        throw ioError(m_target, "flush failed");
    std::FILE* file = std::exchange(m_file, nullptr);
    if (std::fclose(file) != 0) // a delayed write error (e.g. NFS, quota) shows up here
        throw ioError(m_target, "closing the written file failed");
    std::error_code ec;
    std::filesystem::rename(m_temp, m_target, ec);
    if (ec)
        throw std::runtime_error(m_target.string() + ": rename from " + m_temp.string() + " failed: " + ec.message());
    m_committed = true;
    syncDirectory(m_target);
}

void writeFileAtomically(const std::filesystem::path& target, std::string_view contents)
{
    AtomicFile f(target);
    f.write(contents);
    f.commit();
}

} // namespace bq
