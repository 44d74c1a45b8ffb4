#include "bq/tokenizer/gguf_pre_tokenizer.h"

#include <array>
#include <deque>
#include <memory>

namespace bq {

namespace {

// The regex lists of llama.cpp's src/llama-vocab.cpp (llm_tokenizer_bpe), character for character: they are data
// that must match the models' tokenizer.json files. Where llama.cpp keeps the tokenizer.json regex only in a
// comment and runs an adapted one, the tokenizer.json one is here (PCRE2 runs it as the Hugging Face library's
// Oniguruma does):
//   gpt-4o, tekken  llama.cpp's splitter collapses \p{Lu}/\p{Ll}/... into one letter class, so it rewrites the
//                   case classes as "letter not a-z" / "letter not A-Z": non-ASCII capitals and combining marks
//                   split differently there (e.g. "ÉCOLE" is "É" + "COLE" in llama.cpp, one piece in tokenizers).
//   bailingmoe      tokenizer.json has possessive quantifiers (?+ ++) that llama.cpp made greedy; same pieces.
//   llama3-like     (?i:'s|...) instead of llama.cpp's spelled-out '[sS]|...: same pieces except Unicode case
//   (jais-2,        folding (tokenizers matches "'ſ" and "'\u212A" (the Kelvin sign), so do we).
//    seed-coder)
constexpr const char* kDeepseekLlm[] = {
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
};
constexpr const char* kDeepseekCoder[] = {
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}",
};
constexpr const char* kDeepseekV3[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};
constexpr const char* kGpt4o = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kTekken = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kSeedCoder = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\r\n]+|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kBailingMoe = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
constexpr const char* kJais2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}";
// BLOOM's tokenizer.json writes the class with a nested set, [^(\s|[.,!?…。，、।۔،])], which Oniguruma reads as
// a union; PCRE2 has no nested classes, so llama.cpp's flat spelling of the same set is used.
constexpr const char* kBloom = " ?[^(\\s|.,!?…。，、।۔،)]+";

struct Family {
    std::string_view name; // canonical name; empty: the alias itself is written back
    std::vector<std::string> splits;
    bool nfc = false;
    bool ignoreMerges = false;
};

enum FamilyId {
    Gpt2, SmolLM, Llama3, Llama3KeepMerges, Qwen2, DeepseekLlm, DeepseekCoder, DeepseekV3, Gpt4o, Tekken,
    SeedCoder, BailingMoe, Jais2, Bloom, Viking,
};

const std::vector<Family>& families()
{
    static const std::vector<Family> table = [] {
        std::vector<Family> t(Viking + 1);
        t[Gpt2] = {"gpt-2", {hf::kGpt2Pattern}};
        t[SmolLM] = {"smollm", {hf::kDigitPattern, hf::kGpt2Pattern}};
        t[Llama3] = {"llama-bpe", {hf::kLlama3Pattern}, false, true};
        t[Llama3KeepMerges] = {"", {hf::kLlama3Pattern}};
        t[Qwen2] = {"qwen2", {hf::kQwen2Pattern}, true};
        t[DeepseekLlm] = {"deepseek-llm", {std::begin(kDeepseekLlm), std::end(kDeepseekLlm)}};
        t[DeepseekCoder] = {"deepseek-coder", {std::begin(kDeepseekCoder), std::end(kDeepseekCoder)}};
        t[DeepseekV3] = {"deepseek-v3", {std::begin(kDeepseekV3), std::end(kDeepseekV3)}};
        t[Gpt4o] = {"gpt-4o", {kGpt4o}};
        t[Tekken] = {"tekken", {kTekken}, false, true};
        t[SeedCoder] = {"seed-coder", {kSeedCoder}};
        t[BailingMoe] = {"bailingmoe", {kBailingMoe}};
        t[Jais2] = {"jais-2", {kJais2}};
        t[Bloom] = {"bloom", {kBloom}};
        // Viking's tokenizer.json follows the BLOOM split with Digits(individual_digits).
        t[Viking] = {"viking", {kBloom, hf::kDigitPattern}};
        return t;
    }();
    return table;
}

struct Alias {
    std::string_view name;
    FamilyId family;
};

// llama.cpp's name -> pre-type mapping (llama_vocab::impl::load) for the families above. Not accepted, because
// their pipeline cannot be checked against a Hugging Face tokenizer.json here or needs more than Split regexes:
// falcon (its tokenizer.json also splits digit runs, which llama.cpp's list omits), chameleon (splits with other
// behaviours than Isolated), superbpe (a zero-width split), kimi-k2 and afmoe (llama.cpp's hand-written
// splitters; Kimi's tiktoken regex uses class intersection), qwen35, stablelm2, hunyuan, solar-open, grok-2,
// megrez, kormo and ufakzeka (normalizer unknown), tiny_aya, youtu, spark2_5, laguna, exaone-moe, minicpm5,
// granite-embed-multi-97m, gemma4, sarvam-moe and whitespace (no published pipeline checked here, or raw UTF-8
// SentencePiece-style BPE), and the embedding models' names (jina-*, roberta-bpe, modern-bert, granite-embed-*).
constexpr std::array kAliases{
    Alias{"default", Gpt2},           Alias{"gpt-2", Gpt2},
    Alias{"gpt2", Gpt2},              Alias{"phi-2", Gpt2},
    Alias{"mpt", Gpt2},               Alias{"olmo", Gpt2},
    Alias{"jais", Gpt2},              Alias{"trillion", Gpt2},
    Alias{"granite-docling", Gpt2},   Alias{"exaone4", Gpt2},
    Alias{"a.x-4.0", Gpt2},           Alias{"mellum", Gpt2},
    Alias{"gigachat", Gpt2},          Alias{"midm-2.0", Llama3},
    Alias{"lfm2", Llama3},
    Alias{"smollm", SmolLM},          Alias{"starcoder", SmolLM},
    Alias{"refact", SmolLM},          Alias{"command-r", SmolLM},
    Alias{"codeshell", SmolLM},       Alias{"exaone", SmolLM},
    Alias{"minerva", SmolLM},         Alias{"minerva-7b", SmolLM},
    Alias{"mellum2", SmolLM},         Alias{"llama-bpe", Llama3},
    Alias{"llama3", Llama3},          Alias{"llama-v3", Llama3},
    Alias{"falcon3", Llama3},         Alias{"pixtral", Llama3},
    Alias{"falcon-h1", Llama3},       Alias{"dbrx", Llama3KeepMerges},
    Alias{"smaug-bpe", Llama3KeepMerges}, Alias{"glm4", Llama3KeepMerges},
    Alias{"chatglm-bpe", Llama3KeepMerges}, Alias{"qwen2", Qwen2},
    Alias{"deepseek-r1-qwen", Qwen2}, Alias{"deepseek-llm", DeepseekLlm},
    Alias{"deepseek-coder", DeepseekCoder}, Alias{"deepseek-v3", DeepseekV3},
    Alias{"hunyuan-dense", DeepseekV3}, Alias{"joyai-llm", DeepseekV3},
    Alias{"hy_v4", DeepseekV3},       Alias{"gpt-4o", Gpt4o},
    Alias{"llama4", Gpt4o},           Alias{"kanana2", Gpt4o},
    Alias{"minimax-m2", Gpt4o},       Alias{"talkie", Gpt4o},
    Alias{"tekken", Tekken},
    Alias{"seed-coder", SeedCoder},   Alias{"bailingmoe", BailingMoe},
    Alias{"bailingmoe2", BailingMoe}, Alias{"llada-moe", BailingMoe},
    Alias{"jais-2", Jais2},           Alias{"bloom", Bloom},
    Alias{"gpt3-finnish", Bloom},     Alias{"poro-chat", Bloom},
    Alias{"viking", Viking},
};

} // namespace

std::optional<GgufPreTokenizer> ggufPreTokenizer(std::string_view name)
{
    if (name.empty())
        name = "default";
    for (const Alias& a : kAliases) {
        if (a.name != name)
            continue;
        const Family& f = families()[a.family];
        GgufPreTokenizer p;
        p.name = name == "default" ? "default" : std::string(f.name.empty() ? name : f.name);
        p.splits = f.splits;
        p.nfc = f.nfc;
        p.ignoreMerges = f.ignoreMerges;
        return p;
    }
    return std::nullopt;
}

std::optional<std::string> ggufPreTokenizerForSplits(const std::vector<std::string>& splits)
{
    // Alias order: the first alias of a family gives the name of families that write the alias back.
    for (const Alias& a : kAliases) {
        const Family& f = families()[a.family];
        if (f.splits == splits)
            return std::string(f.name.empty() ? a.name : f.name);
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

GgufPipeline ggufPipeline(const GgufPreTokenizer& pre)
{
    GgufPipeline p;
    if (pre.nfc)
        p.normalizer.add({hf::NormalizerStep::Kind::Nfc, {}, nullptr});
    for (const std::string& pattern : pre.splits) {
        hf::PreTokenizerStep split;
        split.kind = hf::PreTokenizerStep::Kind::Split;
        split.pattern = std::make_shared<Pcre2Regex>(pattern);
        p.preTokenizer.add(std::move(split));
    }
    return p;
}

std::vector<std::string> preTokenPieces(const GgufPipeline& pipeline, std::string_view text)
{
    const std::string normalized = pipeline.normalizer.empty() ? std::string(text) : pipeline.normalizer.run(text);
    std::vector<std::string_view> pieces;
    std::deque<std::string> arena;
    pipeline.preTokenizer.run(normalized, true, pieces, arena);
    return {pieces.begin(), pieces.end()};
}

} // namespace bq
