// llama2.c checkpoints (v0 / v1 / v2): the input is the checkpoint; no tokenizer is required.
#include "fuzz_support.h"

#include "bq/formats/llama2c_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = bqfuzz::writeScratch("model.bin", data, size);
    bqfuzz::expectCleanRefusal([&] {
        const auto model = bq::loadLlama2cModel(path, {}, false);
        for (const auto& [name, t] : model->tensors)
            if (t.numel() > 0 && t.numel() < (1 << 16))
                (void)t.toFloat();
    });
    return 0;
}
