#include "bq/formats/gguf_writer.h"
#include "bq/util/atomic_file.h"
#include <set>
#include <stdexcept>

namespace bq {

namespace {

// Serializes GGUF values into a sink: the file (AtomicFile) or a byte counter (GgufWriter::layout()).
template <typename Sink> class Out {
public:
    explicit Out(Sink& f) : m_f(f) {}
    template <typename T> void put(T v) { m_f.write(&v, sizeof(T)); }
    void putBytes(const void* p, std::size_t n) { m_f.write(p, n); }
    void putString(const std::string& s)
    {
        put<std::uint64_t>(s.size());
        m_f.write(s.data(), s.size());
    }
    void putScalar(GgufType t, const GgufValue& v)
    {
        switch (t) {
        case GgufType::UInt8: put<std::uint8_t>(static_cast<std::uint8_t>(v.u)); break;
        case GgufType::Int8: put<std::int8_t>(static_cast<std::int8_t>(v.i)); break;
        case GgufType::UInt16: put<std::uint16_t>(static_cast<std::uint16_t>(v.u)); break;
        case GgufType::Int16: put<std::int16_t>(static_cast<std::int16_t>(v.i)); break;
        case GgufType::UInt32: put<std::uint32_t>(static_cast<std::uint32_t>(v.u)); break;
        case GgufType::Int32: put<std::int32_t>(static_cast<std::int32_t>(v.i)); break;
        case GgufType::UInt64: put<std::uint64_t>(v.u); break;
        case GgufType::Int64: put<std::int64_t>(v.i); break;
        case GgufType::Float32: put<float>(static_cast<float>(v.f)); break;
        case GgufType::Float64: put<double>(v.f); break;
        case GgufType::Bool: put<std::uint8_t>(v.u ? 1 : 0); break;
        case GgufType::String: putString(v.s); break;
        case GgufType::Array: putArray(v); break;
        }
    }
    void putArray(const GgufValue& v)
    {
        put<std::uint32_t>(static_cast<std::uint32_t>(v.elemType));
        put<std::uint64_t>(v.arraySize());
        GgufValue tmp;
        switch (v.elemType) {
        case GgufType::String:
            for (const auto& s : v.strings)
                putString(s);
            break;
        case GgufType::Array:
            for (const auto& a : v.arrays)
                putArray(a);
            break;
        case GgufType::Float32:
        case GgufType::Float64:
            for (double x : v.floats) {
                tmp.f = x;
                putScalar(v.elemType, tmp);
            }
            break;
        case GgufType::Int8:
        case GgufType::Int16:
        case GgufType::Int32:
        case GgufType::Int64:
            for (auto x : v.ints) {
                tmp.i = x;
                putScalar(v.elemType, tmp);
            }
            break;
        default:
            for (auto x : v.uints) {
                tmp.u = x;
                putScalar(v.elemType, tmp);
            }
        }
    }

    // Header, metadata and tensor infos (everything before the alignment padding that precedes the data).
    void putHeader(const std::vector<std::pair<std::string, GgufValue>>& kv, const std::vector<Tensor>& tensors,
                   const std::vector<std::uint64_t>& offsets)
    {
        putBytes("GGUF", 4);
        put<std::uint32_t>(3);
        put<std::uint64_t>(tensors.size());
        put<std::uint64_t>(kv.size());
        for (const auto& [key, value] : kv) {
            putString(key);
            put<std::uint32_t>(static_cast<std::uint32_t>(value.type));
            putScalar(value.type, value);
        }
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const Tensor& t = tensors[i];
            putString(t.name);
            put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
            for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
                put<std::uint64_t>(static_cast<std::uint64_t>(*it));
            put<std::uint32_t>(tensorType(t.dtype).ggmlType);
            put<std::uint64_t>(offsets[i]);
        }
    }

private:
    Sink& m_f;
};

struct ByteCounter {
    std::uint64_t bytes = 0;
    void write(const void*, std::size_t n) { bytes += n; }
};

std::uint64_t alignUp(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

} // namespace

GgufWriter::GgufWriter(std::uint32_t alignment) : m_alignment(alignment)
{
    if (alignment < 8 || (alignment & (alignment - 1)) != 0)
        throw std::invalid_argument("GGUF alignment " + std::to_string(alignment) + " is not a power of two >= 8");
}

void GgufWriter::set(const std::string& key, GgufValue value)
{
    if (key == "general.alignment")
        return; // managed by write()
    for (auto& [k, v] : m_kv)
        if (k == key) {
            v = std::move(value);
            return;
        }
    m_kv.emplace_back(key, std::move(value));
}

bool GgufWriter::has(const std::string& key) const noexcept
{
    for (const auto& kv : m_kv)
        if (kv.first == key)
            return true;
    return false;
}

void GgufWriter::addTensor(const Tensor& t)
{
    if (t.name.empty() || t.name.size() > 63)
        throw std::invalid_argument("GGUF tensor name '" + t.name + "' must be 1 to 63 bytes");
    for (const auto& x : m_tensors)
        if (x.name == t.name)
            throw std::invalid_argument("GGUF tensor name '" + t.name + "' is used twice");
    if (t.shape.empty() || t.shape.size() > 4)
        throw std::invalid_argument("GGUF tensor '" + t.name + "' must have 1 to 4 dimensions, has " +
                                    std::to_string(t.shape.size()));
    const std::int64_t k = t.shape.back();
    if (k % dtypeBlockSize(t.dtype) != 0)
        throw std::invalid_argument("GGUF tensor '" + t.name + "': row length " + std::to_string(k) +
                                    " is not a multiple of the " + dtypeName(t.dtype) + " block size " +
                                    std::to_string(dtypeBlockSize(t.dtype)));
    const std::size_t expect = dtypeRowBytes(t.dtype, k) * static_cast<std::size_t>(t.rows());
    if (t.nbytes != expect)
        throw std::invalid_argument("GGUF tensor '" + t.name + "' " + t.shapeString() + " " + dtypeName(t.dtype) +
                                    " needs " + std::to_string(expect) + " bytes, has " + std::to_string(t.nbytes));
    m_tensors.push_back(t);
}

void GgufWriter::addTensor(const std::string& name, DType dtype, std::vector<std::int64_t> shape,
                           std::vector<std::byte> bytes)
{
    addTensor(makeOwnedTensor(name, dtype, std::move(shape), std::move(bytes)));
}

std::vector<std::pair<std::string, GgufValue>> GgufWriter::keyValues() const
{
    // general.alignment goes right after general.architecture (or first) when it is not the default.
    std::vector<std::pair<std::string, GgufValue>> kv = m_kv;
    if (m_alignment != 32) {
        std::size_t at = 0;
        for (std::size_t i = 0; i < kv.size(); ++i)
            if (kv[i].first == "general.architecture")
                at = i + 1;
        kv.insert(kv.begin() + static_cast<std::ptrdiff_t>(at), {"general.alignment", GgufValue::u32(m_alignment)});
    }
    return kv;
}

GgufWriter::Layout GgufWriter::layout() const
{
    Layout l;
    std::uint64_t off = 0;
    for (const auto& t : m_tensors) {
        l.offsets.push_back(off);
        off = alignUp(off + t.nbytes, m_alignment);
    }
    ByteCounter counter;
    Out<ByteCounter> o(counter);
    o.putHeader(keyValues(), m_tensors, l.offsets);
    l.headerBytes = alignUp(counter.bytes, m_alignment);
    // The last tensor is padded too, as ggml's writer does.
    l.fileBytes = l.headerBytes + off;
    return l;
}

void GgufWriter::write(const std::filesystem::path& path) const
{
    for (const auto& t : m_tensors)
        if (!t.data && t.nbytes > 0)
            throw std::logic_error("GGUF tensor '" + t.name + "' has no data (added for layout() only)");
    const Layout l = layout();
    AtomicFile f(path);
    Out<AtomicFile> o(f);
    o.putHeader(keyValues(), m_tensors, l.offsets);
    f.writeZeros(l.headerBytes - f.position());
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        const Tensor& t = m_tensors[i];
        f.writeZeros(l.headerBytes + l.offsets[i] - f.position());
        f.write(t.data, t.nbytes);
    }
    f.writeZeros(l.fileBytes - f.position());
    f.commit();
}

} // namespace bq
