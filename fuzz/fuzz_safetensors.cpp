// A safetensors file: header, entries, and every F32/F16/BF16 tensor materialised when it is small.
#include "fuzz_support.h"

#include "bq/formats/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = bqfuzz::writeScratch("model.safetensors", data, size);
    bqfuzz::expectCleanRefusal([&] {
        const auto file = bq::SafetensorsFile::open(path);
        for (const auto& e : file->entries()) {
            const bq::Tensor t = file->tensor(e.name);
            if (t.numel() > 0 && t.numel() < (1 << 16))
                (void)t.toFloat();
        }
    });
    return 0;
}
