#include "run_file_hdf5_guard.h"
#include "bq/util/errors.h"
#include "bq/util/mapped_file.h"
#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace bq::quant::h5guard {

namespace {

// The file's bytes and its name for messages.
struct FileBytes {
    std::string path;
    const unsigned char* b = nullptr;
    std::size_t n = 0;

    [[noreturn]] void fail(const std::string& field, const std::string& expected, std::size_t at) const
    {
        throw FormatError(path, field, expected, static_cast<std::int64_t>(at));
    }
    // True when [at, at + size) lies inside the file.
    bool holds(std::uint64_t at, std::uint64_t size) const { return at <= n && size <= n - at; }
};

std::uint64_t le(const unsigned char* p, int bytes)
{
    std::uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k)
        v = v << 8 | p[k];
    return v;
}

constexpr int kOffsetSize = 8; // size of offsets and of lengths in a run file (libhdf5's defaults)
constexpr std::size_t kVlenDescriptor = 4 + kOffsetSize + 4; // sequence length, heap collection address, index

// ---- global heap collections (HDF5 specification, "Global Heap") ------------------------------------------------

constexpr std::size_t kCollectionHeader = 16; // "GCOL", version 1, 3 reserved, collection size
constexpr std::size_t kObjectHeader = 16;     // heap object index (2), reference count (2), reserved (4), size (8)

// Calls f(index, size) for each object of the collection at `start` (which holds "GCOL", version 1, and fits the
// file), walking it as libhdf5 1.10 does: each object moves on by its header and its size rounded up to 8 bytes,
// the free-space object (index 0) by its size, and fewer than 16 bytes left are free space. libhdf5 loops forever
// on a step of 0 or one that wraps; those are refused.
template <class F>
void forEachHeapObject(const FileBytes& f, std::size_t start, F&& onObject)
{
    const std::size_t end = start + static_cast<std::size_t>(le(f.b + start + 8, 8));
    std::size_t p = start + kCollectionHeader;
    while (end - p >= kObjectHeader) {
        const unsigned index = static_cast<unsigned>(le(f.b + p, 2));
        const std::uint64_t objectSize = le(f.b + p + 8, 8);
        const std::uint64_t step = index > 0 ? kObjectHeader + ((objectSize + 7) & ~std::uint64_t(7)) : objectSize;
        if (step == 0 || step > end - p || (index > 0 && objectSize > end - p))
            f.fail("global heap collection at byte " + std::to_string(start) + ", object " + std::to_string(index) +
                       " of size " + std::to_string(objectSize),
                   "objects that fit the collection exactly (this one would make the HDF5 library loop forever)", p);
        if (index > 0) onObject(index, objectSize);
        p += static_cast<std::size_t>(step);
    }
}

bool isCollection(const FileBytes& f, std::uint64_t start)
{
    return f.holds(start, kCollectionHeader) && std::memcmp(f.b + start, "GCOL", 4) == 0 && f.b[start + 4] == 1 &&
           le(f.b + start + 8, 8) <= f.n - start && le(f.b + start + 8, 8) >= kCollectionHeader;
}

// ---- object headers (specification, "Version 2 Object Header") -------------------------------------------------

struct Message {
    unsigned type = 0;
    unsigned flags = 0;
    const unsigned char* data = nullptr;
    std::size_t size = 0;
    std::size_t at = 0; // file offset of the message data
};

constexpr unsigned kDataspace = 0x01, kDatatype = 0x03, kLayout = 0x08, kAttribute = 0x0C, kContinuation = 0x10;

// Calls f(message) for every message of the object header at `address` and of its continuation chunks: version 2
// ("OHDR", what libhdf5 writes with the 1.8 format bounds bitstudio uses; "OCHK" continuation chunks) or version 1
// (no signature; what h5py and older writers make, accepted so that such a file gets the error it deserves).
// Bounded: the chunks' bytes together never exceed the file's size (legitimate chunks do not overlap).
template <class F>
void forEachMessage(const FileBytes& f, std::uint64_t address, const std::string& item, F&& onMessage)
{
    const auto at = [&](std::uint64_t offset) { return static_cast<std::size_t>(std::min<std::uint64_t>(offset, f.n)); };
    const bool v2 = f.holds(address, 6) && std::memcmp(f.b + address, "OHDR", 4) == 0 && f.b[address + 4] == 2;
    const bool v1 = !v2 && f.holds(address, 16) && f.b[address] == 1;
    if (!v1 && !v2)
        f.fail(item + " (object header)", "an object header of version 1 or 2 (\"OHDR\")", at(address));
    std::uint64_t messagesStart = 0, messagesSize = 0;
    std::size_t messageHeader = 8; // version 1: type (2), size (2), flags (1), reserved (3)
    if (v2) {
        const unsigned headerFlags = f.b[address + 5];
        std::size_t prefix = 6 + ((headerFlags & 0x20) ? 16 : 0) + ((headerFlags & 0x10) ? 4 : 0);
        const int chunkSizeBytes = 1 << (headerFlags & 3);
        if (!f.holds(address, prefix + chunkSizeBytes)) f.fail(item + " (object header)", "a complete header", at(address));
        messagesSize = le(f.b + address + prefix, chunkSizeBytes);
        messagesStart = address + prefix + static_cast<std::size_t>(chunkSizeBytes);
        messageHeader = (headerFlags & 0x04) ? 6 : 4; // type (1), size (2), flags (1), [creation order (2)]
    } else {
        messagesSize = le(f.b + address + 8, 4); // version, reserved, message count, reference count, size, padding
        messagesStart = address + 16;
    }

    std::vector<std::pair<std::uint64_t, std::uint64_t>> chunks{{messagesStart, messagesSize}}; // start, size
    std::set<std::uint64_t> seen{address};
    std::uint64_t walked = 0;
    for (std::size_t k = 0; k < chunks.size(); ++k) {
        const auto [start, size] = chunks[k];
        walked += size;
        if (!f.holds(start, size) || walked > f.n)
            f.fail(item + " (object header chunk at byte " + std::to_string(start) + ")", "a chunk inside the file",
                   at(start));
        std::size_t p = static_cast<std::size_t>(start);
        const std::size_t end = p + static_cast<std::size_t>(size);
        while (end - p >= messageHeader) { // less than a message header left: the chunk's gap
            Message m;
            m.type = v2 ? f.b[p] : static_cast<unsigned>(le(f.b + p, 2));
            m.size = static_cast<std::size_t>(le(f.b + p + (v2 ? 1 : 2), 2));
            m.flags = f.b[p + (v2 ? 3 : 4)];
            m.at = p + messageHeader;
            m.data = f.b + m.at;
            if (m.size > end - m.at)
                f.fail(item + " (object header message at byte " + std::to_string(p) + ")",
                       "a message inside its chunk", p);
            if (m.type == kContinuation) {
                if (m.size < 16) f.fail(item + " (continuation message)", "an address and a length", m.at);
                const std::uint64_t next = le(m.data, 8), length = le(m.data + 8, 8);
                if (!seen.insert(next).second)
                    f.fail(item + " (continuation message)", "a chunk not seen before", m.at);
                if (!f.holds(next, length) || (v2 && (length < 8 || std::memcmp(f.b + next, "OCHK", 4) != 0)))
                    f.fail(item + " (continuation message)",
                           v2 ? "an \"OCHK\" chunk inside the file" : "a chunk inside the file", m.at);
                if (v2) chunks.emplace_back(next + 4, length - 8); // signature before, checksum after
                else chunks.emplace_back(next, length);
            }
            onMessage(m);
            p = m.at + m.size;
        }
    }
}

// ---- datatypes, dataspaces, descriptors --------------------------------------------------------------------------

// The base type size of a variable-length datatype message, or nullopt for any other class.
std::optional<std::uint64_t> vlenBaseSize(const FileBytes& f, const unsigned char* d, std::size_t size,
                                          const std::string& item, std::size_t at)
{
    if (size < 8) f.fail(item + " (datatype)", "a datatype message", at);
    if ((d[0] & 0x0F) != 9) return std::nullopt;
    if (size < 16) f.fail(item + " (datatype)", "a variable-length type with its base type", at);
    const std::uint64_t base = le(d + 8 + 4, 4);
    if (base == 0) f.fail(item + " (datatype)", "a base type of at least one byte", at);
    return base;
}

// Number of elements a dataspace message describes.
std::uint64_t elementCount(const FileBytes& f, const unsigned char* d, std::size_t size, const std::string& item,
                           std::size_t at)
{
    if (size < 4) f.fail(item + " (dataspace)", "a dataspace message", at);
    const unsigned version = d[0], rank = d[1];
    std::size_t dims = 0;
    if (version == 1) {
        dims = 8;
    } else if (version == 2) {
        if (d[3] == 2) return 0; // null dataspace
        dims = 4;
    } else {
        f.fail(item + " (dataspace)", "dataspace version 1 or 2", at);
    }
    if (rank > 32 || dims + std::size_t(rank) * kOffsetSize > size)
        f.fail(item + " (dataspace)", "at most 32 dimensions inside the message", at);
    std::uint64_t count = 1;
    for (unsigned r = 0; r < rank; ++r) {
        const std::uint64_t extent = le(d + dims + std::size_t(r) * kOffsetSize, kOffsetSize);
        if (extent != 0 && count > (f.n / kVlenDescriptor) / extent)
            f.fail(item + " (dataspace)", "no more string descriptors than the file can hold", at);
        count *= extent;
    }
    return count;
}

// `count` descriptors at `p`: each nil (collection address 0, which libhdf5 reads as an empty value) or naming an
// object of a global heap collection in this file whose size is its length times the base type's size.
void checkDescriptors(const FileBytes& f, const unsigned char* p, std::uint64_t count, std::uint64_t baseSize,
                      const std::string& item)
{
    for (std::uint64_t k = 0; k < count; ++k, p += kVlenDescriptor) {
        const std::size_t at = static_cast<std::size_t>(p - f.b);
        const std::uint64_t length = le(p, 4), collection = le(p + 4, kOffsetSize), index = le(p + 12, 4);
        if (collection == 0) continue;
        if (!isCollection(f, collection))
            f.fail(item + " (string descriptor)", "the address of a global heap collection in the file", at);
        std::optional<std::uint64_t> objectSize;
        forEachHeapObject(f, static_cast<std::size_t>(collection), [&](unsigned i, std::uint64_t size) {
            if (i == index && !objectSize) objectSize = size;
        });
        if (!objectSize)
            f.fail(item + " (string descriptor)",
                   "an object of the global heap collection at byte " + std::to_string(collection) + " (index " +
                       std::to_string(index) + " is not there)",
                   at);
        if (length * baseSize != *objectSize)
            f.fail(item + " (string descriptor)",
                   "a length equal to its heap object's size, " + std::to_string(*objectSize) + " bytes (found " +
                       std::to_string(length) + " elements of " + std::to_string(baseSize) + " bytes)",
                   at);
    }
}

// ---- the object HDF5 is about to read ----------------------------------------------------------------------------

struct Mapped {
    std::shared_ptr<const MappedFile> map;
    FileBytes bytes;
};

// Maps the run file as it is on disk (after a flush when this process may have written to it) and returns the
// address of the object header of `obj`.
std::pair<Mapped, std::uint64_t> mapObject(const h5::Ctx& c, hid_t obj, const std::string& item)
{
    unsigned intent = 0;
    if (H5Fget_intent(obj, &intent) >= 0 && (intent & H5F_ACC_RDWR) != 0) H5Fflush(obj, H5F_SCOPE_LOCAL);
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) c.readFail(item, "an object with a header address");
    Mapped m;
    m.map = MappedFile::open(c.file);
    m.bytes = {c.file, reinterpret_cast<const unsigned char*>(m.map->data()), m.map->size()};
    return {std::move(m), static_cast<std::uint64_t>(info.addr)};
}

std::string attributeName(const FileBytes& f, const Message& m, std::size_t nameAt, std::size_t nameSize,
                          const std::string& item)
{
    if (nameSize == 0 || nameAt + nameSize > m.size) f.fail(item + " (attribute message)", "a name", m.at);
    const auto* name = reinterpret_cast<const char*>(m.data + nameAt);
    return std::string(name, strnlen(name, nameSize));
}

} // namespace

void checkGlobalHeaps(const std::filesystem::path& path)
{
    const auto map = MappedFile::open(path);
    const FileBytes f{path.string(), reinterpret_cast<const unsigned char*>(map->data()), map->size()};
    for (std::size_t from = 0; from + kCollectionHeader <= f.n;) {
        const void* hit = memmem(f.b + from, f.n - from, "GCOL", 4);
        if (hit == nullptr) break;
        const std::size_t start = static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - f.b);
        from = start + 4;
        if (!isCollection(f, start)) continue; // HDF5 refuses other versions and collections past the end itself
        forEachHeapObject(f, start, [](unsigned, std::uint64_t) {});
        from = std::max(from, start + static_cast<std::size_t>(le(f.b + start + 8, 8))); // its strings are data
    }
}

void checkVlenAttribute(const h5::Ctx& c, hid_t obj, const std::string& name)
{
    const std::string item = h5::objectPath(obj) + "@" + name;
    const auto [mapped, address] = mapObject(c, obj, item);
    const FileBytes& f = mapped.bytes;
    bool found = false;
    forEachMessage(f, address, item, [&](const Message& m) {
        if (m.type != kAttribute) return;
        // Versions 1-3: version, flags, name size, datatype size, dataspace size, [encoding], name, type, space, data.
        if (m.size < 8) f.fail(item + " (attribute message)", "an attribute message header", m.at);
        const unsigned version = m.data[0];
        if (version < 1 || version > 3) f.fail(item + " (attribute message)", "attribute message version 1-3", m.at);
        const auto pad = [&](std::size_t s) { return version == 1 ? (s + 7) & ~std::size_t(7) : s; };
        const std::size_t nameSize = le(m.data + 2, 2), typeSize = le(m.data + 4, 2), spaceSize = le(m.data + 6, 2);
        const std::size_t nameAt = version == 3 ? 9 : 8;
        if (attributeName(f, m, nameAt, nameSize, item) != name) return;
        found = true;
        if (version > 1 && (m.data[1] & 0x03) != 0)
            f.fail(item, "an attribute with its own datatype and dataspace (not shared), as bitstudio writes", m.at);
        const std::size_t typeAt = nameAt + pad(nameSize), spaceAt = typeAt + pad(typeSize),
                          dataAt = spaceAt + pad(spaceSize);
        if (dataAt > m.size) f.fail(item + " (attribute message)", "datatype and dataspace inside the message", m.at);
        const auto base = vlenBaseSize(f, m.data + typeAt, typeSize, item, m.at + typeAt);
        if (!base) return;
        const std::uint64_t count = elementCount(f, m.data + spaceAt, spaceSize, item, m.at + spaceAt);
        if (count > (m.size - dataAt) / kVlenDescriptor)
            f.fail(item + " (attribute data)", std::to_string(count) + " string descriptors inside the message",
                   m.at + dataAt);
        checkDescriptors(f, m.data + dataAt, count, *base, item);
    });
    if (!found)
        f.fail(item, "an attribute stored in its object's header (dense attribute storage is not what bitstudio "
                     "writes)",
               static_cast<std::size_t>(std::min<std::uint64_t>(address, f.n)));
}

void checkVlenDataset(const h5::Ctx& c, hid_t dataset)
{
    const std::string item = h5::objectPath(dataset);
    const auto [mapped, address] = mapObject(c, dataset, item);
    const FileBytes& f = mapped.bytes;
    std::optional<Message> type, space, layout;
    forEachMessage(f, address, item, [&](const Message& m) {
        auto* slot = m.type == kDatatype ? &type : m.type == kDataspace ? &space : m.type == kLayout ? &layout
                                                                                                  : nullptr;
        if (slot == nullptr) return;
        if (*slot) f.fail(item, "one datatype, dataspace and layout message each", m.at);
        if (m.flags & 0x02) f.fail(item, "messages stored in the header (not shared), as bitstudio writes", m.at);
        *slot = m;
    });
    if (!type || !space || !layout) f.fail(item, "datatype, dataspace and layout messages", address);
    const auto base = vlenBaseSize(f, type->data, type->size, item, type->at);
    if (!base) return;
    const std::uint64_t count = elementCount(f, space->data, space->size, item, space->at);
    // Layout message version 3: version, class (0 compact: size, data; 1 contiguous: address, size; 2 chunked).
    const Message& l = *layout;
    if (l.size < 2 || l.data[0] != 3 || l.data[1] > 1)
        f.fail(item + " (layout)", "a version 3 compact or contiguous layout, as bitstudio writes strings", l.at);
    const unsigned char* data = nullptr;
    std::uint64_t available = 0;
    if (l.data[1] == 0) {
        if (l.size < 4) f.fail(item + " (layout)", "a compact layout with its size", l.at);
        available = std::min<std::uint64_t>(le(l.data + 2, 2), l.size - 4);
        data = l.data + 4;
    } else {
        if (l.size < 2 + 2 * kOffsetSize) f.fail(item + " (layout)", "a contiguous layout's address and size", l.at);
        const std::uint64_t at = le(l.data + 2, kOffsetSize);
        if (at == ~std::uint64_t(0)) return; // never written: HDF5 reads the fill value, an empty string
        available = le(l.data + 2 + kOffsetSize, kOffsetSize);
        if (!f.holds(at, available)) f.fail(item + " (layout)", "raw data inside the file", l.at);
        data = f.b + at;
    }
    if (count > available / kVlenDescriptor)
        f.fail(item + " (raw data)", std::to_string(count) + " string descriptors inside the dataset's storage",
               static_cast<std::size_t>(data - f.b));
    checkDescriptors(f, data, count, *base, item);
}

} // namespace bq::quant::h5guard
