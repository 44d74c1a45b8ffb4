// Pieces the run file writer and reader share: opening with checks, the header, layer group names.
#pragma once
#include "bq/quant/run/run_file.h"
#include "run_file_h5.h"
#include <filesystem>

namespace bq::quant {

// Opens an existing run file (read-only or read-write) and checks it is HDF5 with the run file schema and the
// /meta, /calib, /blocks and /layers groups. Throws bq::FormatError naming the file and the missing item.
h5::Handle openRunFile(const h5::Ctx& c, bool writable);
// File access properties: 1.8-compatible format (readable by old h5py), no failure where locks are unsupported.
h5::Handle runFileAccessProps();

RunHeader readRunHeader(const h5::Ctx& c, hid_t file);
std::int32_t readFinishedBlocks(const h5::Ctx& c, hid_t file);

// Replaces /eval with `eval` (run_file.h: numeric fields as float64 attributes, strings as string attributes,
// the whole object as JSON text). Does not flush.
void writeEvalGroup(const h5::Ctx& c, hid_t file, const nlohmann::json& eval);

// Tensor name -> HDF5 link name: '/' and '%' are percent-encoded, "." becomes "%2E" (HDF5 forbids those).
std::string layerLinkName(const std::string& tensor);

} // namespace bq::quant
