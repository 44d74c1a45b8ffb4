#include "run_file_common.h"
#include "run_file_hdf5_guard.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
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

} // namespace

h5::Handle openRunFile(const h5::Ctx& c, bool writable)
{
    h5::silence();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(c.file, ec)) throw FormatError(c.file, "file", "an existing run file");
    if (!startsWithHdf5Signature(c.file))
        throw FormatError(c.file, "signature", "an HDF5 file (\\x89HDF\\r\\n\\x1a\\n at byte 0)", 0);
    h5guard::checkGlobalHeaps(c.file);
    h5::Handle fapl = runFileAccessProps();
    h5::Handle file(H5Fopen(c.file.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get()), H5Fclose);
    if (!file.valid()) c.readFail("file", "a complete, readable HDF5 file");
    h5::Handle fcpl(H5Fget_create_plist(file.get()), H5Pclose);
    std::size_t offsetSize = 0, lengthSize = 0;
    if (!fcpl.valid() || H5Pget_sizes(fcpl.get(), &offsetSize, &lengthSize) < 0 || offsetSize != 8 || lengthSize != 8)
        throw FormatError(c.file, "superblock", "8-byte offsets and lengths, as bitstudio writes run files", 0);
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
