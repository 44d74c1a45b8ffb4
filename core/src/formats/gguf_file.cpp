#include "bq/formats/gguf_file.h"
#include "ggml_unsupported_types.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include "bq/util/mapped_file.h"
#include <cstring>
#include <set>
#include <sstream>

namespace bq {

const char* ggufTypeName(GgufType t) noexcept
{
    switch (t) {
    case GgufType::UInt8: return "uint8";
    case GgufType::Int8: return "int8";
    case GgufType::UInt16: return "uint16";
    case GgufType::Int16: return "int16";
    case GgufType::UInt32: return "uint32";
    case GgufType::Int32: return "int32";
    case GgufType::Float32: return "float32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::UInt64: return "uint64";
    case GgufType::Int64: return "int64";
    case GgufType::Float64: return "float64";
    }
    return "?";
}

namespace {

bool isUnsignedType(GgufType t)
{
    return t == GgufType::UInt8 || t == GgufType::UInt16 || t == GgufType::UInt32 || t == GgufType::UInt64 ||
           t == GgufType::Bool;
}
bool isSignedType(GgufType t)
{
    return t == GgufType::Int8 || t == GgufType::Int16 || t == GgufType::Int32 || t == GgufType::Int64;
}
bool isFloatType(GgufType t) { return t == GgufType::Float32 || t == GgufType::Float64; }

// Bytes of one scalar element; 0 for string/array (variable).
std::uint64_t scalarSize(GgufType t)
{
    switch (t) {
    case GgufType::UInt8:
    case GgufType::Int8:
    case GgufType::Bool: return 1;
    case GgufType::UInt16:
    case GgufType::Int16: return 2;
    case GgufType::UInt32:
    case GgufType::Int32:
    case GgufType::Float32: return 4;
    case GgufType::UInt64:
    case GgufType::Int64:
    case GgufType::Float64: return 8;
    default: return 0;
    }
}

// "F32, F16, ..." in table order.
std::string storedTypeNames()
{
    std::string s;
    for (const TensorTypeTraits& t : tensorTypes())
        s += (s.empty() ? "" : ", ") + std::string(t.name);
    return s;
}

} // namespace

// ---- GgufValue ----

GgufValue GgufValue::u32(std::uint32_t v) { GgufValue x; x.type = GgufType::UInt32; x.u = v; return x; }
GgufValue GgufValue::i32(std::int32_t v) { GgufValue x; x.type = GgufType::Int32; x.i = v; return x; }
GgufValue GgufValue::u64(std::uint64_t v) { GgufValue x; x.type = GgufType::UInt64; x.u = v; return x; }
GgufValue GgufValue::f32(float v) { GgufValue x; x.type = GgufType::Float32; x.f = v; return x; }
GgufValue GgufValue::boolean(bool v) { GgufValue x; x.type = GgufType::Bool; x.u = v ? 1 : 0; return x; }
GgufValue GgufValue::str(std::string v) { GgufValue x; x.type = GgufType::String; x.s = std::move(v); return x; }

GgufValue GgufValue::stringArray(std::vector<std::string> v)
{
    GgufValue x;
    x.type = GgufType::Array;
    x.elemType = GgufType::String;
    x.strings = std::move(v);
    return x;
}

GgufValue GgufValue::f32Array(const std::vector<float>& v)
{
    GgufValue x;
    x.type = GgufType::Array;
    x.elemType = GgufType::Float32;
    x.floats.assign(v.begin(), v.end());
    return x;
}

GgufValue GgufValue::i32Array(const std::vector<std::int32_t>& v)
{
    GgufValue x;
    x.type = GgufType::Array;
    x.elemType = GgufType::Int32;
    x.ints.assign(v.begin(), v.end());
    return x;
}

std::size_t GgufValue::arraySize() const noexcept
{
    if (type != GgufType::Array)
        return 0;
    if (elemType == GgufType::String)
        return strings.size();
    if (elemType == GgufType::Array)
        return arrays.size();
    if (isFloatType(elemType))
        return floats.size();
    if (isSignedType(elemType))
        return ints.size();
    return uints.size();
}

std::string GgufValue::toDisplay() const
{
    std::ostringstream o;
    switch (type) {
    case GgufType::Bool: return u ? "true" : "false";
    case GgufType::String:
        if (s.size() > 200)
            return s.substr(0, 200) + "... (" + std::to_string(s.size()) + " bytes)";
        return s;
    case GgufType::Float32:
    case GgufType::Float64: o << f; return o.str();
    case GgufType::Array: {
        const std::size_t n = arraySize();
        const std::string what = elemType == GgufType::String ? "strings"
                                 : elemType == GgufType::Array ? "arrays"
                                                               : std::string(ggufTypeName(elemType)) + " values";
        std::string r = "[";
        r += std::to_string(n);
        r += ' ';
        r += what;
        r += ']';
        return r;
    }
    default:
        if (isSignedType(type))
            return std::to_string(i);
        return std::to_string(u);
    }
}

// ---- parser ----

class GgufParser {
public:
    GgufParser(GgufFile& out, const MappedFile& file) : m_out(out), m_p(file.data()), m_size(file.size()),
        m_path(file.path().string()) {}

    void parse();

private:
    GgufFile& m_out;
    const std::byte* m_p;
    std::uint64_t m_size;
    std::uint64_t m_pos = 0;
    std::string m_path;
    // Bytes of memory the parsed metadata may still take (kGgufMetadataBytesPerFileByte x file size + 1 MiB).
    std::uint64_t m_budget = 0;

    // Charges `bytes` of memory for `field` against the budget, before allocating them.
    void charge(std::uint64_t count, std::uint64_t each, const std::string& field, std::int64_t at)
    {
        std::uint64_t bytes;
        if (!checkedMul(count, each, bytes) || bytes > m_budget)
            fail(field, "metadata taking at most " + std::to_string(limits::kGgufMetadataBytesPerFileByte) +
                            " bytes of memory per byte of file (" + std::to_string(count) +
                            " elements would exceed the limit)", at);
        m_budget -= bytes;
    }

    [[noreturn]] void fail(const std::string& field, const std::string& expected, std::int64_t at) const
    {
        throw FormatError(m_path, field, expected, at);
    }
    std::uint64_t left() const { return m_size - m_pos; }
    void need(std::uint64_t n, const std::string& field) const
    {
        if (n > left())
            fail(field, std::to_string(n) + " bytes before the end of the file (" + std::to_string(left()) +
                            " left; the file is truncated)", m_pos);
    }
    template <typename T> T read(const std::string& field)
    {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, m_p + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return v;
    }
    std::string readString(const std::string& field)
    {
        const std::uint64_t at = m_pos;
        const auto len = read<std::uint64_t>(field + " length");
        if (len > left())
            fail(field + " length", "a string inside the file (length " + std::to_string(len) + ", " +
                                        std::to_string(left()) + " bytes left)", at);
        charge(1, len + sizeof(std::string), field, static_cast<std::int64_t>(at));
        std::string s(reinterpret_cast<const char*>(m_p + m_pos), static_cast<std::size_t>(len));
        m_pos += len;
        return s;
    }
    GgufType readType(const std::string& field)
    {
        const std::uint64_t at = m_pos;
        const auto t = read<std::uint32_t>(field);
        if (t > 12)
            fail(field, "a GGUF value type 0..12 (found " + std::to_string(t) + ")", at);
        return static_cast<GgufType>(t);
    }
    void readScalar(GgufType t, GgufValue& v, const std::string& field);
    void readValue(GgufType t, GgufValue& v, const std::string& field, int depth);
};

void GgufParser::readScalar(GgufType t, GgufValue& v, const std::string& field)
{
    v.type = t;
    const std::uint64_t at = m_pos;
    switch (t) {
    case GgufType::UInt8: v.u = read<std::uint8_t>(field); break;
    case GgufType::Int8: v.i = read<std::int8_t>(field); break;
    case GgufType::UInt16: v.u = read<std::uint16_t>(field); break;
    case GgufType::Int16: v.i = read<std::int16_t>(field); break;
    case GgufType::UInt32: v.u = read<std::uint32_t>(field); break;
    case GgufType::Int32: v.i = read<std::int32_t>(field); break;
    case GgufType::UInt64: v.u = read<std::uint64_t>(field); break;
    case GgufType::Int64: v.i = read<std::int64_t>(field); break;
    case GgufType::Float32: v.f = read<float>(field); break;
    case GgufType::Float64: v.f = read<double>(field); break;
    case GgufType::Bool: {
        const auto b = read<std::uint8_t>(field);
        if (b > 1)
            fail(field, "a bool (0 or 1, found " + std::to_string(b) + ")", at);
        v.u = b;
        break;
    }
    case GgufType::String: v.s = readString(field); break;
    case GgufType::Array: break;
    }
}

void GgufParser::readValue(GgufType t, GgufValue& v, const std::string& field, int depth)
{
    if (t != GgufType::Array) {
        readScalar(t, v, field);
        return;
    }
    if (depth > 4)
        fail(field, "arrays nested at most 4 deep", m_pos);
    v.type = GgufType::Array;
    v.elemType = readType(field + " element type");
    const std::uint64_t at = m_pos;
    const auto count = read<std::uint64_t>(field + " count");
    // The smallest an element can be: its scalar size, 8 (string length) or 12 (nested type + count).
    const std::uint64_t minElem = v.elemType == GgufType::String  ? 8
                                  : v.elemType == GgufType::Array ? 12
                                                                  : scalarSize(v.elemType);
    if (count > left() / minElem)
        fail(field + " count", "an array inside the file (" + std::to_string(count) + " " +
                                   ggufTypeName(v.elemType) + " elements, " + std::to_string(left()) +
                                   " bytes left)", at);
    const std::size_t n = static_cast<std::size_t>(count);
    // Memory per element: the parsed value of a nested array, a std::string, or an 8-byte scalar slot.
    charge(count, v.elemType == GgufType::Array ? sizeof(GgufValue) : v.elemType == GgufType::String ? 0 : 8,
           field + " count", static_cast<std::int64_t>(at));
    if (v.elemType == GgufType::String) {
        v.strings.reserve(n);
        for (std::size_t k = 0; k < n; ++k)
            v.strings.push_back(readString(field + "[" + std::to_string(k) + "]"));
    } else if (v.elemType == GgufType::Array) {
        v.arrays.resize(n);
        for (std::size_t k = 0; k < n; ++k)
            readValue(GgufType::Array, v.arrays[k], field + "[" + std::to_string(k) + "]", depth + 1);
    } else {
        GgufValue tmp;
        if (isFloatType(v.elemType))
            v.floats.reserve(n);
        else if (isSignedType(v.elemType))
            v.ints.reserve(n);
        else
            v.uints.reserve(n);
        for (std::size_t k = 0; k < n; ++k) {
            readScalar(v.elemType, tmp, field);
            if (isFloatType(v.elemType))
                v.floats.push_back(tmp.f);
            else if (isSignedType(v.elemType))
                v.ints.push_back(tmp.i);
            else
                v.uints.push_back(tmp.u);
        }
    }
}

void GgufParser::parse()
{
    need(4, "magic");
    if (std::memcmp(m_p, "GGUF", 4) != 0)
        fail("magic", "\"GGUF\" (bytes 47 47 55 46)", 0);
    m_pos = 4;
    const auto version = read<std::uint32_t>("version");
    if (version == 0x02000000u || version == 0x03000000u || version == 0x01000000u)
        fail("version", "a little-endian file (this is a big-endian GGUF, which is not supported)", 4);
    if (version != 2 && version != 3)
        fail("version", "2 or 3 (found " + std::to_string(version) + ")", 4);
    m_out.m_version = version;
    m_budget = m_size * limits::kGgufMetadataBytesPerFileByte + (1u << 20);
    const auto tensorCount = read<std::uint64_t>("tensor_count");
    const auto kvCount = read<std::uint64_t>("metadata_kv_count");
    // A KV is at least 13 bytes (key length, type, one byte); a tensor info at least 32.
    if (kvCount > left() / 13)
        fail("metadata_kv_count", "a count the file can hold (" + std::to_string(kvCount) + " for " +
                                      std::to_string(left()) + " bytes left)", 16);
    if (tensorCount > left() / 32)
        fail("tensor_count", "a count the file can hold (" + std::to_string(tensorCount) + " for " +
                                 std::to_string(left()) + " bytes left)", 8);

    charge(kvCount, sizeof(std::pair<std::string, GgufValue>) + 64, "metadata_kv_count", 16);
    m_out.m_kv.reserve(static_cast<std::size_t>(kvCount));
    for (std::uint64_t k = 0; k < kvCount; ++k) {
        const std::uint64_t at = m_pos;
        std::string key = readString("metadata key " + std::to_string(k));
        if (m_out.m_kvIndex.count(key))
            fail("metadata key '" + key + "'", "unique keys (duplicate)", at);
        const GgufType t = readType("'" + key + "' value type");
        GgufValue v;
        readValue(t, v, "'" + key + "'", 0);
        m_out.m_kvIndex[key] = m_out.m_kv.size();
        m_out.m_kv.emplace_back(std::move(key), std::move(v));
    }

    if (const GgufValue* a = m_out.find("general.alignment")) {
        const std::uint64_t av = isSignedType(a->type) ? static_cast<std::uint64_t>(a->i) : a->u;
        if ((a->type != GgufType::UInt32 && a->type != GgufType::UInt64 && a->type != GgufType::Int32) || av == 0 ||
            (av & (av - 1)) != 0 || av > (1u << 20))
            fail("general.alignment", "a power of two up to 1 MiB (uint32)", -1);
        m_out.m_alignment = av;
    }
    const std::uint64_t align = m_out.m_alignment;

    charge(tensorCount, sizeof(GgufTensorInfo) + 64, "tensor_count", 8);
    m_out.m_tensors.reserve(static_cast<std::size_t>(tensorCount));
    for (std::uint64_t k = 0; k < tensorCount; ++k) {
        GgufTensorInfo info;
        info.infoOffset = m_pos;
        info.name = readString("tensor " + std::to_string(k) + " name");
        const std::string field = "tensor '" + info.name + "'";
        if (m_out.m_tensorIndex.count(info.name))
            fail(field, "unique tensor names (duplicate)", info.infoOffset);
        const std::uint64_t dimsAt = m_pos;
        const auto nDims = read<std::uint32_t>(field + " n_dims");
        if (nDims < 1 || nDims > 4)
            fail(field + " n_dims", "1 to 4 (found " + std::to_string(nDims) + ")", dimsAt);
        std::uint64_t numel = 1;
        for (std::uint32_t d = 0; d < nDims; ++d) {
            const std::uint64_t at = m_pos;
            const auto ne = read<std::uint64_t>(field + " ne");
            if (ne == 0)
                fail(field + " ne[" + std::to_string(d) + "]", "a positive dimension (found 0)", at);
            if (ne > (1ull << 48) || !checkedMul(numel, ne, numel) || numel > (1ull << 50))
                fail(field + " ne[" + std::to_string(d) + "]", "a dimension that fits in memory (found " +
                                                                   std::to_string(ne) + ")", at);
            info.ne.push_back(ne);
        }
        const std::uint64_t typeAt = m_pos;
        info.ggmlType = read<std::uint32_t>(field + " type");
        const TensorTypeTraits* type = tensorTypeFromGgml(info.ggmlType);
        // Every row of the table has a dequantizer; the check stays so a row added without one is refused
        // instead of called.
        if (!type || !type->dequantizeRow) {
            const char* name = ggml::typeName(info.ggmlType);
            if (name)
                throw UnsupportedModel(m_path + ": tensor '" + info.name + "' has ggml type " + name + " (" +
                                       std::to_string(info.ggmlType) + "), which this build cannot load: " +
                                       (type ? "its reader has no dequantizer" : ggml::unsupportedReason(info.ggmlType)) +
                                       " (readable types: " + storedTypeNames() + ")");
            fail(field + " type", "a known ggml type id (found " + std::to_string(info.ggmlType) + ")", typeAt);
        }
        info.dtype = type->type;
        const auto block = static_cast<std::uint64_t>(type->blockSize);
        if (info.ne[0] % block != 0)
            fail(field + " ne[0]", "a multiple of the " + std::string(type->name) + " block size " +
                                       std::to_string(block) + " (found " + std::to_string(info.ne[0]) + ")",
                 dimsAt + 4);
        info.nbytes = numel / block * static_cast<std::uint64_t>(type->blockBytes);
        const std::uint64_t offAt = m_pos;
        info.offset = read<std::uint64_t>(field + " offset");
        if (info.offset % align != 0)
            fail(field + " offset", "a multiple of the alignment " + std::to_string(align) + " (found " +
                                        std::to_string(info.offset) + ")", offAt);
        m_out.m_tensorIndex[info.name] = m_out.m_tensors.size();
        m_out.m_tensors.push_back(std::move(info));
    }

    // The data section starts at the next multiple of the alignment.
    const std::uint64_t dataStart = (m_pos + align - 1) / align * align;
    m_out.m_dataStart = dataStart;
    for (const auto& info : m_out.m_tensors) {
        std::uint64_t end;
        if (__builtin_add_overflow(dataStart, info.offset, &end) || __builtin_add_overflow(end, info.nbytes, &end) ||
            end > m_size)
            fail("tensor '" + info.name + "' data", "its " + std::to_string(info.nbytes) + " bytes at data offset " +
                                                        std::to_string(info.offset) +
                                                        " inside the file (the file has " + std::to_string(m_size) +
                                                        " bytes; truncated?)", info.infoOffset);
    }
}

// ---- GgufFile ----

std::shared_ptr<const GgufFile> GgufFile::open(const std::filesystem::path& path)
{
    auto mf = MappedFile::open(path);
    std::shared_ptr<GgufFile> f(new GgufFile());
    f->m_path = path;
    f->m_file = mf;
    GgufParser(*f, *mf).parse();
    return f;
}

std::uint64_t GgufFile::fileSize() const noexcept { return m_file ? m_file->size() : 0; }

const GgufValue* GgufFile::find(const std::string& key) const noexcept
{
    auto it = m_kvIndex.find(key);
    return it == m_kvIndex.end() ? nullptr : &m_kv[it->second].second;
}

const GgufTensorInfo* GgufFile::findTensor(const std::string& name) const noexcept
{
    auto it = m_tensorIndex.find(name);
    return it == m_tensorIndex.end() ? nullptr : &m_tensors[it->second];
}

std::optional<std::string> GgufFile::getString(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (v->type != GgufType::String)
        throw FormatError(m_path.string(), key, std::string("a string (found ") + ggufTypeName(v->type) + ")");
    return v->s;
}

std::optional<std::int64_t> GgufFile::getInt(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (isSignedType(v->type))
        return v->i;
    if (isUnsignedType(v->type) && v->type != GgufType::Bool) {
        if (v->u > static_cast<std::uint64_t>(INT64_MAX))
            throw FormatError(m_path.string(), key, "an integer that fits in int64");
        return static_cast<std::int64_t>(v->u);
    }
    throw FormatError(m_path.string(), key, std::string("an integer (found ") + ggufTypeName(v->type) + ")");
}

std::optional<double> GgufFile::getFloat(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (isFloatType(v->type))
        return v->f;
    if (isSignedType(v->type) || (isUnsignedType(v->type) && v->type != GgufType::Bool))
        return static_cast<double>(*getInt(key));
    throw FormatError(m_path.string(), key, std::string("a number (found ") + ggufTypeName(v->type) + ")");
}

std::optional<bool> GgufFile::getBool(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return std::nullopt;
    if (v->type != GgufType::Bool)
        throw FormatError(m_path.string(), key, std::string("a bool (found ") + ggufTypeName(v->type) + ")");
    return v->u != 0;
}

std::int64_t GgufFile::requireInt(const std::string& key) const
{
    auto v = getInt(key);
    if (!v)
        throw FormatError(m_path.string(), key, "an integer (the key is missing)");
    return *v;
}

std::vector<std::string> GgufFile::getStringArray(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return {};
    if (v->type != GgufType::Array || v->elemType != GgufType::String)
        throw FormatError(m_path.string(), key, "an array of strings");
    return v->strings;
}

std::vector<float> GgufFile::getFloatArray(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return {};
    if (v->type != GgufType::Array || !isFloatType(v->elemType))
        throw FormatError(m_path.string(), key, "an array of floats");
    return std::vector<float>(v->floats.begin(), v->floats.end());
}

std::vector<std::int64_t> GgufFile::getIntArray(const std::string& key) const
{
    const GgufValue* v = find(key);
    if (!v)
        return {};
    if (v->type != GgufType::Array)
        throw FormatError(m_path.string(), key, "an array of integers");
    if (isSignedType(v->elemType))
        return v->ints;
    if (isUnsignedType(v->elemType)) {
        std::vector<std::int64_t> out;
        out.reserve(v->uints.size());
        for (auto x : v->uints)
            out.push_back(static_cast<std::int64_t>(x));
        return out;
    }
    throw FormatError(m_path.string(), key, "an array of integers");
}

Tensor GgufFile::tensor(const GgufTensorInfo& info, const std::string& name) const
{
    Tensor t;
    t.name = name;
    t.dtype = info.dtype;
    for (auto it = info.ne.rbegin(); it != info.ne.rend(); ++it)
        t.shape.push_back(static_cast<std::int64_t>(*it));
    t.data = m_file->data() + m_dataStart + info.offset;
    t.nbytes = static_cast<std::size_t>(info.nbytes);
    t.keepAlive = m_file;
    return t;
}

std::vector<std::pair<std::string, std::string>> GgufFile::displayMetadata() const
{
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(m_kv.size());
    for (const auto& [k, v] : m_kv)
        out.emplace_back(k, v.toDisplay());
    return out;
}

} // namespace bq
