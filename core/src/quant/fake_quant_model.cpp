#include "bq/quant/fake_quant_model.h"
#include "bq/quant/quantized_model.h"
#include "bq/model/model.h"
#include <map>
#include <stdexcept>

namespace bq::quant {

std::shared_ptr<const Model> makeFakeQuantizedModel(const QuantizedModel& q)
{
    if (!q.base)
        throw std::invalid_argument("makeFakeQuantizedModel: the quantized model has no base model");
    auto model = std::make_shared<Model>(*q.base);
    std::map<std::string, int> perMethod;
    for (const auto& [name, layer] : q.layers) {
        const MatrixXfR w = layer.dequantize();
        std::vector<float> values(w.data(), w.data() + w.size());
        const std::vector<std::int64_t> shape{layer.rows, layer.cols};
        if (name == "output.weight" && !model->find("output.weight"))
            model->config.tiedEmbeddings = false; // the head now differs from the embeddings
        else if (const Tensor* t = model->find(name); !t || t->rows() != layer.rows || t->cols() != layer.cols)
            throw std::invalid_argument("makeFakeQuantizedModel: " + name + " does not match a weight of " +
                                        q.base->sourcePath);
        model->tensors[name] = makeF32Tensor(name, shape, std::move(values));
        ++perMethod[layer.method];
    }
    if (!q.runPath.empty())
        model->metadata.emplace_back("bitstudio.run", q.runPath);
    for (const auto& [method, count] : perMethod)
        model->metadata.emplace_back("bitstudio.quantized." + method, std::to_string(count) + " tensors");
    model->sourceFormat = q.base->sourceFormat + "+fake-quant";
    return model;
}

} // namespace bq::quant

namespace bq::quant {

WeightOverrides QuantizedModel::fakeQuantOverrides() const
{
    WeightOverrides out;
    for (const auto& [name, layer] : layers) {
        const MatrixXfR w = layer.dequantize();
        out[name] = std::make_shared<const std::vector<float>>(w.data(), w.data() + w.size());
    }
    return out;
}

} // namespace bq::quant
