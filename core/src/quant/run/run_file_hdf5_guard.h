// Checks that keep libhdf5 1.10 (Debian 12) from hanging or allocating without bound on a hostile run file.
// The library trusts two things a file can set freely: the size of each object in a global heap collection (a
// zero or wrapping size makes it loop forever) and the length field of a variable-length string descriptor (it
// allocates that many bytes, up to 4 GiB, before it looks at the heap object the descriptor names; a length
// below the object's size makes it copy past its buffer). Both were found by fuzz_run_file. Each check reads the
// file's bytes as the HDF5 file format specification lays them out and throws bq::FormatError naming the file and
// the item; they accept what libhdf5 and h5py write (8-byte offsets and lengths, version 1 or 2 object headers,
// attributes in the object header, compact or contiguous string datasets) and refuse the rest by name.
#pragma once
#include "run_file_h5.h"
#include <filesystem>

namespace bq::quant::h5guard {

// Before HDF5 opens the file: every global heap collection ("GCOL") is tiled exactly by its objects.
void checkGlobalHeaps(const std::filesystem::path& path);

// Before HDF5 converts a variable-length string: every descriptor of attribute `name` of `obj`, or of the
// string dataset `dataset`, is nil or names an existing global heap object whose size equals its length.
void checkVlenAttribute(const h5::Ctx& c, hid_t obj, const std::string& name);
void checkVlenDataset(const h5::Ctx& c, hid_t dataset);

} // namespace bq::quant::h5guard
