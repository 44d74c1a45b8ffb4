#include "bq/util/atomic_file.h"
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace bq {

AtomicFile::AtomicFile(std::filesystem::path target) : m_target(std::move(target))
{
    m_temp = m_target;
    m_temp += ".tmp-" + std::to_string(::getpid());
    m_file = std::fopen(m_temp.c_str(), "wb");
    if (!m_file)
        throw std::runtime_error(m_target.string() + ": cannot create temporary file " + m_temp.string() + ": " +
                                 std::strerror(errno));
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
        throw std::runtime_error(m_target.string() + ": flush failed: " + std::strerror(errno));
    std::fclose(m_file);
    m_file = nullptr;
    std::error_code ec;
    std::filesystem::rename(m_temp, m_target, ec);
    if (ec)
        throw std::runtime_error(m_target.string() + ": rename from " + m_temp.string() + " failed: " + ec.message());
    m_committed = true;
}

void writeFileAtomically(const std::filesystem::path& target, std::string_view contents)
{
    AtomicFile f(target);
    f.write(contents);
    f.commit();
}

} // namespace bq
