#include "bq/quant/run/fingerprint.h"
#include "bq/quant/run/run_file.h"
#include "bq/util/errors.h"
#include "run_file_common.h"
#include "run_file_params.h"
#include "bq/util/limits.h"
#include <algorithm>

namespace bq::quant {

using h5::Handle;

struct RunFileReader::Impl {
    std::filesystem::path path;
    h5::Ctx ctx;
    Handle file;
    RunHeader header;
    std::int32_t finished = 0;
};

namespace {

LayerResult readLayerResult(const h5::Ctx& c, hid_t g)
{
    LayerResult r;
    r.tensor = h5::readAttrString(c, g, "tensor");
    r.block = std::int32_t(h5::readAttrInt(c, g, "block"));
    r.method = h5::readAttrString(c, g, "method");
    r.decidedBy = h5::readAttrString(c, g, "decided_by");
    r.bitsPerWeight = h5::readAttrDouble(c, g, "bits_per_weight");
    r.seconds = h5::readAttrDouble(c, g, "seconds");
    Handle metrics = h5::openGroup(c, g, "metrics");
    for (const std::string& name : h5::attributeNames(c, metrics.get()))
        r.metrics[name] = h5::readAttrDouble(c, metrics.get(), name);
    if (h5::linkExists(g, "arrays")) {
        Handle arrays = h5::openGroup(c, g, "arrays");
        auto out = std::make_shared<LayerArrays>();
        for (const std::string& name : h5::childNames(c, arrays.get())) {
            const auto dims = h5::datasetDims(c, arrays.get(), name);
            if (dims.size() != 1) throw FormatError(c.file, h5::joinPath(arrays.get(), name), "float64 [k]");
            std::vector<double>& v = out->values[name];
            v.resize(std::size_t(dims[0]));
            h5::readDataset(c, arrays.get(), name, H5T_NATIVE_DOUBLE, v.data());
        }
        r.arrays = std::move(out);
    }
    return r;
}

} // namespace

RunFileReader::RunFileReader(const std::filesystem::path& path) : m_impl(std::make_unique<Impl>())
{
    m_impl->path = path;
    m_impl->ctx.file = path.string();
    m_impl->file = openRunFile(m_impl->ctx, false);
    m_impl->header = readRunHeader(m_impl->ctx, m_impl->file.get());
    m_impl->finished = readFinishedBlocks(m_impl->ctx, m_impl->file.get());
}

RunFileReader::RunFileReader(RunFileReader&&) noexcept = default;
RunFileReader& RunFileReader::operator=(RunFileReader&&) noexcept = default;
RunFileReader::~RunFileReader() = default;

const std::filesystem::path& RunFileReader::path() const noexcept { return m_impl->path; }
const RunHeader& RunFileReader::header() const noexcept { return m_impl->header; }
std::int32_t RunFileReader::finishedBlocks() const noexcept { return m_impl->finished; }

std::vector<LayerResult> RunFileReader::layers() const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    Handle layers = h5::openGroup(c, m_impl->file.get(), "layers");
    std::vector<LayerResult> out;
    for (const std::string& name : h5::childNames(c, layers.get())) {
        Handle g = h5::openGroup(c, layers.get(), name);
        out.push_back(readLayerResult(c, g.get()));
    }
    std::stable_sort(out.begin(), out.end(), [](const LayerResult& a, const LayerResult& b) {
        return a.block != b.block ? a.block < b.block : a.tensor < b.tensor;
    });
    return out;
}

std::vector<std::string> RunFileReader::quantizedLayerNames() const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    Handle layers = h5::openGroup(c, m_impl->file.get(), "layers");
    std::vector<std::string> out;
    for (const std::string& name : h5::childNames(c, layers.get())) {
        Handle g = h5::openGroup(c, layers.get(), name);
        if (h5::linkExists(g.get(), "params")) out.push_back(h5::readAttrString(c, g.get(), "tensor"));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::map<std::string, double> RunFileReader::blockMetrics(std::int32_t block) const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    Handle blocks = h5::openGroup(c, m_impl->file.get(), "blocks");
    std::map<std::string, double> out;
    const std::string name = std::to_string(block);
    if (!h5::linkExists(blocks.get(), name)) return out;
    Handle g = h5::openGroup(c, blocks.get(), name);
    for (const std::string& key : h5::attributeNames(c, g.get())) out[key] = h5::readAttrDouble(c, g.get(), key);
    return out;
}

std::vector<std::int32_t> RunFileReader::blocksWithMetrics() const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    Handle blocks = h5::openGroup(c, m_impl->file.get(), "blocks");
    std::vector<std::int32_t> out;
    for (const std::string& name : h5::childNames(c, blocks.get())) {
        char* end = nullptr;
        const long b = std::strtol(name.c_str(), &end, 10);
        if (*end == '\0' && !name.empty()) out.push_back(std::int32_t(b));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::optional<nlohmann::json> RunFileReader::finalEval() const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    if (!h5::linkExists(m_impl->file.get(), "eval")) return std::nullopt;
    Handle g = h5::openGroup(c, m_impl->file.get(), "eval");
    const std::string text = h5::readStringDataset(c, g.get(), "json");
    checkJsonDepth(text, c.file, "/eval/json");
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(c.file, "/eval/json", std::string("JSON text (") + e.what() + ")");
    }
}

QuantizedLinear RunFileReader::loadQuantizedLinear(const std::string& tensor) const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    Handle layers = h5::openGroup(c, m_impl->file.get(), "layers");
    const std::string link = layerLinkName(tensor);
    if (!h5::linkExists(layers.get(), link))
        throw FormatError(c.file, "/layers/" + link, "a stored layer for tensor " + tensor + " (missing)");
    Handle g = h5::openGroup(c, layers.get(), link);
    return readParams(c, g.get(), tensor);
}

QuantizedModel RunFileReader::loadQuantizedModel(const ModelOpener& open, bool verifyFingerprint) const
{
    h5::silence();
    const h5::Ctx& c = m_impl->ctx;
    const RunHeader& h = m_impl->header;
    QuantizedModel qm;
    qm.base = open(h.modelPath, h.tokenizerPath);
    if (!qm.base) throw FormatError(c.file, "/meta@model_path", "a model that opens: " + h.modelPath);
    // Only fingerprints this module made are checked (placeholders written by tests or tools are not).
    if (verifyFingerprint && h.modelFingerprint.rfind("fnv1a64:", 0) == 0) {
        const std::string now = modelFingerprint(*qm.base);
        if (now != h.modelFingerprint)
            throw FormatError(c.file, "/meta@model_fingerprint",
                              h.modelFingerprint + " for the model at " + h.modelPath + ", but it now hashes to " + now);
    }
    qm.recipe = h.recipe;
    qm.modelFingerprint = h.modelFingerprint;
    qm.calibrationFingerprint = h.calibrationFingerprint;
    qm.runPath = m_impl->path.string();

    Handle layers = h5::openGroup(c, m_impl->file.get(), "layers");
    for (const std::string& name : h5::childNames(c, layers.get())) {
        Handle g = h5::openGroup(c, layers.get(), name);
        if (!h5::linkExists(g.get(), "params")) continue;
        const auto block = h5::readAttrInt(c, g.get(), "block");
        if (block >= m_impl->finished) continue; // unfinished block: not part of the model yet
        const std::string tensor = h5::readAttrString(c, g.get(), "tensor");
        qm.layers.emplace(tensor, readParams(c, g.get(), tensor));
    }
    return qm;
}

} // namespace bq::quant
