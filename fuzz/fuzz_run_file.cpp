// An HDF5 run file: the reader's checks, then everything it can list and load without the base model.
#include "fuzz_support.h"

#include "bq/quant/run/run_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = bqfuzz::writeScratch("run.h5", data, size);
    bqfuzz::expectCleanRefusal([&] {
        const bq::quant::RunFileReader run(path);
        (void)run.layers();
        for (std::int32_t block : run.blocksWithMetrics())
            (void)run.blockMetrics(block);
        (void)run.finalEval();
        for (const auto& name : run.quantizedLayerNames())
            (void)run.loadQuantizedLinear(name);
    });
    return 0;
}
