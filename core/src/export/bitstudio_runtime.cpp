#include "bq/export/bitstudio_runtime.h"
#include "bq/formats/bitstudio_gguf.h"
#include <map>
#include <memory>
#include <string>

namespace bq::exporter {

LinearFactory bitstudioLinearFactory(const std::filesystem::path& gguf, BitstudioKernel kernel)
{
    auto linears = std::make_shared<std::map<std::string, std::shared_ptr<const PackedLinear>>>();
    for (const auto& [name, q] : loadBitstudioLayers(gguf))
        linears->emplace(name, makeBitstudioPackedLinear(q, kernel));
    return [linears](const Model&, const std::string& name) -> std::shared_ptr<const PackedLinear> {
        const auto it = linears->find(name);
        return it == linears->end() ? nullptr : it->second;
    };
}

} // namespace bq::exporter
