#include "run_file_common.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include "bq/util/mapped_file.h"
#include <algorithm>
#include <cstring>
#include <fstream>

namespace bq::quant {

const char* runStatusName(RunStatus s) noexcept
{
    switch (s) {
    case RunStatus::Running: return "running";
    case RunStatus::Completed: return "completed";
    case RunStatus::Cancelled: return "cancelled";
    case RunStatus::Failed: return "failed";
    }
    return "running";
}

std::optional<RunStatus> parseRunStatus(std::string_view name) noexcept
{
    for (RunStatus s : {RunStatus::Running, RunStatus::Completed, RunStatus::Cancelled, RunStatus::Failed})
        if (name == runStatusName(s)) return s;
    return std::nullopt;
}

h5::Handle runFileAccessProps()
{
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
    H5Pset_file_locking(fapl.get(), true, true); // ignore when the file system has no locks
    return fapl;
}

namespace {

bool startsWithHdf5Signature(const std::filesystem::path& path)
{
    // HDF5 puts the superblock at 0, 512, 1024, ... (user block); the run files we write use 0.
    std::ifstream f(path, std::ios::binary);
    char sig[8] = {};
    f.read(sig, 8);
    return f.gcount() == 8 && std::string_view(sig, 8) == std::string_view("\x89HDF\r\n\x1a\n", 8);
}

std::uint64_t le64(const unsigned char* p)
{
    std::uint64_t v = 0;
    for (int k = 7; k >= 0; --k)
        v = v << 8 | p[k];
    return v;
}

// libhdf5 1.10 (Debian 12) hangs decoding a global heap collection ("GCOL", version 1) whose objects do not tile
// it: H5HG__cache_heap_deserialize moves on by each object's size, so a free-space object (index 0) of size 0
// never advances, and a size near 2^64 wraps the pointer backwards; both loop forever. The variable-length strings
// of a run file live in these collections, so one hostile byte pattern would hang every reader (found by
// fuzz_run_file; fuzz/corpus/run_file/hdf5-gcol-*.h5 and a hostile-input test). Each collection is walked here as
// HDF5 walks it, before HDF5 sees the file, and must be tiled exactly: every step moves forward and stays inside.
// Collections use 8-byte lengths: run files are written with the default file creation properties.
void checkGlobalHeaps(const std::filesystem::path& path)
{
    const auto map = MappedFile::open(path);
    const auto* b = reinterpret_cast<const unsigned char*>(map->data());
    const std::size_t n = map->size();
    constexpr std::size_t kHeader = 16, kObjectHeader = 16; // "GCOL", version, 3 reserved, size; index, refs, 4, size
    for (std::size_t from = 0; from + kHeader <= n;) {
        const void* hit = memmem(b + from, n - from, "GCOL", 4);
        if (hit == nullptr)
            break;
        const std::size_t start = static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - b);
        from = start + 4;
        if (start + kHeader > n || b[start + 4] != 1) // HDF5 refuses other versions itself
            continue;
        const std::uint64_t size = le64(b + start + 8);
        if (size > n - start) // HDF5 fails to read a collection that runs past the end of the file
            continue;
        const std::size_t end = start + static_cast<std::size_t>(size);
        std::size_t p = start + kHeader;
        while (p + kObjectHeader <= end) { // less than an object header left: free space, as HDF5 reads it
            const unsigned index = b[p] | unsigned(b[p + 1]) << 8;
            const std::uint64_t objectSize = le64(b + p + 8);
            const std::uint64_t need =
                index > 0 ? kObjectHeader + ((objectSize + 7) & ~std::uint64_t(7)) : objectSize;
            if (need == 0 || need > end - p)
                throw FormatError(path.string(),
                                  "global heap collection at byte " + std::to_string(start) + ", object " +
                                      std::to_string(index) + " of size " + std::to_string(objectSize),
                                  "objects that fit the collection exactly (this one would make the HDF5 library "
                                  "loop forever)",
                                  static_cast<std::int64_t>(p));
            p += static_cast<std::size_t>(need);
        }
        from = std::max(from, end); // strings inside a checked collection are data, not collections
    }
}

} // namespace

h5::Handle openRunFile(const h5::Ctx& c, bool writable)
{
    h5::silence();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(c.file, ec)) throw FormatError(c.file, "file", "an existing run file");
    if (!startsWithHdf5Signature(c.file))
        throw FormatError(c.file, "signature", "an HDF5 file (\\x89HDF\\r\\n\\x1a\\n at byte 0)", 0);
    checkGlobalHeaps(c.file);
    h5::Handle fapl = runFileAccessProps();
    h5::Handle file(H5Fopen(c.file.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get()), H5Fclose);
    if (!file.valid()) c.readFail("file", "a complete, readable HDF5 file");
    if (!h5::attributeExists(file.get(), "schema"))
        throw FormatError(c.file, "/@schema", std::string("\"") + kRunFileSchema + "\" (missing: not a run file)");
    const std::string schema = h5::readAttrString(c, file.get(), "schema");
    if (schema != kRunFileSchema)
        throw FormatError(c.file, "/@schema", std::string("\"") + kRunFileSchema + "\", found \"" + schema + "\"");
    for (const char* group : {"meta", "calib", "blocks", "layers"}) h5::openGroup(c, file.get(), group);
    return file;
}

std::int32_t readFinishedBlocks(const h5::Ctx& c, hid_t file)
{
    return std::int32_t(h5::readAttrInt(c, file, "finished_blocks"));
}

RunHeader readRunHeader(const h5::Ctx& c, hid_t file)
{
    RunHeader h;
    h.toolVersion = h5::readAttrString(c, file, "tool_version");
    h.created = h5::readAttrString(c, file, "created");
    const std::string status = h5::readAttrString(c, file, "status");
    const auto parsed = parseRunStatus(status);
    if (!parsed) throw FormatError(c.file, "/@status", "running, completed, cancelled or failed; found " + status);
    h.status = *parsed;
    h.statusMessage = h5::readAttrString(c, file, "status_message");
    h.blockCount = std::int32_t(h5::readAttrInt(c, file, "block_count"));

    h5::Handle meta = h5::openGroup(c, file, "meta");
    auto parseJson = [&](const std::string& item, const std::string& text) {
        checkJsonDepth(text, c.file, item);
        try {
            return nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(c.file, item, std::string("JSON text (") + e.what() + ")");
        }
    };
    h.recipe = parseJson("/meta/recipe", h5::readStringDataset(c, meta.get(), "recipe"));
    h.modelFingerprint = h5::readAttrString(c, meta.get(), "model_fingerprint");
    h.calibrationFingerprint = h5::readAttrString(c, meta.get(), "calibration_fingerprint");
    h.recipeFingerprint = h5::readAttrString(c, meta.get(), "recipe_fingerprint");
    h.modelPath = h5::readAttrString(c, meta.get(), "model_path");
    h.tokenizerPath = h5::readAttrString(c, meta.get(), "tokenizer_path");
    h.calibration = parseJson("/meta@calibration", h5::readAttrString(c, meta.get(), "calibration"));

    h5::Handle calib = h5::openGroup(c, file, "calib");
    const auto dims = h5::datasetDims(c, calib.get(), "tokens");
    if (dims.size() != 2) throw FormatError(c.file, "/calib/tokens", "int32 [samples, seq_len]");
    h.calibrationTokens.samples = std::int64_t(dims[0]);
    h.calibrationTokens.seqLen = std::int64_t(dims[1]);
    h.calibrationTokens.ids.resize(std::size_t(dims[0] * dims[1])); // product checked by datasetDims
    h5::readDataset(c, calib.get(), "tokens", H5T_NATIVE_INT32, h.calibrationTokens.ids.data());
    return h;
}

std::string layerLinkName(const std::string& tensor)
{
    if (tensor == ".") return "%2E";
    std::string out;
    for (char ch : tensor) {
        if (ch == '/') out += "%2F";
        else if (ch == '%') out += "%25";
        else out += ch;
    }
    return out;
}

} // namespace bq::quant
