// llama2.c checkpoints (v0 / v1 / v2) and the tok512 tokenizer.bin, against the shared stories260K files.
#include "bq/formats/llama2c_reader.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>

namespace {

const char* const kV0 = "models/stories260K/stories260K.bin";
const char* const kV1 = "models/stories260K/variants/checkpoint_v1.bin";
const char* const kV2 = "models/stories260K/variants/stories260K-q8.bin";
const char* const kTok = "models/stories260K/tok512.bin";

void checkStoriesConfig(const bq::Model& m)
{
    const auto& c = m.config;
    CHECK(c.arch == "llama");
    CHECK(c.dim == 64);
    CHECK(c.hiddenDim == 172);
    CHECK(c.nLayers == 5);
    CHECK(c.nHeads == 8);
    CHECK(c.nKvHeads == 4);
    CHECK(c.headDim == 8);
    CHECK(c.vocabSize == 512);
    CHECK(c.maxSeqLen == 512);
    CHECK(c.tiedEmbeddings);
    CHECK(c.ropeStyle == bq::RopeStyle::Interleaved);
    CHECK(c.normEps == 1e-5f);
    CHECK(c.ropeTheta == 10000.0f);
    CHECK(m.find("output.weight") == nullptr);
    CHECK(m.tensors.size() == 2 + 9 * 5);
    CHECK(m.parameterCount() == 260032); // docs/formats-and-runtime.md §6
    CHECK(m.tensor("blk.4.attn_k.weight").shape == std::vector<std::int64_t>{32, 64});
    CHECK(m.tensor("blk.0.ffn_down.weight").shape == std::vector<std::int64_t>{64, 172});
    CHECK(m.tensor("blk.0.ffn_gate.weight").shape == std::vector<std::int64_t>{172, 64});
    CHECK(m.tensor("token_embd.weight").shape == std::vector<std::int64_t>{512, 64});
    for (const auto& [name, t] : m.tensors)
        CHECK(t.dtype == bq::DType::F32);
}

std::string metadataValue(const bq::Model& m, const std::string& key)
{
    for (const auto& [k, v] : m.metadata)
        if (k == key)
            return v;
    return {};
}

std::string readAll(const std::filesystem::path& p) { return bqtest::readFile(p); }

void writeAll(const std::filesystem::path& p, const std::string& bytes)
{
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void putI32(std::string& bytes, std::size_t offset, std::int32_t v) { std::memcpy(bytes.data() + offset, &v, 4); }

// Loads a corrupted copy and returns the FormatError message (fails the test when it loads).
std::string loadError(const std::filesystem::path& p)
{
    try {
        bq::loadLlama2cModel(p, {}, false);
    } catch (const bq::FormatError& e) {
        return e.what();
    }
    FAIL("corrupted file " << p << " loaded without a FormatError");
    return {};
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

} // namespace

TEST_CASE("stories260K loads in all three llama2.c layouts", "[llama2c][shared]")
{
    if (!bqtest::haveShared("stories260K checkpoints"))
        return;
    const auto tok = bqtest::sharedPath(kTok);
    const auto v0 = bq::loadLlama2cModel(bqtest::sharedPath(kV0)); // tok512.bin is found next to it
    const auto v1 = bq::loadLlama2cModel(bqtest::sharedPath(kV1), tok);
    const auto v2 = bq::loadLlama2cModel(bqtest::sharedPath(kV2), tok);
    checkStoriesConfig(*v0);
    checkStoriesConfig(*v1);
    checkStoriesConfig(*v2);
    CHECK(v0->sourceFormat == "llama2c-v0");
    CHECK(v1->sourceFormat == "llama2c-v1");
    CHECK(v2->sourceFormat == "llama2c-v2");
    CHECK(metadataValue(*v2, "group_size") == "8");
    CHECK(metadataValue(*v0, "hidden_dim") == "172");
    CHECK(metadataValue(*v0, "shared_classifier") == "true");
    REQUIRE(v0->tokenizer);
    CHECK(v0->tokenizer->vocabSize() == 512);
    CHECK(v0->tokenizer->family() == "llama2c");
    CHECK(contains(metadataValue(*v0, "tokenizer"), "tok512.bin"));
    REQUIRE(v1->tokenizer);

    SECTION("v0 tensors are zero-copy views laid out in run.c order")
    {
        const auto& emb = v0->tensor("token_embd.weight");
        const auto& att0 = v0->tensor("blk.0.attn_norm.weight");
        const auto& att1 = v0->tensor("blk.1.attn_norm.weight");
        const auto& wq0 = v0->tensor("blk.0.attn_q.weight");
        CHECK(emb.keepAlive != nullptr);
        CHECK(att0.data == emb.data + 512 * 64 * 4);
        CHECK(att1.data == att0.data + 64 * 4);
        CHECK(wq0.data == att0.data + 5 * 64 * 4);
        // The first embedding values of the file (bytes 28..).
        const std::string raw = readAll(bqtest::sharedPath(kV0));
        CHECK(std::memcmp(emb.data, raw.data() + 28, 64 * 4) == 0);
    }

    SECTION("v0 and v1 hold bit-identical tensors")
    {
        REQUIRE(v0->tensors.size() == v1->tensors.size());
        for (const auto& [name, t0] : v0->tensors) {
            const bq::Tensor* t1 = v1->find(name);
            REQUIRE(t1 != nullptr);
            CHECK(t1->shape == t0.shape);
            REQUIRE(t1->nbytes == t0.nbytes);
            INFO(name);
            CHECK(std::memcmp(t0.data, t1->data, t0.nbytes) == 0);
        }
    }

    SECTION("v2 dequantized weights are within half a quantization step of v0")
    {
        int groupsChecked = 0;
        double worstRatio = 0.0;
        for (const auto& [name, t0] : v0->tensors) {
            const bq::Tensor* t2 = v2->find(name);
            REQUIRE(t2 != nullptr);
            const auto a = t0.f32();
            const auto b = t2->f32();
            REQUIRE(a.size() == b.size());
            INFO(name);
            if (t0.shape.size() == 1) { // norms stay fp32 in v2
                CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
                continue;
            }
            // The exporter's scale, recomputed from the v0 weights: max |w| / 127 per 8 consecutive values.
            for (std::size_t g = 0; g < a.size(); g += 8) {
                float maxAbs = 0.0f;
                for (std::size_t k = g; k < g + 8; ++k)
                    maxAbs = std::max(maxAbs, std::fabs(a[k]));
                const double step = maxAbs / 127.0;
                for (std::size_t k = g; k < g + 8; ++k) {
                    const double err = std::fabs(static_cast<double>(a[k]) - b[k]);
                    REQUIRE(err <= 0.5 * step * 1.0001 + 1e-9);
                    if (step > 0)
                        worstRatio = std::max(worstRatio, err / step);
                }
                ++groupsChecked;
            }
        }
        CHECK(groupsChecked == (260032 - 11 * 64) / 8);
        CHECK(worstRatio > 0.3); // the comparison is not vacuous: rounding errors do reach about half a step
    }
}

TEST_CASE("llama2.c tokenizer lookup and requirement", "[llama2c][shared]")
{
    if (!bqtest::haveShared("stories260K tokenizer lookup"))
        return;
    // variants/ has no tokenizer next to the checkpoints.
    CHECK(bq::findLlama2cTokenizer(bqtest::sharedPath(kV1), {}, 512).empty());
    CHECK(bq::findLlama2cTokenizer(bqtest::sharedPath(kV0), {}, 512).filename() == "tok512.bin");
    try {
        bq::loadLlama2cModel(bqtest::sharedPath(kV1), {}, true);
        FAIL("loaded without a tokenizer");
    } catch (const bq::FormatError& e) {
        CHECK(contains(e.what(), "checkpoint_v1.bin"));
        CHECK(contains(e.what(), "tok512.bin"));
    }
    const auto noTok = bq::loadLlama2cModel(bqtest::sharedPath(kV1), {}, false);
    CHECK(noTok->tokenizer == nullptr);
    CHECK_THROWS_AS(bq::loadLlama2cModel(bqtest::sharedPath(kV1), bqtest::sharedPath("nope/tokenizer.bin"), false),
                    bq::FormatError);
    // A SentencePiece .model is accepted as the tokenizer path, but its vocabulary must fit the model.
    try {
        bq::loadLlama2cModel(bqtest::sharedPath(kV1), bqtest::sharedPath("tokenizers/llama2/tokenizer.model"), true);
        FAIL("a 32000-piece tokenizer was attached to a 512-token model");
    } catch (const bq::FormatError& e) {
        CHECK(contains(e.what(), "tokenizer.model"));
        CHECK(contains(e.what(), "512 pieces"));
        CHECK(contains(e.what(), "found 32000"));
    }
    CHECK(bq::looksLikeLlama2c(bqtest::sharedPath(kV0)));
    CHECK(bq::looksLikeLlama2c(bqtest::sharedPath(kV1)));
    CHECK(bq::looksLikeLlama2c(bqtest::sharedPath(kV2)));
    CHECK_FALSE(bq::looksLikeLlama2c(bqtest::sharedPath(kTok)));
    CHECK_FALSE(bq::looksLikeLlama2c(bqtest::sharedPath("tokenizers/llama2/tokenizer.model")));
}

TEST_CASE("corrupted llama2.c checkpoints give FormatError naming file and field", "[llama2c][shared]")
{
    if (!bqtest::haveShared("stories260K corruption"))
        return;
    bqtest::TempDir dir;
    const std::string v0 = readAll(bqtest::sharedPath(kV0));
    const std::string v1 = readAll(bqtest::sharedPath(kV1));
    const std::string v2 = readAll(bqtest::sharedPath(kV2));

    SECTION("truncated v0")
    {
        const auto p = dir / "short_v0.bin";
        writeAll(p, v0.substr(0, v0.size() - 100));
        const std::string msg = loadError(p);
        CHECK(contains(msg, "short_v0.bin"));
        CHECK(contains(msg, "file size"));
        CHECK(contains(msg, "1056540 bytes"));
        CHECK(contains(msg, "100 bytes missing"));
    }
    SECTION("v1 with trailing garbage")
    {
        const auto p = dir / "long_v1.bin";
        writeAll(p, v1 + std::string(12, '\0'));
        const std::string msg = loadError(p);
        CHECK(contains(msg, "long_v1.bin"));
        CHECK(contains(msg, "12 bytes too many"));
    }
    SECTION("truncated v2 and a tiny file")
    {
        const auto p = dir / "short_v2.bin";
        writeAll(p, v2.substr(0, 300));
        CHECK(contains(loadError(p), "392064 bytes"));
        const auto tiny = dir / "tiny.bin";
        writeAll(tiny, "ak");
        const std::string msg = loadError(tiny);
        CHECK(contains(msg, "tiny.bin"));
        CHECK(contains(msg, "header"));
        const auto empty = dir / "empty.bin";
        writeAll(empty, "");
        CHECK(contains(loadError(empty), "empty.bin"));
    }
    SECTION("wrong magic")
    {
        std::string bad = v1;
        bad[3] = 'b'; // "24kb"
        const auto p = dir / "badmagic.bin";
        writeAll(p, bad);
        const std::string msg = loadError(p);
        CHECK(contains(msg, "badmagic.bin"));
        CHECK(contains(msg, "magic"));
    }
    SECTION("wrong version")
    {
        std::string bad = v1;
        putI32(bad, 4, 3);
        const auto p = dir / "badversion.bin";
        writeAll(p, bad);
        const std::string msg = loadError(p);
        CHECK(contains(msg, "badversion.bin"));
        CHECK(contains(msg, "version"));
        CHECK(contains(msg, "1 or 2"));
        CHECK(contains(msg, "found 3"));
    }
    SECTION("absurd header values")
    {
        struct Case {
            std::size_t offset;
            std::int32_t value;
            const char* field;
        };
        const Case cases[] = {
            {0, -64, "dim"},                   // negative dim
            {4, 0, "hidden_dim"},              // zero hidden
            {12, 7, "n_heads"},                // 64 % 7 != 0
            {16, 3, "n_kv_heads"},             // 8 % 3 != 0
            {20, 0, "vocab_size"},             // zero vocab
            {24, -1, "seq_len"},               // negative seq_len
            {0, 1 << 20, "file size"},         // huge but consistent dims: size mismatch
        };
        for (const Case& c : cases) {
            std::string bad = v0;
            putI32(bad, c.offset, c.value);
            const auto p = dir / ("absurd_" + std::to_string(c.offset) + ".bin");
            writeAll(p, bad);
            const std::string msg = loadError(p);
            INFO(msg);
            CHECK(contains(msg, p.filename().string()));
            CHECK(contains(msg, c.field));
        }
        // Dimensions whose weight count overflows 64 bits.
        std::string bad = v0;
        putI32(bad, 0, 0x7FFFFFF8);  // dim
        putI32(bad, 4, 0x7FFFFFFF);  // hidden
        putI32(bad, 8, 0x7FFFFFFF);  // layers
        putI32(bad, 12, 0x7FFFFFF8); // heads (divides dim)
        putI32(bad, 16, 0x7FFFFFF8);
        const auto p = dir / "overflow.bin";
        writeAll(p, bad);
        const std::string msg = loadError(p);
        INFO(msg);
        CHECK(contains(msg, "overflow.bin"));
        CHECK(contains(msg, "64-bit"));
        // v2 group size that is zero or does not divide the tensors.
        std::string g = v2;
        putI32(g, 37, 0);
        writeAll(dir / "group0.bin", g);
        CHECK(contains(loadError(dir / "group0.bin"), "group_size"));
        putI32(g, 37, 7);
        writeAll(dir / "group7.bin", g);
        CHECK(contains(loadError(dir / "group7.bin"), "group_size"));
    }
    SECTION("truncated tokenizer.bin")
    {
        const std::string tok = readAll(bqtest::sharedPath(kTok));
        const auto p = dir / "tok_short.bin";
        writeAll(p, tok.substr(0, tok.size() - 10));
        try {
            bq::SpBpeTokenizer::fromLlama2cFile(p, 512);
            FAIL("truncated tokenizer loaded");
        } catch (const bq::FormatError& e) {
            CHECK(contains(e.what(), "tok_short.bin"));
            CHECK(contains(e.what(), "token 511"));
        }
        CHECK_THROWS_AS(bq::SpBpeTokenizer::fromLlama2cFile(bqtest::sharedPath(kTok), 0), bq::FormatError);
        CHECK_THROWS_AS(bq::SpBpeTokenizer::fromLlama2cFile(bqtest::sharedPath(kTok), 600), bq::FormatError);
    }
}

TEST_CASE("tok512 encodes like llama2.c run.c", "[llama2c][tokenizer][shared]")
{
    if (!bqtest::haveShared("tok512 encoding"))
        return;
    const auto tok = bq::SpBpeTokenizer::fromLlama2cFile(bqtest::sharedPath(kTok), 512);
    bq::EncodeOptions bos;
    bos.addBos = true;

    // run.c encode(tokenizer, "Once upon a time", bos=1, eos=0) (checked with a line-by-line Python port of it).
    const auto ids = tok->encode("Once upon a time", bos);
    CHECK(ids == std::vector<std::int32_t>{1, 403, 407, 261, 378});
    // The same, derived independently: each word with its space is a single piece of the vocabulary.
    REQUIRE(ids.size() == 5);
    CHECK(tok->piece(ids[1]) == " Once");
    CHECK(tok->piece(ids[2]) == " upon");
    CHECK(tok->piece(ids[3]) == " a");
    CHECK(tok->piece(ids[4]) == " time");
    CHECK(tok->decode(ids) == "Once upon a time");
    // run.c decode: the space after BOS is dropped, otherwise kept.
    CHECK(tok->decodeToken(1, 403) == "Once");
    CHECK(tok->decodeToken(403, 407) == " upon");
    CHECK(tok->decodeToken(-1, 403) == "Once");
    CHECK(tok->decodeToken(0, 1).empty());
    CHECK(tok->decodeToken(0, 1, true) == "<s>");
    CHECK(tok->decodeToken(0, 13) == "\n"); // <0x0A>

    CHECK(tok->encode("").empty());
    CHECK(tok->encode("", bos) == std::vector<std::int32_t>{1});

    // Characters outside the 512 vocabulary fall back to their UTF-8 bytes (id = byte + 3).
    const auto jp = tok->encode("日");
    REQUIRE(jp.size() >= 3);
    CHECK(std::vector<std::int32_t>(jp.end() - 3, jp.end()) ==
          std::vector<std::int32_t>{0xE6 + 3, 0x97 + 3, 0xA5 + 3});
    CHECK(tok->decode(jp) == "日");
    // Invalid UTF-8 becomes bytes too (run.c rules) and round-trips.
    const std::string bad = "a\xFF\xC3 b";
    CHECK(tok->decode(tok->encode(bad)) == bad);

    // The reference greedy output of run.c round-trips through encode/decode.
    const std::string ref = readAll(bqtest::sharedPath("models/stories260K/reference_greedy_once_upon_a_time_n256.txt"));
    const auto refIds = tok->encode(ref, bos);
    CHECK(tok->decode(refIds) == ref);
    CHECK(std::vector<std::int32_t>(refIds.begin(), refIds.begin() + 5) == ids);

    // Streaming decode of it gives the same text.
    bq::TokenStreamDecoder dec(*tok);
    std::string streamed;
    for (auto id : refIds)
        streamed += dec.push(id);
    streamed += dec.flush();
    CHECK(streamed == ref);
}

TEST_CASE("tok512 token count of the first 200 TinyStories matches the MANIFEST", "[llama2c][tokenizer][shared]")
{
    if (!bqtest::haveShared("tinystories token count"))
        return;
    const auto tok = bq::SpBpeTokenizer::fromLlama2cFile(bqtest::sharedPath(kTok), 512);
    const std::string text = readAll(bqtest::sharedPath("data/tinystories/tinystories_val.txt"));
    // Blank-line separated stories, each trimmed (the MANIFEST's perplexity protocol).
    const char* const ws = " \t\r\n\f\v";
    std::vector<std::string> docs;
    std::string current;
    std::size_t pos = 0;
    auto finish = [&] {
        const auto b = current.find_first_not_of(ws);
        if (b != std::string::npos)
            docs.push_back(current.substr(b, current.find_last_not_of(ws) - b + 1));
        current.clear();
    };
    while (pos <= text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string::npos)
            nl = text.size();
        const std::string line = text.substr(pos, nl - pos);
        if (line.find_first_not_of(ws) == std::string::npos)
            finish();
        else
            current += (current.empty() ? "" : "\n") + line;
        pos = nl + 1;
    }
    finish();
    REQUIRE(docs.size() >= 200);
    bq::EncodeOptions bos;
    bos.addBos = true;
    std::size_t predicted = 0;
    for (std::size_t i = 0; i < 200; ++i) {
        const auto ids = tok->encode(docs[i], bos);
        predicted += std::min<std::size_t>(ids.size(), 512) - 1;
        CHECK(tok->decode(ids) == docs[i]);
    }
    // "19,380 predicted tokens" (BOS + encoding, truncated to 512, each story its own sequence).
    CHECK(predicted == 19380);
}

TEST_CASE("unshared classifiers load as output.weight in all three layouts", "[llama2c][shared]")
{
    if (!bqtest::haveShared("stories260K unshared classifier"))
        return;
    bqtest::TempDir dir;
    const std::size_t embBytes = 512 * 64 * 4;
    // v0: a negative vocab_size marks wcls, appended after freq_cis. Use the embedding as the classifier.
    std::string v0 = readAll(bqtest::sharedPath(kV0));
    const std::string emb0 = v0.substr(28, embBytes);
    putI32(v0, 20, -512);
    v0 += emb0;
    writeAll(dir / "v0_unshared.bin", v0);
    // v1: shared_classifier = 0 and wcls at the end; the embedding follows the 11 norm vectors.
    std::string v1 = readAll(bqtest::sharedPath(kV1));
    v1[36] = '\0';
    v1 += v1.substr(256 + 11 * 64 * 4, embBytes);
    writeAll(dir / "v1_unshared.bin", v1);
    // v2: shared_classifier = 0 and the quantized embedding (int8 + scales) repeated at the end.
    std::string v2 = readAll(bqtest::sharedPath(kV2));
    v2[36] = '\0';
    v2 += v2.substr(256 + 11 * 64 * 4, 512 * 64 + 512 * 64 / 8 * 4);
    writeAll(dir / "v2_unshared.bin", v2);

    for (const char* name : {"v0_unshared.bin", "v1_unshared.bin", "v2_unshared.bin"}) {
        INFO(name);
        const auto m = bq::loadLlama2cModel(dir / name, bqtest::sharedPath(kTok), true);
        CHECK_FALSE(m->config.tiedEmbeddings);
        CHECK(m->config.vocabSize == 512);
        CHECK(metadataValue(*m, "shared_classifier") == "false");
        const bq::Tensor* out = m->find("output.weight");
        REQUIRE(out != nullptr);
        CHECK(&m->outputHead() == out);
        CHECK(out->shape == std::vector<std::int64_t>{512, 64});
        const auto& emb = m->tensor("token_embd.weight");
        REQUIRE(out->nbytes == emb.nbytes);
        CHECK(std::memcmp(out->data, emb.data, emb.nbytes) == 0);
        CHECK(out->data != emb.data);
    }
}
