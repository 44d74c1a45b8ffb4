#include "bq/util/output_path.h"
#include "bq/util/atomic_file.h"
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace bq {

namespace fs = std::filesystem;

namespace {

std::atomic<unsigned> g_serial{0};

// "dir/" names the same directory as "dir"; the swap renames need the name without the trailing separator.
fs::path withoutTrailingSlash(fs::path p)
{
    if (p.filename().empty() && p.has_parent_path())
        p = p.parent_path();
    return p;
}

std::string overrideHint() { return "; choose another path, or pass --force to replace it"; }

void syncParent(const fs::path& target)
{
    const fs::path dir = target.has_parent_path() ? target.parent_path() : ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return; // the swap is done; a failed directory sync only weakens its crash durability
    (void)::fsync(fd);
    ::close(fd);
}

} // namespace

void checkOutputDirectory(const fs::path& dirIn, bool force)
{
    const fs::path dir = withoutTrailingSlash(dirIn);
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(dir, ec);
    if (ec || st.type() == fs::file_type::not_found)
        return;
    if (force)
        return;
    if (fs::is_directory(fs::status(dir, ec))) {
        if (fs::exists(dir / kOutputMarkerName, ec))
            return; // a previous bitstudio output: replaced
        const bool empty = fs::is_empty(dir, ec);
        if (ec)
            throw OutputRefused(dir.string() + ": cannot read the existing directory (" + ec.message() +
                                "), so it is not replaced" + overrideHint());
        if (empty)
            return;
        throw OutputRefused(dir.string() + ": the directory exists, is not empty and is not a bitstudio output (no " +
                            kOutputMarkerName + " file), so it is not replaced" + overrideHint());
    }
    if (fs::is_regular_file(st))
        throw OutputRefused(dir.string() + ": a file exists at this path, where the output directory would go; it is "
                            "not replaced" + overrideHint());
    throw OutputRefused(dir.string() + ": something that is not a directory exists at this path; it is not replaced" +
                        overrideHint());
}

void checkOutputFile(const fs::path& file, bool force, const std::function<bool(const fs::path&)>& isPreviousOutput)
{
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (st.type() == fs::file_type::not_found) {
        if (fs::is_symlink(fs::symlink_status(file, ec)))
            throw OutputRefused(file.string() + ": a dangling symbolic link exists at this path; it is not replaced" +
                                overrideHint());
        return;
    }
    if (ec)
        throw OutputRefused(file.string() + ": cannot inspect the existing path (" + ec.message() + ")");
    if (fs::is_directory(st))
        throw OutputRefused(file.string() + ": a directory exists at this path, where the output file would go; it "
                            "is never replaced by a file (choose another path, or remove it yourself)");
    if (!fs::is_regular_file(st))
        throw OutputRefused(file.string() + ": something that is not a regular file exists at this path; it is not "
                            "replaced (choose another path, or remove it yourself)");
    if (force)
        return;
    bool previous = false;
    if (isPreviousOutput) {
        try {
            previous = isPreviousOutput(file);
        } catch (const std::exception&) {
            previous = false; // unreadable: not recognisably ours
        }
    }
    if (!previous)
        throw OutputRefused(file.string() + ": the file exists and is not an output of bitstudio, so it is not "
                            "replaced" + overrideHint());
}

void writeOutputDirectory(const fs::path& dirIn, const std::function<void(const fs::path&)>& fill, bool force)
{
    const fs::path target = withoutTrailingSlash(dirIn);
    checkOutputDirectory(target, force);
    const std::string suffix = std::to_string(::getpid()) + "-" + std::to_string(g_serial.fetch_add(1));
    fs::path tmp = target;
    tmp += ".tmp-" + suffix;
    if (target.has_parent_path())
        fs::create_directories(target.parent_path());
    std::error_code ec;
    if (!fs::create_directory(tmp, ec) || ec)
        throw std::runtime_error(target.string() + ": cannot create the temporary directory " + tmp.string() + ": " +
                                 (ec ? ec.message() : std::string("it already exists")));
    try {
        fill(tmp);
        writeFileAtomically(tmp / kOutputMarkerName,
                            std::string("{\"writer\": \"bitstudio\", \"version\": \"") + BQ_VERSION + "\"}\n");
        syncParent(tmp / kOutputMarkerName);
        checkOutputDirectory(target, force); // the target may have changed while the content was written

        fs::path old;
        const fs::file_status st = fs::symlink_status(target, ec);
        if (st.type() != fs::file_type::not_found) {
            old = target;
            old += ".old-" + suffix;
            fs::rename(target, old, ec);
            if (ec)
                throw std::runtime_error(target.string() + ": cannot move the existing output aside to " +
                                         old.string() + ": " + ec.message() + " (it is unchanged)");
        }
        const char* fail = std::getenv("BQ_FAIL_OUTPUT_SWAP");
        if (fail && std::strcmp(fail, "rename-in") == 0)
            ec = std::make_error_code(std::errc::io_error);
        else
            fs::rename(tmp, target, ec);
        if (ec) {
            std::string restored;
            if (!old.empty()) {
                std::error_code back;
                fs::rename(old, target, back);
                restored = back ? " (restoring it failed too: " + back.message() + "; the previous content is in " +
                                      old.string() + ")"
                                : " (the previous content was put back)";
            }
            throw std::runtime_error(target.string() + ": cannot move the new output into place: " + ec.message() +
                                     restored);
        }
        syncParent(target);
        if (!old.empty())
            fs::remove_all(old, ec); // a leftover ".old-" directory is the only possible residue of a failure here
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
}

} // namespace bq
