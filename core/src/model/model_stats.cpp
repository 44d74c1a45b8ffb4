#include "bq/model/model_stats.h"
#include "bq/model/model.h"
#include <algorithm>
#include <iterator>

namespace bq {

namespace {

double bitsPer(std::uint64_t bytes, std::int64_t parameters)
{
    return parameters ? 8.0 * double(bytes) / double(parameters) : 0.0;
}

} // namespace

double TypeUsage::bitsPerWeight() const noexcept { return bitsPer(bytes, parameters); }

double ModelStats::bitsPerWeight() const noexcept { return bitsPer(bytes, parameters); }

double ModelStats::matrixBitsPerWeight() const noexcept { return bitsPer(matrixBytes, matrixParameters); }

ModelStats modelStats(const Model& model)
{
    std::vector<TypeUsage> all(tensorTypes().size());
    ModelStats s;
    for (const auto& [name, t] : model.tensors) {
        TypeUsage& u = all[static_cast<std::size_t>(t.dtype)];
        u.type = t.dtype;
        ++u.tensors;
        u.parameters += t.numel();
        u.bytes += t.nbytes;
        ++s.tensors;
        s.parameters += t.numel();
        s.bytes += t.nbytes;
        if (t.shape.size() == 2) {
            ++s.matrixTensors;
            s.matrixParameters += t.numel();
            s.matrixBytes += t.nbytes;
        }
    }
    std::copy_if(all.begin(), all.end(), std::back_inserter(s.byType),
                 [](const TypeUsage& u) { return u.tensors > 0; });
    return s;
}

} // namespace bq
