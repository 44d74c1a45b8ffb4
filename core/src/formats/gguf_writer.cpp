#include "bq/formats/gguf_writer.h"
#include "bq/util/atomic_file.h"
#include <set>
#include <stdexcept>

namespace bq {

namespace {

class Out {
public:
    explicit Out(AtomicFile& f) : m_f(f) {}
    template <typename T> void put(T v) { m_f.write(&v, sizeof(T)); }
    void putString(const std::string& s)
    {
        put<std::uint64_t>(s.size());
        m_f.write(s);
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

private:
    AtomicFile& m_f;
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

void GgufWriter::write(const std::filesystem::path& path) const
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

    std::vector<std::uint64_t> offsets;
    std::uint64_t off = 0;
    for (const auto& t : m_tensors) {
        offsets.push_back(off);
        off = alignUp(off + t.nbytes, m_alignment);
    }

    AtomicFile f(path);
    Out o(f);
    f.write("GGUF", 4);
    o.put<std::uint32_t>(3);
    o.put<std::uint64_t>(m_tensors.size());
    o.put<std::uint64_t>(kv.size());
    for (const auto& [key, value] : kv) {
        o.putString(key);
        o.put<std::uint32_t>(static_cast<std::uint32_t>(value.type));
        o.putScalar(value.type, value);
    }
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        const Tensor& t = m_tensors[i];
        o.putString(t.name);
        o.put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
            o.put<std::uint64_t>(static_cast<std::uint64_t>(*it));
        o.put<std::uint32_t>(tensorType(t.dtype).ggmlType);
        o.put<std::uint64_t>(offsets[i]);
    }
    f.writeZeros(alignUp(f.position(), m_alignment) - f.position());
    const std::uint64_t dataStart = f.position();
    for (std::size_t i = 0; i < m_tensors.size(); ++i) {
        const Tensor& t = m_tensors[i];
        f.writeZeros(dataStart + offsets[i] - f.position());
        f.write(t.data, t.nbytes);
    }
    // Pad the last tensor too, as ggml's writer does.
    f.writeZeros(alignUp(f.position(), m_alignment) - f.position());
    f.commit();
}

} // namespace bq
