#include "bq/formats/safetensors_reader.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include "bq/util/mapped_file.h"
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace bq {

namespace {

// The reference implementation allows 100 MB; real headers are well under 1 MiB, and the parsed JSON takes up
// to ~25 bytes per text byte, so bitstudio stops at 16 MiB (bq/util/limits.h).
constexpr std::uint64_t kMaxHeader = limits::kMaxSafetensorsHeader;

// Element size of every safetensors dtype we know; 0 for unknown names.
int dtypeSize(const std::string& d)
{
    static const std::map<std::string, int> sizes = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},  {"U16", 2},
        {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"I64", 8},  {"U64", 8},
        {"F64", 8}};
    auto it = sizes.find(d);
    return it == sizes.end() ? 0 : it->second;
}

} // namespace

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path)
{
    const std::string p = path.string();
    auto file = MappedFile::open(path);
    const std::uint64_t size = file->size();
    if (size < 8)
        throw FormatError(p, "header length", "an 8-byte little-endian header length (file has " +
                                                  std::to_string(size) + " bytes)", 0);
    std::uint64_t n;
    std::memcpy(&n, file->data(), 8);
    if (n > kMaxHeader)
        throw FormatError(p, "header length", "at most 16 MiB (found " + std::to_string(n) + " bytes)", 0);
    if (n > size - 8)
        throw FormatError(p, "header length", "a header inside the file (" + std::to_string(n) + " bytes, but only " +
                                                  std::to_string(size - 8) + " follow)", 0);
    const char* text = reinterpret_cast<const char*>(file->data() + 8);
    checkJsonDepth(std::string_view(text, static_cast<std::size_t>(n)), p, "header");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text, text + n);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(p, "header", std::string("a JSON object (") + e.what() + ")", 8);
    }
    if (!header.is_object())
        throw FormatError(p, "header", "a JSON object", 8);

    std::shared_ptr<SafetensorsFile> st(new SafetensorsFile());
    st->m_path = path;
    st->m_file = file;
    st->m_dataStart = 8 + n;
    const std::uint64_t bufferSize = size - st->m_dataStart;

    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object() && !v.is_null())
                throw FormatError(p, "__metadata__", "an object of strings", 8);
            if (v.is_object())
                for (auto m = v.begin(); m != v.end(); ++m) {
                    if (!m.value().is_string())
                        throw FormatError(p, "__metadata__." + m.key(), "a string", 8);
                    st->m_metadata[m.key()] = m.value().get<std::string>();
                }
            continue;
        }
        const std::string field = "tensor '" + name + "'";
        if (!v.is_object())
            throw FormatError(p, field, "an object with dtype, shape and data_offsets", 8);
        SafetensorsEntry e;
        e.name = name;
        if (!v.contains("dtype") || !v["dtype"].is_string())
            throw FormatError(p, field + " dtype", "a string", 8);
        e.dtype = v["dtype"].get<std::string>();
        const int esize = dtypeSize(e.dtype);
        if (esize == 0)
            throw FormatError(p, field + " dtype", "a safetensors dtype (found \"" + e.dtype + "\")", 8);
        if (!v.contains("shape") || !v["shape"].is_array() || v["shape"].size() > 8)
            throw FormatError(p, field + " shape", "an array of at most 8 non-negative integers", 8);
        std::uint64_t numel = 1;
        for (const auto& d : v["shape"]) {
            if (!d.is_number_unsigned())
                throw FormatError(p, field + " shape", "non-negative integers", 8);
            const std::uint64_t dim = d.get<std::uint64_t>();
            if (dim == 0)
                throw FormatError(p, field + " shape[" + std::to_string(e.shape.size()) + "]",
                                  "a positive dimension (found 0)", 8);
            if (dim > (1ull << 48) || !checkedMul(numel, dim, numel))
                throw FormatError(p, field + " shape", "a size that fits in memory", 8);
            e.shape.push_back(static_cast<std::int64_t>(dim));
        }
        const auto& off = v.contains("data_offsets") ? v["data_offsets"] : nlohmann::json();
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw FormatError(p, field + " data_offsets", "[begin, end] non-negative integers", 8);
        e.begin = off[0].get<std::uint64_t>();
        e.end = off[1].get<std::uint64_t>();
        if (e.end < e.begin)
            throw FormatError(p, field + " data_offsets", "begin <= end", 8);
        std::uint64_t bytes;
        if (__builtin_mul_overflow(numel, std::uint64_t(esize), &bytes) || bytes != e.end - e.begin)
            throw FormatError(p, field + " data_offsets",
                              "end - begin = " + std::to_string(numel) + " elements x " + std::to_string(esize) +
                                  " bytes (found " + std::to_string(e.end - e.begin) + ")", 8);
        if (e.end > bufferSize)
            throw FormatError(p, field + " data_offsets",
                              "end inside the file (end " + std::to_string(e.end) + ", buffer has " +
                                  std::to_string(bufferSize) + " bytes)", 8);
        st->m_index[name] = st->m_entries.size();
        st->m_entries.push_back(std::move(e));
    }

    // No two tensors may share bytes.
    std::vector<const SafetensorsEntry*> sorted;
    for (const auto& e : st->m_entries)
        if (e.end > e.begin)
            sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](auto a, auto b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < sorted.size(); ++i)
        if (sorted[i]->begin < sorted[i - 1]->end)
            throw FormatError(p, "tensor '" + sorted[i]->name + "' data_offsets",
                              "no overlap with tensor '" + sorted[i - 1]->name + "'", 8);
    return st;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const noexcept
{
    auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_entries[it->second];
}

Tensor SafetensorsFile::tensor(const std::string& entryName, const std::string& name) const
{
    const SafetensorsEntry* e = find(entryName);
    if (!e)
        throw std::out_of_range(m_path.string() + ": tensor '" + entryName + "' is missing");
    Tensor t;
    if (e->dtype == "F32")
        t.dtype = DType::F32;
    else if (e->dtype == "F16")
        t.dtype = DType::F16;
    else if (e->dtype == "BF16")
        t.dtype = DType::BF16;
    else
        throw UnsupportedModel(m_path.string() + ": tensor '" + entryName + "' has dtype " + e->dtype +
                               "; only F32, F16 and BF16 weights are supported");
    t.name = name;
    t.shape = e->shape;
    t.data = m_file->data() + m_dataStart + e->begin;
    t.nbytes = e->end - e->begin;
    t.keepAlive = m_file;
    return t;
}

SafetensorsCheckpoint openSafetensorsDirectory(const std::filesystem::path& dir)
{
    namespace fs = std::filesystem;
    SafetensorsCheckpoint ck;
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> byFile;
    auto openOnce = [&](const std::string& fileName) {
        auto it = byFile.find(fileName);
        if (it != byFile.end())
            return it->second;
        auto f = SafetensorsFile::open(dir / fileName);
        byFile[fileName] = f;
        ck.files.push_back(f);
        return f;
    };
    const fs::path index = dir / "model.safetensors.index.json";
    if (fs::exists(index)) {
        const std::string p = index.string();
        std::string text;
        {
            auto mf = MappedFile::open(index);
            text.assign(reinterpret_cast<const char*>(mf->data()), mf->size());
        }
        checkJsonDepth(text, p, "file");
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw FormatError(p, "file", std::string("JSON (") + e.what() + ")");
        }
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            throw FormatError(p, "weight_map", "an object mapping tensor names to file names");
        for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
            if (!it.value().is_string())
                throw FormatError(p, "weight_map." + it.key(), "a file name string");
            const std::string fileName = it.value().get<std::string>();
            if (fileName.empty() || fileName.find('/') != std::string::npos || fileName == "..")
                throw FormatError(p, "weight_map." + it.key(), "a file name in the same directory");
            auto f = openOnce(fileName);
            if (!f->find(it.key()))
                throw FormatError((dir / fileName).string(), "tensor '" + it.key() + "'",
                                  "present (listed in model.safetensors.index.json)");
            ck.byTensor[it.key()] = f;
        }
        return ck;
    }
    std::vector<std::string> names;
    if (fs::exists(dir / "model.safetensors")) {
        names.push_back("model.safetensors");
    } else {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(dir, ec))
            if (entry.path().extension() == ".safetensors")
                names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
    }
    if (names.empty())
        throw FormatError(dir.string(), "model.safetensors", "a safetensors file (or model.safetensors.index.json)");
    for (const auto& n : names) {
        auto f = openOnce(n);
        for (const auto& e : f->entries()) {
            if (ck.byTensor.count(e.name))
                throw FormatError(f->path().string(), "tensor '" + e.name + "'", "a name not used by another shard");
            ck.byTensor[e.name] = f;
        }
    }
    return ck;
}

} // namespace bq
