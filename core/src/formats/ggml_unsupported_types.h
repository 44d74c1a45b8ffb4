// The ggml types a GGUF may name that the tensor-type table does not read, with the reason, so the GGUF reader
// can refuse them clearly.
#pragma once
#include <cstdint>

namespace bq::ggml {

// ggml's name of type id ("IQ2_XXS"), or nullptr for an id ggml does not define.
const char* typeName(std::uint32_t id) noexcept;
// Why this build does not read type id (a phrase that completes "which this build cannot load: ...").
const char* unsupportedReason(std::uint32_t id) noexcept;

} // namespace bq::ggml
