// Small RAII handles and typed helpers over the HDF5 C API, private to the run file implementation.
// Every failure throws: bq::FormatError(file, HDF5 object path, expectation + the HDF5 library's reason) for
// reads, std::runtime_error naming file and object for writes. The library's own stderr printing is disabled.
#pragma once
#include <hdf5.h>
#include <cstdint>
#include <string>
#include <vector>

namespace bq::quant::h5 {

// Owns one hid_t and closes it with the matching H5*close function.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) noexcept : m_id(id), m_closer(closer) {}
    Handle(Handle&& o) noexcept : m_id(o.m_id), m_closer(o.m_closer) { o.m_id = H5I_INVALID_HID; }
    Handle& operator=(Handle&& o) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }
    void reset() noexcept;
    hid_t release() noexcept { const hid_t id = m_id; m_id = H5I_INVALID_HID; return id; }
    hid_t get() const noexcept { return m_id; }
    bool valid() const noexcept { return m_id >= 0; }

private:
    hid_t m_id = H5I_INVALID_HID;
    Closer m_closer = nullptr;
};

// Turns off HDF5's automatic error printing for the calling thread (the core never prints).
void silence();
// The HDF5 error stack of this thread as one line ("" if empty), and clears it.
std::string takeErrorStack();

// Per-file context for messages: the file path as the user named it.
struct Ctx {
    std::string file;
    [[noreturn]] void readFail(const std::string& item, const std::string& expected) const;
    [[noreturn]] void writeFail(const std::string& item, const std::string& what) const;
};

std::string objectPath(hid_t obj);              // e.g. "/layers/blk.0.attn_q.weight"
std::string joinPath(hid_t parent, const std::string& name);
bool linkExists(hid_t parent, const std::string& name);
void removeLink(const Ctx& c, hid_t parent, const std::string& name); // no-op if absent
std::vector<std::string> childNames(const Ctx& c, hid_t group);       // name order
std::vector<std::string> attributeNames(const Ctx& c, hid_t obj);     // name order
bool attributeExists(hid_t obj, const std::string& name);

Handle createGroup(const Ctx& c, hid_t parent, const std::string& name);
Handle openGroup(const Ctx& c, hid_t parent, const std::string& name); // FormatError when missing

// Attributes (replaced when present). Strings are variable-length UTF-8 scalars.
void writeAttr(const Ctx& c, hid_t obj, const std::string& name, const std::string& value);
void writeAttr(const Ctx& c, hid_t obj, const std::string& name, double value);
void writeAttrInt(const Ctx& c, hid_t obj, const std::string& name, std::int64_t value, bool wide);
std::string readAttrString(const Ctx& c, hid_t obj, const std::string& name);
double readAttrDouble(const Ctx& c, hid_t obj, const std::string& name);
std::int64_t readAttrInt(const Ctx& c, hid_t obj, const std::string& name);
bool attrIsString(const Ctx& c, hid_t obj, const std::string& name);
bool attrIsInteger(const Ctx& c, hid_t obj, const std::string& name);

// Datasets: fileType is the stored type (e.g. H5T_IEEE_F32LE), memType the buffer type (H5T_NATIVE_FLOAT).
void writeDataset(const Ctx& c, hid_t parent, const std::string& name, hid_t fileType, hid_t memType,
                  const std::vector<hsize_t>& dims, const void* data);
std::vector<hsize_t> datasetDims(const Ctx& c, hid_t parent, const std::string& name);
// Reads the whole dataset; the caller sized `out` from datasetDims.
void readDataset(const Ctx& c, hid_t parent, const std::string& name, hid_t memType, void* out);
void writeStringDataset(const Ctx& c, hid_t parent, const std::string& name, const std::string& value);
std::string readStringDataset(const Ctx& c, hid_t parent, const std::string& name);

} // namespace bq::quant::h5
