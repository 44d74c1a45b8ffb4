// A GGUF file: the container, its bitstudio layers, the model built from it and its embedded tokenizer.
#include "fuzz_support.h"

#include "bq/formats/bitstudio_gguf.h"
#include "bq/formats/gguf_file.h"
#include "bq/formats/gguf_model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = bqfuzz::writeScratch("model.gguf", data, size);
    bqfuzz::expectCleanRefusal([&] {
        const auto file = bq::GgufFile::open(path);
        for (const auto& [name, layer] : bq::readBitstudioLayers(*file))
            if (static_cast<std::int64_t>(layer.rows) * layer.cols < (1 << 16))
                (void)layer.dequantize();
    });
    bqfuzz::expectCleanRefusal([&] {
        const auto file = bq::GgufFile::open(path);
        if (const auto tok = bq::tokenizerFromGguf(*file))
            bqfuzz::exerciseTokenizer(*tok);
    });
    bqfuzz::expectCleanRefusal([&] {
        const auto model = bq::loadGgufModel(path);
        for (const auto& [name, t] : model->tensors)
            if (t.numel() > 0 && t.numel() < (1 << 16))
                (void)t.toFloat();
    });
    return 0;
}
