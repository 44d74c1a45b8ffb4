#include "bq/tokenizer/gguf_pre_tokenizer.h"

#include "bq/tokenizer/hf_pipeline.h"

#include <array>

namespace bq {

namespace {

enum class Family { Gpt2, SmolLM, Llama3, Llama3KeepMerges, Qwen2 };

struct Alias {
    std::string_view name;
    Family family;
};

// llama.cpp's name -> pre-type mapping for the families whose regex lists we implement.
constexpr std::array kAliases{
    Alias{"default", Family::Gpt2},     Alias{"gpt-2", Family::Gpt2},        Alias{"gpt2", Family::Gpt2},
    Alias{"phi-2", Family::Gpt2},       Alias{"mpt", Family::Gpt2},          Alias{"olmo", Family::Gpt2},
    Alias{"jais", Family::Gpt2},        Alias{"smollm", Family::SmolLM},     Alias{"starcoder", Family::SmolLM},
    Alias{"refact", Family::SmolLM},    Alias{"command-r", Family::SmolLM},  Alias{"codeshell", Family::SmolLM},
    Alias{"exaone", Family::SmolLM},    Alias{"minerva", Family::SmolLM},    Alias{"llama-bpe", Family::Llama3},
    Alias{"llama3", Family::Llama3},    Alias{"llama-v3", Family::Llama3},   Alias{"falcon3", Family::Llama3},
    Alias{"pixtral", Family::Llama3},   Alias{"dbrx", Family::Llama3KeepMerges},
    Alias{"smaug-bpe", Family::Llama3KeepMerges},                            Alias{"qwen2", Family::Qwen2},
    Alias{"deepseek-r1-qwen", Family::Qwen2},
};

} // namespace

std::optional<GgufPreTokenizer> ggufPreTokenizer(std::string_view name)
{
    if (name.empty())
        name = "default";
    for (const Alias& a : kAliases) {
        if (a.name != name)
            continue;
        GgufPreTokenizer p;
        switch (a.family) {
        case Family::Gpt2:
            p.name = name == "default" ? "default" : "gpt-2";
            p.splits = {hf::kGpt2Pattern};
            break;
        case Family::SmolLM:
            p.name = "smollm";
            p.splits = {hf::kDigitPattern, hf::kGpt2Pattern};
            break;
        case Family::Llama3:
            p.name = "llama-bpe";
            p.splits = {hf::kLlama3Pattern};
            p.ignoreMerges = true;
            break;
        case Family::Llama3KeepMerges:
            p.name = std::string(name);
            p.splits = {hf::kLlama3Pattern};
            break;
        case Family::Qwen2:
            p.name = "qwen2";
            p.splits = {hf::kQwen2Pattern};
            p.nfc = true;
            break;
        }
        return p;
    }
    return std::nullopt;
}

std::string ggufPreTokenizerNames()
{
    std::string s;
    for (const Alias& a : kAliases) {
        if (!s.empty())
            s += ", ";
        s += a.name;
    }
    return s;
}

} // namespace bq
