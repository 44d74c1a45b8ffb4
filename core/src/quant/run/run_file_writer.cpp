#include "bq/quant/run/fingerprint.h"
#include "bq/quant/run/run_file.h"
#include "bq/util/errors.h"
#include "run_file_common.h"
#include "run_file_params.h"
#include <chrono>
#include <ctime>
#include <unistd.h>

namespace bq::quant {

using h5::Handle;

struct RunFileWriter::Impl {
    std::filesystem::path path;
    h5::Ctx ctx;
    Handle file;
    std::int32_t finished = 0;

    hid_t fid() const
    {
        if (!file.valid()) throw std::logic_error(ctx.file + ": run file writer used after close()");
        return file.get();
    }
    // Crash safety (SIGKILL, power aside): every layer and every block boundary ends with H5Fflush, so what the
    // kernel holds is a consistent file whose finished_blocks attribute names the last complete block; --resume
    // trims anything after it. Bytes written by write() survive a killed process, and between flushes this small
    // file's metadata stays in HDF5's cache, so a kill loses at most the unflushed layer (tests/cli/test_run_kill:
    // 10 kills over a run, each resumed bit-identically). Not chosen: SWMR (needs the 1.10 file format, which
    // would change the run file layout readers rely on) and a journal/copy per block (rewrites the whole file).
    // A file that still cannot be read (e.g. a write failed on a full disk after the superblock was updated) is
    // refused by --resume with what to do (run_setup.cpp: start a fresh run into it).
    void flush()
    {
        if (H5Fflush(fid(), H5F_SCOPE_GLOBAL) < 0) ctx.writeFail("file", "flush");
    }
};

namespace {

std::string utcNowIso8601()
{
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void writeHeader(const h5::Ctx& c, hid_t file, const RunHeader& h)
{
    h5::writeAttr(c, file, "schema", std::string(kRunFileSchema));
    h5::writeAttr(c, file, "tool_version", h.toolVersion);
    h5::writeAttr(c, file, "created", h.created);
    h5::writeAttr(c, file, "status", std::string(runStatusName(h.status)));
    h5::writeAttr(c, file, "status_message", h.statusMessage);
    h5::writeAttrInt(c, file, "finished_blocks", 0, false);
    h5::writeAttrInt(c, file, "block_count", h.blockCount, false);

    Handle meta = h5::createGroup(c, file, "meta");
    h5::writeStringDataset(c, meta.get(), "recipe", h.recipe.dump(2));
    h5::writeAttr(c, meta.get(), "model_fingerprint", h.modelFingerprint);
    h5::writeAttr(c, meta.get(), "calibration_fingerprint", h.calibrationFingerprint);
    h5::writeAttr(c, meta.get(), "recipe_fingerprint", h.recipeFingerprint);
    h5::writeAttr(c, meta.get(), "model_path", h.modelPath);
    h5::writeAttr(c, meta.get(), "tokenizer_path", h.tokenizerPath);
    h5::writeAttr(c, meta.get(), "calibration", h.calibration.is_null() ? std::string("{}") : h.calibration.dump());

    const CalibrationTokens& t = h.calibrationTokens;
    if (t.samples < 0 || t.seqLen < 0 || std::int64_t(t.ids.size()) != t.samples * t.seqLen)
        throw std::invalid_argument(c.file + ": calibration tokens: " + std::to_string(t.ids.size()) +
                                    " ids do not fill " + std::to_string(t.samples) + " × " + std::to_string(t.seqLen));
    Handle calib = h5::createGroup(c, file, "calib");
    h5::writeDataset(c, calib.get(), "tokens", H5T_STD_I32LE, H5T_NATIVE_INT32, {hsize_t(t.samples), hsize_t(t.seqLen)},
                     t.ids.data());
    h5::createGroup(c, file, "blocks");
    h5::createGroup(c, file, "layers");
}

std::string compareField(const char* label, const std::string& stored, const std::string& now)
{
    if (now.empty() || stored == now) return {};
    return std::string(label) + " differs (run file: " + stored + ", now: " + now + ")";
}

} // namespace

RunFileWriter::RunFileWriter(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RunFileWriter::RunFileWriter(RunFileWriter&&) noexcept = default;
RunFileWriter& RunFileWriter::operator=(RunFileWriter&&) noexcept = default;
RunFileWriter::~RunFileWriter()
{
    if (m_impl) m_impl->file.reset(); // H5Fclose flushes; errors cannot be reported from here
}

RunFileWriter RunFileWriter::create(const std::filesystem::path& path, const RunHeader& headerIn)
{
    h5::silence();
    RunHeader header = headerIn;
    if (header.toolVersion.empty()) header.toolVersion = BQ_VERSION;
    if (header.created.empty()) header.created = utcNowIso8601();
    if (header.recipeFingerprint.empty()) header.recipeFingerprint = recipeFingerprint(header.recipe);

    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->ctx.file = path.string();
    // Built under a temporary name and renamed once the header is complete, so `path` never holds a run file
    // without its header.
    std::filesystem::path temp = path;
    temp += ".tmp-" + std::to_string(::getpid());
    const h5::Ctx tempCtx{temp.string()};
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    try {
        Handle fapl = runFileAccessProps();
        impl->file = Handle(H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
        if (!impl->file.valid()) tempCtx.writeFail("file", "create");
        writeHeader(tempCtx, impl->file.get(), header);
        impl->flush();
        std::filesystem::rename(temp, path); // the open handle follows the inode
    } catch (...) {
        impl->file.reset();
        std::filesystem::remove(temp, ec);
        throw;
    }
    return RunFileWriter(std::move(impl));
}

std::optional<ResumeMismatch> resumeMismatch(const std::filesystem::path& path, const RunHeader& stored,
                                             const RunFingerprints& expected)
{
    std::vector<std::string> fields, reasons;
    auto check = [&](const char* field, const char* label, const std::string& s, const std::string& now) {
        std::string why = compareField(label, s, now);
        if (!why.empty()) {
            fields.emplace_back(field);
            reasons.push_back(std::move(why));
        }
    };
    check("model", "model fingerprint", stored.modelFingerprint, expected.model);
    check("calibration", "calibration fingerprint", stored.calibrationFingerprint, expected.calibration);
    check("recipe", "recipe fingerprint", stored.recipeFingerprint, expected.recipe);
    check("tool_version", "tool version", stored.toolVersion, expected.toolVersion);
    if (!reasons.empty()) {
        std::string msg = path.string() + ": cannot resume: ";
        for (std::size_t k = 0; k < reasons.size(); ++k) msg += (k ? "; " : "") + reasons[k];
        return ResumeMismatch(msg, fields);
    }
    return std::nullopt;
}

RunFileWriter RunFileWriter::openForResume(const std::filesystem::path& path, const RunFingerprints& expected)
{
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->ctx.file = path.string();
    const h5::Ctx& c = impl->ctx;
    impl->file = openRunFile(c, true);
    const hid_t file = impl->file.get();
    const RunHeader stored = readRunHeader(c, file);

    if (auto mismatch = resumeMismatch(path, stored, expected))
        throw *mismatch;

    // Drop what belongs to unfinished blocks: those blocks run again from their start.
    impl->finished = readFinishedBlocks(c, file);
    Handle layers = h5::openGroup(c, file, "layers");
    for (const std::string& name : h5::childNames(c, layers.get())) {
        Handle g = h5::openGroup(c, layers.get(), name);
        const bool hasBlock = h5::attributeExists(g.get(), "block");
        const auto block = hasBlock ? h5::readAttrInt(c, g.get(), "block") : std::int64_t(impl->finished);
        g.reset();
        if (block >= impl->finished) h5::removeLink(c, layers.get(), name);
    }
    Handle blocks = h5::openGroup(c, file, "blocks");
    for (const std::string& name : h5::childNames(c, blocks.get())) {
        char* end = nullptr;
        const long block = std::strtol(name.c_str(), &end, 10);
        if (*end != '\0' || block >= impl->finished) h5::removeLink(c, blocks.get(), name);
    }
    h5::writeAttr(c, file, "status", std::string(runStatusName(RunStatus::Running)));
    h5::writeAttr(c, file, "status_message", std::string());
    impl->flush();
    return RunFileWriter(std::move(impl));
}

const std::filesystem::path& RunFileWriter::path() const noexcept { return m_impl->path; }
std::int32_t RunFileWriter::finishedBlocks() const noexcept { return m_impl->finished; }

void RunFileWriter::writeLayer(const LayerResult& r, const QuantizedLinear* params)
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    if (r.tensor.empty()) throw std::invalid_argument(c.file + ": writeLayer: empty tensor name");
    if (params) params->validate();
    Handle layers = h5::openGroup(c, m_impl->fid(), "layers");
    const std::string link = layerLinkName(r.tensor);
    h5::removeLink(c, layers.get(), link);
    Handle g = h5::createGroup(c, layers.get(), link);
    h5::writeAttr(c, g.get(), "tensor", r.tensor);
    h5::writeAttrInt(c, g.get(), "block", r.block, false);
    h5::writeAttr(c, g.get(), "method", r.method);
    h5::writeAttr(c, g.get(), "decided_by", r.decidedBy);
    h5::writeAttr(c, g.get(), "bits_per_weight", r.bitsPerWeight);
    h5::writeAttr(c, g.get(), "seconds", r.seconds);

    Handle metrics = h5::createGroup(c, g.get(), "metrics");
    for (const auto& [name, value] : r.metrics) h5::writeAttr(c, metrics.get(), name, value);
    if (r.arrays) {
        Handle arrays = h5::createGroup(c, g.get(), "arrays");
        for (const auto& [name, values] : r.arrays->values) {
            if (name.empty() || name.find('/') != std::string::npos || name == ".")
                throw std::invalid_argument(c.file + ": " + r.tensor + ": array name \"" + name +
                                            "\" is not a valid HDF5 name");
            h5::writeDataset(c, arrays.get(), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {hsize_t(values.size())},
                             values.data());
        }
    }
    if (params) writeParams(c, g.get(), *params);
    g.reset();
    layers.reset();
    m_impl->flush();
}

void RunFileWriter::writeBlock(std::int32_t block, const std::map<std::string, double>& metrics)
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    if (block < 0) throw std::invalid_argument(c.file + ": writeBlock: negative block " + std::to_string(block));
    Handle blocks = h5::openGroup(c, m_impl->fid(), "blocks");
    const std::string name = std::to_string(block);
    h5::removeLink(c, blocks.get(), name);
    Handle g = h5::createGroup(c, blocks.get(), name);
    for (const auto& [key, value] : metrics) h5::writeAttr(c, g.get(), key, value);
    g.reset();
    m_impl->flush();
}

void RunFileWriter::finishBlock(std::int32_t block)
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    if (block + 1 > m_impl->finished) {
        m_impl->finished = block + 1;
        h5::writeAttrInt(c, m_impl->fid(), "finished_blocks", m_impl->finished, false);
    }
    m_impl->flush();
}

void RunFileWriter::writeFinalEval(const nlohmann::json& eval)
{
    h5::silence();
    writeEvalGroup(m_impl->ctx, m_impl->fid(), eval);
    m_impl->flush();
}

void RunFileWriter::setStatus(RunStatus status, std::string_view message)
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    h5::writeAttr(c, m_impl->fid(), "status", std::string(runStatusName(status)));
    h5::writeAttr(c, m_impl->fid(), "status_message", std::string(message));
    m_impl->flush();
}

void RunFileWriter::flush()
{
    h5::silence();
    m_impl->flush();
}

void RunFileWriter::close()
{
    if (!m_impl || !m_impl->file.valid()) return;
    m_impl->flush();
    if (H5Fclose(m_impl->file.release()) < 0) m_impl->ctx.writeFail("file", "close");
}

} // namespace bq::quant
