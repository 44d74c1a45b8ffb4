#include "bq/quant/run/fingerprint.h"
#include "bq/jobs/job.h"
#include "bq/model/model.h"
#include <algorithm>
#include <bit>
#include <cstdio>

namespace bq::quant {

void Fnv1a64::update(const void* data, std::size_t bytes) noexcept
{
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = m_state;
    for (std::size_t i = 0; i < bytes; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    m_state = h;
}

void Fnv1a64::updateU64(std::uint64_t v) noexcept
{
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    update(b, sizeof b);
}

void Fnv1a64::updateString(std::string_view s) noexcept
{
    updateU64(s.size());
    update(s.data(), s.size());
}

std::string Fnv1a64::text() const
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(m_state));
    return buf;
}

namespace {

void hashInt(Fnv1a64& h, std::int64_t v) { h.updateU64(static_cast<std::uint64_t>(v)); }
void hashFloat(Fnv1a64& h, float v) { h.updateU64(std::bit_cast<std::uint32_t>(v)); }

void hashConfig(Fnv1a64& h, const ModelConfig& c)
{
    h.updateString("config");
    h.updateString(c.arch);
    for (int v : {c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.headDim, c.vocabSize, c.maxSeqLen,
                  c.slidingWindow})
        hashInt(h, v);
    hashFloat(h, c.normEps);
    hashFloat(h, c.ropeTheta);
    hashInt(h, static_cast<int>(c.ropeStyle));
    hashInt(h, c.ropeScaling.has_value());
    if (c.ropeScaling) {
        hashFloat(h, c.ropeScaling->factor);
        hashFloat(h, c.ropeScaling->lowFreqFactor);
        hashFloat(h, c.ropeScaling->highFreqFactor);
        hashInt(h, c.ropeScaling->originalMaxPositions);
    }
    hashInt(h, c.tiedEmbeddings);
    hashInt(h, c.qkvBias);
    hashInt(h, c.qkNorm);
}

} // namespace

std::string modelFingerprint(const Model& model, const CancelToken* cancel)
{
    Fnv1a64 h;
    hashConfig(h, model.config);
    hashInt(h, static_cast<std::int64_t>(model.tensors.size()));
    constexpr std::size_t kSlice = std::size_t(64) << 20; // cancel granularity (~0.1 s of hashing)
    for (const auto& [name, t] : model.tensors) { // std::map: name order
        h.updateString(name);
        h.updateString(dtypeName(t.dtype));
        hashInt(h, static_cast<std::int64_t>(t.shape.size()));
        for (std::int64_t d : t.shape) hashInt(h, d);
        hashInt(h, static_cast<std::int64_t>(t.nbytes));
        for (std::size_t off = 0; off < t.nbytes; off += kSlice) {
            if (cancel) cancel->throwIfRequested();
            h.update(t.data + off, std::min(kSlice, t.nbytes - off));
        }
    }
    return h.text();
}

std::string calibrationFingerprint(std::int64_t samples, std::int64_t seqLen, const std::vector<std::int32_t>& ids,
                                   const nlohmann::json& sampling)
{
    Fnv1a64 h;
    h.updateString("calibration");
    hashInt(h, samples);
    hashInt(h, seqLen);
    hashInt(h, static_cast<std::int64_t>(ids.size()));
    for (std::int32_t id : ids) { // explicit little-endian 4-byte values
        const auto u = static_cast<std::uint32_t>(id);
        const unsigned char b[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                                    static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
        h.update(b, 4);
    }
    h.updateString(sampling.dump()); // object keys are sorted: canonical
    return h.text();
}

std::string recipeFingerprint(const nlohmann::json& recipe)
{
    Fnv1a64 h;
    h.updateString("recipe");
    h.updateString(recipe.dump());
    return h.text();
}

} // namespace bq::quant
