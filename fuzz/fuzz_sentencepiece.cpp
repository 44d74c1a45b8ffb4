// A SentencePiece .model (protobuf), through the in-memory parser, then the tokenizer built from it.
#include "fuzz_support.h"

#include "bq/tokenizer/sentencepiece_model.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"

#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    bqfuzz::expectCleanRefusal([&] {
        const auto proto = bq::parseSentencePieceModel(bytes, "tokenizer.model");
        const auto tok = bq::makeSentencePieceTokenizer(proto, "tokenizer.model");
        bqfuzz::exerciseTokenizer(*tok);
    });
    return 0;
}
