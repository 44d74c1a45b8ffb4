#include "run_file_h5.h"
#include "run_file_hdf5_guard.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include <algorithm>
#include <stdexcept>

namespace bq::quant::h5 {

Handle& Handle::operator=(Handle&& o) noexcept
{
    if (this != &o) {
        reset();
        m_id = o.m_id;
        m_closer = o.m_closer;
        o.m_id = H5I_INVALID_HID;
    }
    return *this;
}

void Handle::reset() noexcept
{
    if (m_id >= 0 && m_closer) m_closer(m_id);
    m_id = H5I_INVALID_HID;
}

namespace {
// No library shutdown at exit: after a failed H5Fclose (a write that hit a full disk or a file-size limit) HDF5
// 1.10 keeps the half-closed file in its table and its atexit handler (H5_term_library) crashes closing it again
// (SIGSEGV in H5F__close_cb, seen under RLIMIT_FSIZE). Every handle is closed explicitly (h5::Handle) and each
// write is followed by H5Fflush, so skipping the shutdown loses nothing. H5dont_atexit only works before the
// library initializes, hence a static initializer of this translation unit (linked whenever run files are used).
const bool g_noAtexit = [] {
    H5dont_atexit();
    return true;
}();
} // namespace

void silence()
{
    (void)g_noAtexit;
    // The automatic printer is per thread in the thread-safe build; setting it is cheap.
    thread_local bool done = false;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        done = true;
    }
}

std::string takeErrorStack()
{
    std::string out;
    auto walk = [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto& s = *static_cast<std::string*>(data);
        if (e->desc && *e->desc) {
            if (!s.empty()) s += "; ";
            s += e->desc;
        }
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk, &out);
    H5Eclear2(H5E_DEFAULT);
    return out;
}

void Ctx::readFail(const std::string& item, const std::string& expected) const
{
    std::string reason = takeErrorStack();
    throw FormatError(file, item, reason.empty() ? expected : expected + " (HDF5: " + reason + ")");
}

void Ctx::writeFail(const std::string& item, const std::string& what) const
{
    std::string reason = takeErrorStack();
    throw std::runtime_error(file + ": " + item + ": cannot " + what + (reason.empty() ? "" : " (HDF5: " + reason + ")"));
}

std::string objectPath(hid_t obj)
{
    const ssize_t n = H5Iget_name(obj, nullptr, 0);
    if (n <= 0) return "?";
    std::string s(std::size_t(n) + 1, '\0');
    H5Iget_name(obj, s.data(), s.size());
    s.resize(std::size_t(n));
    return s;
}

std::string joinPath(hid_t parent, const std::string& name)
{
    std::string p = objectPath(parent);
    return p == "/" ? "/" + name : p + "/" + name;
}

bool linkExists(hid_t parent, const std::string& name)
{
    const htri_t r = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
    if (r < 0) takeErrorStack();
    return r > 0;
}

void removeLink(const Ctx& c, hid_t parent, const std::string& name)
{
    if (linkExists(parent, name) && H5Ldelete(parent, name.c_str(), H5P_DEFAULT) < 0)
        c.writeFail(joinPath(parent, name), "delete");
}

std::vector<std::string> childNames(const Ctx& c, hid_t group)
{
    std::vector<std::string> names;
    auto visit = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
    };
    hsize_t idx = 0;
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, visit, &names) < 0)
        c.readFail(objectPath(group), "a readable group");
    return names;
}

std::vector<std::string> attributeNames(const Ctx& c, hid_t obj)
{
    std::vector<std::string> names;
    auto visit = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
    };
    hsize_t idx = 0;
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, visit, &names) < 0)
        c.readFail(objectPath(obj), "readable attributes");
    return names;
}

bool attributeExists(hid_t obj, const std::string& name)
{
    const htri_t r = H5Aexists(obj, name.c_str());
    if (r < 0) takeErrorStack();
    return r > 0;
}

Handle createGroup(const Ctx& c, hid_t parent, const std::string& name)
{
    Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.valid()) c.writeFail(joinPath(parent, name), "create group");
    return g;
}

Handle openGroup(const Ctx& c, hid_t parent, const std::string& name)
{
    const std::string item = joinPath(parent, name);
    if (!linkExists(parent, name)) throw FormatError(c.file, item, "a group (missing)");
    Handle g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.valid()) c.readFail(item, "a group");
    return g;
}

namespace {

Handle vlenStringType()
{
    Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    return t;
}

void writeScalarAttr(const Ctx& c, hid_t obj, const std::string& name, hid_t fileType, hid_t memType,
                     const void* value)
{
    if (attributeExists(obj, name) && H5Adelete(obj, name.c_str()) < 0)
        c.writeFail(objectPath(obj) + "@" + name, "replace attribute");
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(obj, name.c_str(), fileType, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!a.valid() || H5Awrite(a.get(), memType, value) < 0)
        c.writeFail(objectPath(obj) + "@" + name, "write attribute");
}

Handle openAttr(const Ctx& c, hid_t obj, const std::string& name, const char* expected)
{
    const std::string item = objectPath(obj) + "@" + name;
    if (!attributeExists(obj, name)) throw FormatError(c.file, item, std::string(expected) + " (missing)");
    Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!a.valid()) c.readFail(item, expected);
    Handle space(H5Aget_space(a.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1) c.readFail(item, std::string(expected) + " (scalar)");
    return a;
}

H5T_class_t attrClass(const Ctx& c, hid_t obj, const std::string& name)
{
    Handle a = openAttr(c, obj, name, "an attribute");
    Handle t(H5Aget_type(a.get()), H5Tclose);
    return H5Tget_class(t.get());
}

// Reads a string from an attribute or dataset of fixed or variable length string type.
template <class Read>
std::string readString(const Ctx& c, const std::string& item, hid_t storedType, Read read)
{
    if (H5Tget_class(storedType) != H5T_STRING) throw FormatError(c.file, item, "a string");
    if (H5Tis_variable_str(storedType) > 0) {
        Handle mem = vlenStringType();
        char* p = nullptr;
        if (read(mem.get(), &p) < 0) c.readFail(item, "a readable string");
        std::string s = p ? p : "";
        H5free_memory(p);
        return s;
    }
    const std::size_t size = H5Tget_size(storedType);
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), size + 1);
    std::string s(size + 1, '\0');
    if (read(mem.get(), s.data()) < 0) c.readFail(item, "a readable string");
    s.resize(std::char_traits<char>::length(s.c_str()));
    return s;
}

} // namespace

void writeAttr(const Ctx& c, hid_t obj, const std::string& name, const std::string& value)
{
    Handle t = vlenStringType();
    const char* p = value.c_str();
    writeScalarAttr(c, obj, name, t.get(), t.get(), &p);
}

void writeAttr(const Ctx& c, hid_t obj, const std::string& name, double value)
{
    writeScalarAttr(c, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void writeAttrInt(const Ctx& c, hid_t obj, const std::string& name, std::int64_t value, bool wide)
{
    if (wide) {
        writeScalarAttr(c, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
    } else {
        const auto v = static_cast<std::int32_t>(value);
        writeScalarAttr(c, obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &v);
    }
}

std::string readAttrString(const Ctx& c, hid_t obj, const std::string& name)
{
    Handle a = openAttr(c, obj, name, "a string attribute");
    Handle t(H5Aget_type(a.get()), H5Tclose);
    if (H5Tis_variable_str(t.get()) > 0) h5guard::checkVlenAttribute(c, obj, name);
    return readString(c, objectPath(obj) + "@" + name, t.get(),
                      [&](hid_t mem, void* buf) { return H5Aread(a.get(), mem, buf); });
}

double readAttrDouble(const Ctx& c, hid_t obj, const std::string& name)
{
    Handle a = openAttr(c, obj, name, "a numeric attribute");
    double v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) c.readFail(objectPath(obj) + "@" + name, "a numeric attribute");
    return v;
}

std::int64_t readAttrInt(const Ctx& c, hid_t obj, const std::string& name)
{
    Handle a = openAttr(c, obj, name, "an integer attribute");
    std::int64_t v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) c.readFail(objectPath(obj) + "@" + name, "an integer attribute");
    return v;
}

bool attrIsString(const Ctx& c, hid_t obj, const std::string& name) { return attrClass(c, obj, name) == H5T_STRING; }
bool attrIsInteger(const Ctx& c, hid_t obj, const std::string& name)
{
    return attrClass(c, obj, name) == H5T_INTEGER;
}

void writeDataset(const Ctx& c, hid_t parent, const std::string& name, hid_t fileType, hid_t memType,
                  const std::vector<hsize_t>& dims, const void* data)
{
    removeLink(c, parent, name);
    Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
    Handle d(H5Dcreate2(parent, name.c_str(), fileType, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose);
    if (!space.valid() || !d.valid()) c.writeFail(joinPath(parent, name), "create dataset");
    hsize_t count = 1;
    for (hsize_t n : dims) count *= n;
    if (count > 0 && H5Dwrite(d.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        c.writeFail(joinPath(parent, name), "write dataset");
}

namespace {
Handle openDataset(const Ctx& c, hid_t parent, const std::string& name)
{
    const std::string item = joinPath(parent, name);
    if (!linkExists(parent, name)) throw FormatError(c.file, item, "a dataset (missing)");
    Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) c.readFail(item, "a dataset");
    return d;
}
} // namespace

std::vector<hsize_t> datasetDims(const Ctx& c, hid_t parent, const std::string& name)
{
    Handle d = openDataset(c, parent, name);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) c.readFail(joinPath(parent, name), "a simple dataspace");
    std::vector<hsize_t> dims(std::size_t(rank), 0);
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    // The caller allocates product(dims) elements: the product (times the element size) must not overflow and
    // must be backed by the dataset's stored bytes (the writer stores datasets raw; a chunked file can claim any
    // extent with almost no chunks written).
    Handle type(H5Dget_type(d.get()), H5Tclose);
    const std::uint64_t elem = type.valid() ? std::uint64_t(H5Tget_size(type.get())) : 0;
    std::uint64_t bytes = std::max<std::uint64_t>(elem, 1), allowed = 0;
    bool ok = true;
    for (hsize_t n : dims)
        ok = ok && checkedMul(bytes, std::uint64_t(n), bytes);
    if (dims.empty() || std::any_of(dims.begin(), dims.end(), [](hsize_t n) { return n == 0; }))
        bytes = 0;
    const std::uint64_t stored = std::uint64_t(H5Dget_storage_size(d.get()));
    ok = ok && checkedMul(stored, limits::kHdf5BytesPerStoredByte, allowed) && bytes <= allowed;
    if (!ok) {
        std::string shape;
        for (hsize_t n : dims)
            shape += (shape.empty() ? "" : " x ") + std::to_string(n);
        throw FormatError(c.file, joinPath(parent, name) + " dimensions",
                          "an extent backed by the dataset's storage (" + shape + " elements of " +
                              std::to_string(elem) + " bytes, but only " + std::to_string(stored) +
                              " bytes are stored; at most " + std::to_string(limits::kHdf5BytesPerStoredByte) +
                              " x that is read)");
    }
    return dims;
}

void readDataset(const Ctx& c, hid_t parent, const std::string& name, hid_t memType, void* out)
{
    Handle d = openDataset(c, parent, name);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) == 0) return;
    if (H5Dread(d.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        c.readFail(joinPath(parent, name), "a readable dataset");
}

void writeStringDataset(const Ctx& c, hid_t parent, const std::string& name, const std::string& value)
{
    removeLink(c, parent, name);
    Handle t = vlenStringType();
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle d(H5Dcreate2(parent, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose);
    const char* p = value.c_str();
    if (!d.valid() || H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0)
        c.writeFail(joinPath(parent, name), "write string dataset");
}

std::string readStringDataset(const Ctx& c, hid_t parent, const std::string& name)
{
    Handle d = openDataset(c, parent, name);
    Handle t(H5Dget_type(d.get()), H5Tclose);
    if (H5Tis_variable_str(t.get()) > 0) h5guard::checkVlenDataset(c, d.get());
    return readString(c, joinPath(parent, name), t.get(), [&](hid_t mem, void* buf) {
        return H5Dread(d.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
}

} // namespace bq::quant::h5
