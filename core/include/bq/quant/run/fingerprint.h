// Stable content fingerprints for run files: a resumed run must start from the same model, the same
// calibration windows and the same recipe. The hash is FNV-1a 64-bit (offset basis 0xcbf29ce484222325, prime
// 0x100000001b3) over a canonical byte stream; the text form is "fnv1a64:" + 16 lower-case hex digits.
// Integers enter the stream as little-endian 8-byte values and strings as their length then their bytes, so
// different field boundaries cannot collide by concatenation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bq {
struct Model;
class CancelToken;
} // namespace bq

namespace bq::quant {

class Fnv1a64 {
public:
    void update(const void* data, std::size_t bytes) noexcept;
    void updateU64(std::uint64_t v) noexcept;     // 8 bytes, little-endian
    void updateString(std::string_view s) noexcept; // length, then bytes
    std::uint64_t value() const noexcept { return m_state; }
    std::string text() const; // "fnv1a64:0123456789abcdef"

private:
    std::uint64_t m_state = 0xcbf29ce484222325ull;
};

// Over the config (every ModelConfig field) and every tensor in name order: name, dtype, shape, bytes.
// Reads every byte of the model; checks `cancel` every 64 MiB (throws bq::Cancelled).
std::string modelFingerprint(const Model& model, const CancelToken* cancel = nullptr);
// Over the token windows (samples, seqLen, ids) and the sampling parameters (canonical JSON dump).
std::string calibrationFingerprint(std::int64_t samples, std::int64_t seqLen, const std::vector<std::int32_t>& ids,
                                   const nlohmann::json& sampling);
// Over the canonical JSON dump of the recipe.
std::string recipeFingerprint(const nlohmann::json& recipe);

} // namespace bq::quant
