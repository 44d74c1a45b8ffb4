// A Hugging Face config.json, through the in-memory parser.
#include "fuzz_support.h"

#include "bq/formats/hf_config.h"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    bqfuzz::expectCleanRefusal([&] { (void)bq::parseHfConfig(text, "config.json"); });
    return 0;
}
