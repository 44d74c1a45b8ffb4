// HfBpeTokenizer against the reference counts of the JavaScript port of Hugging Face tokenizers
// (shared/MANIFEST.md), plus hand-checked behaviours (special tokens, NFC, byte fallback, streaming, errors).
#include "bq/formats/gguf_file.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/gguf_writer.h"
#include "bq/formats/tokenizer_json_writer.h"
#include "bq/tokenizer/byte_level.h"
#include "bq/tokenizer/gguf_pre_tokenizer.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/hf_pipeline.h"
#include "bq/util/errors.h"
#include "support/test_support.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

namespace {

std::shared_ptr<bq::HfBpeTokenizer> load(const std::string& name)
{
    static std::map<std::string, std::shared_ptr<bq::HfBpeTokenizer>> cache;
    auto& t = cache[name];
    if (!t)
        t = bq::HfBpeTokenizer::fromJsonFile(bqtest::sharedPath("tokenizers/" + name + "/tokenizer.json"));
    return t;
}

void writeFile(const std::filesystem::path& p, const std::string& text)
{
    std::ofstream(p, std::ios::binary) << text;
}

struct FileCase {
    const char* tokenizer;
    const char* text;
    std::size_t count;
    std::vector<std::int32_t> firstIds;
};

} // namespace

TEST_CASE("whole-file token counts match the Hugging Face reference", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers and texts"))
        return;
    const std::string wiki = bqtest::readFile(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt"));
    const std::string tiny = bqtest::readFile(bqtest::sharedPath("data/tinystories/tinystories_val.txt"));
    const std::vector<FileCase> cases = {
        {"llama3", "wiki", 289076, {271, 284, 8563, 426, 11206, 466}},
        {"qwen3", "wiki", 299078, {271, 284, 8397, 425, 10965, 465}},
        {"sp32k", "wiki", 334660, {28705, 13, 13, 327, 5606, 365}},
        {"llama3", "tiny", 186044, {}},
        {"qwen3", "tiny", 186059, {}},
        {"sp32k", "tiny", 203668, {}},
    };
    for (const FileCase& c : cases) {
        const auto tok = load(c.tokenizer);
        const std::string& text = std::string(c.text) == "wiki" ? wiki : tiny;
        const auto t0 = std::chrono::steady_clock::now();
        const std::vector<std::int32_t> ids = tok->encode(text);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cout << "[hf tokenizer] " << c.tokenizer << " on " << c.text << ": " << ids.size() << " tokens in "
                  << secs << " s (" << text.size() / 1e6 / secs << " MB/s)\n";
        INFO(c.tokenizer << " on " << c.text);
        CHECK(ids.size() == c.count);
        for (std::size_t i = 0; i < c.firstIds.size() && i < ids.size(); ++i)
            CHECK(ids[i] == c.firstIds[i]);
        CHECK(tok->decode(ids) == text);
    }
}

TEST_CASE("tokenizer_config.json gives bos, eos, stop ids and the chat template", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const auto llama3 = load("llama3");
    CHECK(llama3->family() == "bpe-byte-level");
    CHECK(llama3->isByteLevel());
    CHECK(llama3->preTokenizerName() == "llama-bpe");
    CHECK(llama3->bosId() == 128000);
    CHECK(llama3->piece(128000) == "<|begin_of_text|>");
    CHECK(llama3->eosId() == 128001);
    CHECK(llama3->addsBosByDefault());
    const auto stops3 = llama3->stopIds();
    CHECK(std::find(stops3.begin(), stops3.end(), 128009) != stops3.end()); // <|eot_id|>
    CHECK(std::find(stops3.begin(), stops3.end(), 128001) != stops3.end());
    CHECK(llama3->vocabSize() == 128256);
    CHECK(llama3->kind(128009) == bq::TokenKind::Control);
    CHECK(llama3->chatTemplate().find("start_header_id") != std::string::npos);
    CHECK(llama3->merges().size() == 280147);
    CHECK(llama3->merges().front() == "\xC4\xA0 \xC4\xA0"); // "Ġ Ġ"
    CHECK(llama3->encode("hi", {true, false, false}).front() == 128000);

    const auto qwen3 = load("qwen3");
    CHECK(qwen3->preTokenizerName() == "qwen2");
    CHECK(qwen3->bosId() == -1);
    CHECK_FALSE(qwen3->addsBosByDefault());
    CHECK(qwen3->eosId() == 151645); // <|im_end|>
    const auto stopsQ = qwen3->stopIds();
    CHECK(std::find(stopsQ.begin(), stopsQ.end(), 151643) != stopsQ.end()); // <|endoftext|>
    CHECK(qwen3->merges().front() == "\xC4\xA0 \xC4\xA0");
    CHECK(qwen3->kind(151657) == bq::TokenKind::UserDefined); // <tool_call>, not special

    const auto sp = load("sp32k");
    CHECK(sp->family() == "bpe-sentencepiece");
    CHECK_FALSE(sp->isByteLevel());
    CHECK(sp->bosId() == 1);
    CHECK(sp->eosId() == 2);
    CHECK(sp->addsBosByDefault());
    CHECK(sp->kind(0) == bq::TokenKind::Control); // <unk> is a special added token in this file
    CHECK(sp->kind(sp->findPiece("<0x0A>")) == bq::TokenKind::Byte);
}

TEST_CASE("special tokens are recognised only with parseSpecial", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const auto qwen3 = load("qwen3");
    const std::string chat = "<|im_start|>user\nhi<|im_end|>";
    bq::EncodeOptions special;
    special.parseSpecial = true;
    const auto withSpecial = qwen3->encode(chat, special);
    std::vector<std::int32_t> expected{151644};
    const auto inner = qwen3->encode("user\nhi");
    expected.insert(expected.end(), inner.begin(), inner.end());
    expected.push_back(151645);
    CHECK(withSpecial == expected);
    CHECK(inner == std::vector<std::int32_t>{qwen3->findPiece("user"), qwen3->findPiece("\xC4\x8A"),
                                             qwen3->findPiece("hi")});

    const auto plain = qwen3->encode(chat);
    for (std::int32_t id : plain)
        CHECK(id < 151643);
    CHECK(plain.front() == qwen3->findPiece("<"));
    CHECK(qwen3->decode(plain) == chat);
    // Special tokens decode to nothing unless asked for.
    CHECK(qwen3->decode(withSpecial) == "user\nhi");
    CHECK(qwen3->decode(withSpecial, true) == chat);
    // Non-special added tokens are always matched.
    CHECK(qwen3->encode("<think>") == std::vector<std::int32_t>{qwen3->findPiece("<think>")});
    CHECK(qwen3->findPiece("<think>") == 151667);

    const auto llama3 = load("llama3");
    const auto l = llama3->encode("<|begin_of_text|>Hello<|eot_id|>", special);
    CHECK(l == std::vector<std::int32_t>{128000, llama3->findPiece("Hello"), 128009});
}

TEST_CASE("Qwen's NFC normalizer composes decomposed characters", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const std::string composed = "caf\xC3\xA9 au lait";    // é
    const std::string decomposed = "cafe\xCC\x81 au lait"; // e + U+0301
    const auto qwen3 = load("qwen3");
    CHECK(qwen3->encode(decomposed) == qwen3->encode(composed));
    // Llama 3 has no normalizer: the two spellings stay different.
    const auto llama3 = load("llama3");
    CHECK(llama3->encode(decomposed) != llama3->encode(composed));
    CHECK(llama3->decode(llama3->encode(decomposed)) == decomposed);
}

TEST_CASE("sp32k falls back to byte tokens for characters outside the vocabulary", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const auto sp = load("sp32k");
    const std::string ch = "\xF0\x9D\x94\xB8"; // U+1D538 MATHEMATICAL DOUBLE-STRUCK CAPITAL A
    REQUIRE(sp->findPiece(ch) < 0);
    const auto ids = sp->encode(ch);
    const std::vector<std::int32_t> expected{28705, sp->findPiece("<0xF0>"), sp->findPiece("<0x9D>"),
                                             sp->findPiece("<0x94>"), sp->findPiece("<0xB8>")};
    CHECK(ids == expected);
    CHECK(sp->decode(ids) == ch);
    // "Hello world": the prepended "▁" and the strip on decode.
    const auto hw = sp->encode("Hello world");
    CHECK(hw == std::vector<std::int32_t>{sp->findPiece("\xE2\x96\x81Hello"), sp->findPiece("\xE2\x96\x81world")});
    CHECK(sp->decode(hw) == "Hello world");
    CHECK(sp->decodeToken(1, hw[0]) == "Hello");       // after BOS: leading space stripped
    CHECK(sp->decodeToken(hw[0], hw[1]) == " world"); // mid-stream: kept
}

TEST_CASE("streaming decode never splits a UTF-8 character across byte-level tokens", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const auto llama3 = load("llama3");
    const std::string text = "A \xF0\x9F\xA6\x99 and \xE4\xB8\xAD\xE6\x96\x87 \xF0\x90\x8C\xB0!"; // llama, 中文, Gothic
    const auto ids = llama3->encode(text);
    bq::TokenStreamDecoder stream(*llama3);
    std::string joined;
    int partial = 0;
    for (std::int32_t id : ids) {
        const std::string raw = llama3->decodeToken(-2, id);
        if (bq::completeUtf8Prefix(raw) != raw.size())
            ++partial;
        const std::string out = stream.push(id);
        CHECK(bq::completeUtf8Prefix(out) == out.size());
        joined += out;
    }
    joined += stream.flush();
    CHECK(partial > 0); // the test really exercises a character split over tokens
    CHECK(joined == text);
}

TEST_CASE("encode is thread-safe and deterministic", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const auto qwen3 = load("qwen3");
    const std::string text = bqtest::readFile(bqtest::sharedPath("data/tinystories/tinystories_val.txt")).substr(0, 200000);
    std::vector<std::int32_t> a, b;
    std::thread t1([&] { a = qwen3->encode(text); });
    std::thread t2([&] { b = qwen3->encode(text); });
    t1.join();
    t2.join();
    CHECK(a == b);
    CHECK(a == qwen3->encode(text));
}

TEST_CASE("fromGguf rebuilds the same tokenizer from GGUF-style arrays", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const std::string text = bqtest::readFile(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt")).substr(0, 150000);
    for (const char* name : {"llama3", "qwen3"}) {
        const auto src = load(name);
        std::vector<std::string> tokens;
        std::vector<std::int32_t> types;
        for (std::int32_t i = 0; i < src->vocabSize(); ++i) {
            tokens.push_back(src->piece(i));
            const bq::TokenKind k = src->kind(i);
            types.push_back(k == bq::TokenKind::Control ? 3 : k == bq::TokenKind::UserDefined ? 4 : 1);
        }
        const auto gguf = bq::HfBpeTokenizer::fromGguf(tokens, types, src->merges(), src->preTokenizerName(),
                                                        src->bosId(), src->eosId(), src->addsBosByDefault());
        INFO(name);
        CHECK(gguf->encode(text) == src->encode(text));
        bq::EncodeOptions special;
        special.parseSpecial = true;
        const std::string chat = "<|im_start|>x<|eot_id|><|im_end|>";
        CHECK(gguf->encode(chat, special) == src->encode(chat, special));
        CHECK(gguf->stopIds() == src->stopIds());
        CHECK(gguf->preTokenizerName() == src->preTokenizerName());
    }
    CHECK_THROWS_AS(bq::HfBpeTokenizer::fromGguf({"a"}, {1}, {}, "no-such-pre", -1, -1, false), bq::FormatError);
}

TEST_CASE("a hand-made tokenizer.json merges by rank in both merge notations", "[tokenizer][hf]")
{
    bqtest::TempDir dir;
    const std::string vocab = R"({"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5,"Ġ":6,"Ġa":7,"<x>":8})";
    for (const char* merges : {R"(["b c","a b","a bc","Ġ a"])", R"([["b","c"],["a","b"],["a","bc"],["Ġ","a"]])"}) {
        writeFile(dir / "tokenizer.json",
                  std::string(R"({"added_tokens":[{"id":9,"content":"<sp>","special":true}],)") +
                      R"("normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},)" +
                      R"("decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":)" + vocab +
                      R"(,"merges":)" + merges + "}}");
        const auto t = bq::HfBpeTokenizer::fromJsonFile(dir / "tokenizer.json");
        // "abc": b+c (rank 0) before a+b (rank 1), then a+bc.
        CHECK(t->encode("abc") == std::vector<std::int32_t>{5});
        // "abab ca": the GPT-2 regex splits "abab" and " ca"; "Ġ c" and "c a" have no merge.
        CHECK(t->encode("abab ca") == std::vector<std::int32_t>{3, 3, 6, 2, 0});
        CHECK(t->encode(" a") == std::vector<std::int32_t>{7});
        CHECK(t->decode({7, 4}) == " abc");
        bq::EncodeOptions special;
        special.parseSpecial = true;
        CHECK(t->encode("a<sp>a", special) == std::vector<std::int32_t>{0, 9, 0});
        CHECK(t->vocabSize() == 10);
        CHECK(t->bosId() == -1);
        CHECK(t->preTokenizerName() == "gpt-2");
    }
}

TEST_CASE("ignore_merges, lstrip/rstrip added tokens and empty input", "[tokenizer][hf]")
{
    bqtest::TempDir dir;
    const auto make = [&](bool ignoreMerges) {
        writeFile(dir / "tokenizer.json",
                  std::string(R"({"added_tokens":[{"id":6,"content":"<m>","special":false,"lstrip":true,"rstrip":true,)") +
                      R"("normalized":false}],"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},)" +
                      R"("model":{"type":"BPE","ignore_merges":)" + (ignoreMerges ? "true" : "false") +
                      R"(,"vocab":{"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5,"Ġ":7},"merges":["a b","b c"]}})");
        return bq::HfBpeTokenizer::fromJsonFile(dir / "tokenizer.json");
    };
    // No merge builds "abc": BPE gives ab + c, ignore_merges takes the whole pre-token.
    CHECK(make(false)->encode("abc") == std::vector<std::int32_t>{3, 2});
    const auto t = make(true);
    CHECK(t->encode("abc") == std::vector<std::int32_t>{5});
    // lstrip/rstrip: the spaces around <m> belong to the token.
    CHECK(t->encode("a <m> b") == std::vector<std::int32_t>{0, 6, 1});
    CHECK(t->encode("a b") == std::vector<std::int32_t>{0, 7, 1});
    CHECK(t->encode("").empty());
    CHECK(t->decode({0, 6, 1}) == "a<m>b");
}

TEST_CASE("invalid UTF-8 is encoded byte by byte and round-trips", "[tokenizer][hf]")
{
    if (!bqtest::haveShared("HF tokenizers"))
        return;
    const std::string bad = "ok \xFF\xFE caf\xC3 x\xE2\x82 end";
    for (const char* name : {"llama3", "qwen3", "sp32k"}) {
        INFO(name);
        const auto tok = load(name);
        const auto ids = tok->encode(bad);
        CHECK(ids.size() >= 8);
        CHECK(tok->decode(ids) == bad);
    }
    const auto sp = load("sp32k");
    const auto ids = sp->encode("\xFF");
    CHECK(ids == std::vector<std::int32_t>{28705, sp->findPiece("<0xFF>")});
}

TEST_CASE("malformed tokenizer.json files raise FormatError naming the field", "[tokenizer][hf]")
{
    bqtest::TempDir dir;
    const auto expectError = [&](const std::string& json, const std::string& field) {
        writeFile(dir / "tokenizer.json", json);
        try {
            bq::HfBpeTokenizer::fromJsonFile(dir / "tokenizer.json");
            FAIL("no error for " << field);
        } catch (const bq::FormatError& e) {
            CHECK(e.field() == field);
            CHECK(e.path() == (dir / "tokenizer.json").string());
            CHECK(std::string(e.what()).find(field) != std::string::npos);
        }
    };
    const std::string model = R"("model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";
    expectError(R"({"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Whitespace"}]},)" + model + "}",
                "pre_tokenizer.pretokenizers[0].type");
    expectError(R"({"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"BertNormalizer"}]},)" +
                    model + "}",
                "normalizer.normalizers[1].type");
    expectError(R"({"decoder":{"type":"WordPiece"},)" + model + "}", "decoder.type");
    expectError(R"({"model":{"type":"Unigram","vocab":[]}})", "model.type");
    expectError(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["a z"]}})", "model.merges[0]");
    expectError(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"added_tokens":[{"content":"x"}]})",
                "added_tokens[0].id");
    expectError(R"({"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"},)" +
                    model + "}",
                "pre_tokenizer.pattern.Regex");
    expectError(R"({"model": {"type": "BPE", "vocab": )", "json");
    expectError(R"({"normalizer":null})", "model");
    CHECK_THROWS_AS(bq::HfBpeTokenizer::fromJsonFile(dir / "missing.json"), bq::FormatError);
}

TEST_CASE("tokenizer.ggml.pre names map to llama.cpp's regex lists", "[tokenizer][hf][gguf]")
{
    const auto smol = bq::ggufPreTokenizer("smollm");
    REQUIRE(smol);
    CHECK(smol->name == "smollm");
    CHECK(smol->splits == std::vector<std::string>{bq::hf::kDigitPattern, bq::hf::kGpt2Pattern});
    CHECK_FALSE(smol->ignoreMerges);
    CHECK_FALSE(smol->nfc);
    for (const char* same : {"starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"})
        CHECK(bq::ggufPreTokenizer(same)->splits == smol->splits);
    for (const char* l3 : {"llama3", "llama-bpe", "llama-v3", "falcon3", "pixtral"}) {
        INFO(l3);
        CHECK(bq::ggufPreTokenizer(l3)->name == "llama-bpe");
        CHECK(bq::ggufPreTokenizer(l3)->ignoreMerges);
    }
    CHECK_FALSE(bq::ggufPreTokenizer("dbrx")->ignoreMerges);
    CHECK(bq::ggufPreTokenizer("dbrx")->splits == std::vector<std::string>{bq::hf::kLlama3Pattern});
    CHECK(bq::ggufPreTokenizer("deepseek-r1-qwen")->nfc);
    CHECK(bq::ggufPreTokenizer("")->name == "default");
    CHECK(bq::ggufPreTokenizer("mpt")->splits == std::vector<std::string>{bq::hf::kGpt2Pattern});
    CHECK_FALSE(bq::ggufPreTokenizer("falcon")); // its tokenizer.json pipeline is not Split regexes alone: refused
    try {
        bq::HfBpeTokenizer::fromGguf({"a"}, {1}, {}, "kimi-k2", -1, -1, false, "x.gguf");
        FAIL("kimi-k2 accepted");
    } catch (const bq::FormatError& e) {
        CHECK_THAT(e.what(), Catch::Contains("x.gguf") && Catch::Contains("tokenizer.ggml.pre") &&
                                 Catch::Contains("smollm") && Catch::Contains("\"kimi-k2\""));
    }
}

TEST_CASE("a GGUF naming each added pre-tokenizer loads, and an unknown name is refused with the list",
          "[tokenizer][hf][gguf]")
{
    // One single-character token per byte (GPT-2's byte alphabet), no merges: every text encodes byte by byte.
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b)
        tokens.push_back(bq::byte_level::encode(std::string(1, static_cast<char>(b))));
    bqtest::TempDir tmp;
    const auto writeVocab = [&](const std::string& pre) {
        const auto path = tmp / (pre + ".gguf");
        bq::GgufWriter w;
        w.set("tokenizer.ggml.model", bq::GgufValue::str("gpt2"));
        w.set("tokenizer.ggml.pre", bq::GgufValue::str(pre));
        w.set("tokenizer.ggml.tokens", bq::GgufValue::stringArray(tokens));
        w.set("tokenizer.ggml.merges", bq::GgufValue::stringArray({}));
        w.write(path);
        return path;
    };
    // name -> canonical name written back, and a text whose pieces tell the family apart.
    struct Case {
        const char* name;
        const char* canonical;
        std::string text;
        std::vector<std::string> pieces;
    };
    const std::vector<Case> cases{
        {"deepseek-llm", "deepseek-llm", "Hi 2024,\n\u4e2d\u6587", {"Hi", " ", "2024", ",", "\n", "\u4e2d\u6587"}},
        {"deepseek-coder", "deepseek-coder", "Hi 24,", {"Hi", " ", "2", "4", ","}},
        {"deepseek-v3", "deepseek-v3", "x 12345 .Net", {"x", " ", "123", "45", " .", "Net"}},
        {"hunyuan-dense", "deepseek-v3", "12345", {"123", "45"}},
        {"gpt-4o", "gpt-4o", "\u00c9COLE's 12345", {"\u00c9COLE's", " ", "123", "45"}},
        {"llama4", "gpt-4o", "camelCase", {"camel", "Case"}},
        {"tekken", "tekken", "\u00c9COLE's 123", {"\u00c9COLE", "'s", " ", "1", "2", "3"}},
        {"seed-coder", "seed-coder", "it's 42", {"it", "'s", " ", "4", "2"}},
        {"bailingmoe", "bailingmoe", "IT'S 42", {"IT", "'S", " ", "4", "2"}},
        {"llada-moe", "bailingmoe", "a1", {"a", "1"}},
        {"jais-2", "jais-2", "a 123456", {"a", " ", "123", "456"}},
        {"bloom", "bloom", "Hi, you 42!", {"Hi", ",", " you", " 42", "!"}},
        {"gpt3-finnish", "bloom", "a.b", {"a", ".", "b"}},
        {"poro-chat", "bloom", "a b", {"a", " b"}},
        {"viking", "viking", "Hi 42!", {"Hi", " ", "4", "2", "!"}},
        {"chatglm-bpe", "chatglm-bpe", "a 12345", {"a", " ", "123", "45"}},
        {"glm4", "glm4", "a 12345", {"a", " ", "123", "45"}},
        {"trillion", "gpt-2", "a 12345", {"a", " 12345"}},
        {"minerva-7b", "smollm", "a 12", {"a", " ", "1", "2"}},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        const auto tok = bq::tokenizerFromGguf(*bq::GgufFile::open(writeVocab(c.name)));
        REQUIRE(tok);
        const auto* hf = dynamic_cast<const bq::HfBpeTokenizer*>(tok.get());
        REQUIRE(hf);
        CHECK(hf->preTokenizerName() == c.canonical);
        CHECK(tok->decode(tok->encode(c.text)) == c.text);
        const auto pre = bq::ggufPreTokenizer(c.name);
        REQUIRE(pre);
        CHECK(bq::preTokenPieces(bq::ggufPipeline(*pre), c.text) == c.pieces);

        // Exported as tokenizer.json: the same Split regexes, then ByteLevel without its own regex.
        if (c.canonical == std::string("gpt-2") || c.canonical == std::string("smollm"))
            continue;
        const auto j = nlohmann::json::parse(bq::tokenizerJson(*tok));
        const auto& steps = j["pre_tokenizer"]["pretokenizers"];
        REQUIRE(steps.size() == pre->splits.size() + 1);
        for (std::size_t i = 0; i < pre->splits.size(); ++i)
            CHECK(steps[i]["pattern"]["Regex"] == pre->splits[i]);
        CHECK(steps.back()["use_regex"] == false);
        CHECK(j["model"]["ignore_merges"] == pre->ignoreMerges);
        // Read back, the pipeline is named again (for a GGUF export); the Llama 3 regex reads back as llama-bpe.
        {
            std::ofstream(tmp / "tokenizer.json") << j.dump();
        }
        const auto back = bq::HfBpeTokenizer::fromJsonFile(tmp / "tokenizer.json");
        const bool llama3Regex = pre->splits == std::vector<std::string>{bq::hf::kLlama3Pattern};
        CHECK(back->preTokenizerName() == (llama3Regex ? std::string("llama-bpe") : c.canonical));
    }
    CHECK(bq::ggufPreTokenizer("tekken")->ignoreMerges); // llama.cpp sets ignore_merges for tekken
    CHECK_FALSE(bq::ggufPreTokenizer("gpt-4o")->ignoreMerges);

    for (const char* refused : {"kimi-k2", "superbpe", "chameleon", "falcon", "no-such-pre"}) {
        INFO(refused);
        const auto path = writeVocab(refused);
        try {
            bq::tokenizerFromGguf(*bq::GgufFile::open(path));
            FAIL("accepted");
        } catch (const bq::FormatError& e) {
            CHECK(e.field() == "tokenizer.ggml.pre");
            CHECK_THAT(e.what(), Catch::Contains(path.string()) && Catch::Contains("deepseek-llm") &&
                                     Catch::Contains("tekken") && Catch::Contains("gpt-4o") &&
                                     Catch::Contains("\"" + std::string(refused) + "\""));
        }
    }
}

TEST_CASE("a tokenizer.json with Digits(individual_digits) + ByteLevel is SmolLM's pre-tokenizer", "[tokenizer][hf]")
{
    bqtest::TempDir dir;
    const auto make = [&](bool individual) {
        writeFile(dir / "tokenizer.json",
                  std::string(R"({"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":)") +
                      (individual ? "true" : "false") +
                      R"(},{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}]},"decoder":{"type":"ByteLevel"},)" +
                      R"("model":{"type":"BPE","vocab":{"1":0,"2":1,"12":2,"a":3,"Ġ":4,"Ġ1":5},"merges":["1 2","Ġ 1"]}})");
        return bq::HfBpeTokenizer::fromJsonFile(dir / "tokenizer.json");
    };
    const auto each = make(true);
    CHECK(each->preTokenizerName() == "smollm");
    CHECK(each->encode("12") == std::vector<std::int32_t>{0, 1});      // digits split apart: "1 2" never applies
    CHECK(each->encode("a 12") == std::vector<std::int32_t>{3, 4, 0, 1}); // " " is cut from "1" by the digit split
    const auto runs = make(false);
    CHECK(runs->preTokenizerName() == "default"); // no GGUF name carries digit runs + GPT-2
    CHECK(runs->encode("12") == std::vector<std::int32_t>{2});
    CHECK(runs->encode("a 12") == std::vector<std::int32_t>{3, 4, 2});
}
