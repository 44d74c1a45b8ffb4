// llama2.c tokenizer.bin. The vocabulary size comes from the model, not from the file: the first two input
// bytes choose it (1..65536), the rest is the file.
#include "fuzz_support.h"

#include "bq/tokenizer/sp_bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2)
        return 0;
    const int vocabSize = 1 + (data[0] | (data[1] << 8));
    const auto path = bqfuzz::writeScratch("tokenizer.bin", data + 2, size - 2);
    bqfuzz::expectCleanRefusal([&] {
        const auto tok = bq::SpBpeTokenizer::fromLlama2cFile(path, vocabSize);
        bqfuzz::exerciseTokenizer(*tok);
    });
    return 0;
}
