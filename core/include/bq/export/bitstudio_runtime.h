// A bitstudio GGUF file on the packed runtime: its quantized layers (formats/bitstudio_gguf.h) as bitstudio
// PackedLinears (runtime/bitstudio_linear.h). Lives in export because it joins the two parts.
#pragma once
#include "bq/runtime/bitstudio_linear.h"
#include <filesystem>

namespace bq::exporter {

// A PackedModelOptions::linearFactory for a bitstudio GGUF file: its quantized layers as bitstudio PackedLinears,
// null for every other name (built-in kernels or fp32). Reads the file once.
LinearFactory bitstudioLinearFactory(const std::filesystem::path& gguf, BitstudioKernel kernel = BitstudioKernel::Auto);

} // namespace bq::exporter
