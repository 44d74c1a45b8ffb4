// A Hugging Face tokenizer.json (BPE, SentencePiece-style or byte-level), then a short text through it.
#include "fuzz_support.h"

#include "bq/tokenizer/hf_bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = bqfuzz::writeScratch("tokenizer.json", data, size);
    bqfuzz::expectCleanRefusal([&] {
        const auto tok = bq::HfBpeTokenizer::fromJsonFile(path);
        bqfuzz::exerciseTokenizer(*tok);
    });
    return 0;
}
