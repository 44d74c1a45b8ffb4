// SpBpeTokenizer through the hand-written SentencePiece .model loader, checked against libsentencepiece (the
// oracle) on real text, plus the llama2.c tokenizer.bin form of the same vocabulary and streaming decode.
#include "bq/tokenizer/sentencepiece_model.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sentencepiece_processor.h>
#include <sstream>

namespace {

std::vector<std::string> splitLines(const std::string& text)
{
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (;;) {
        const std::size_t nl = text.find('\n', start);
        lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos)
            break;
        start = nl + 1;
    }
    return lines;
}

std::vector<int> oracleEncode(const sentencepiece::SentencePieceProcessor& sp, const std::string& text)
{
    std::vector<int> ids;
    const auto status = sp.Encode(text, &ids);
    REQUIRE(status.ok());
    return ids;
}

std::string idsToString(const std::vector<std::int32_t>& ids, std::size_t from, std::size_t count)
{
    std::ostringstream os;
    for (std::size_t i = from; i < ids.size() && i < from + count; ++i)
        os << (i > from ? " " : "") << ids[i];
    return os.str();
}

// Compares our ids with the oracle's and reports the first mismatch with its context.
std::string firstMismatch(const std::vector<std::int32_t>& ours, const std::vector<int>& ref)
{
    const std::size_t n = std::min(ours.size(), ref.size());
    std::size_t i = 0;
    while (i < n && ours[i] == ref[i])
        ++i;
    if (i == n && ours.size() == ref.size())
        return {};
    const std::vector<std::int32_t> r(ref.begin(), ref.end());
    const std::size_t from = i >= 3 ? i - 3 : 0;
    return "first difference at token " + std::to_string(i) + ": ours [" + idsToString(ours, from, 8) +
           "] vs sentencepiece [" + idsToString(r, from, 8) + "] (lengths " + std::to_string(ours.size()) + " / " +
           std::to_string(ref.size()) + ")";
}

std::string readBytes(const std::filesystem::path& p) { return bqtest::readFile(p); }

bool isValidUtf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + len > s.size())
            return false;
        for (std::size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

// A minimal protobuf writer for building test models (field numbers as in sentencepiece_model.proto).
struct ProtoWriter {
    std::string out;
    void varint(std::uint64_t v)
    {
        while (v >= 0x80) {
            out.push_back(static_cast<char>((v & 0x7F) | 0x80));
            v >>= 7;
        }
        out.push_back(static_cast<char>(v));
    }
    void tag(int field, int wire) { varint(static_cast<std::uint64_t>(field) << 3 | static_cast<unsigned>(wire)); }
    void bytes(int field, const std::string& s)
    {
        tag(field, 2);
        varint(s.size());
        out += s;
    }
    void uint(int field, std::uint64_t v)
    {
        tag(field, 0);
        varint(v);
    }
    void f32(int field, float f)
    {
        tag(field, 5);
        char b[4];
        std::memcpy(b, &f, 4);
        out.append(b, 4);
    }
};

std::string serializeModel(const std::vector<bq::SpVocabEntry>& pieces, int modelType, bool byteFallback,
                           const std::string& normalizerName, bool addDummyPrefix, bool removeExtra)
{
    ProtoWriter m;
    for (const auto& e : pieces) {
        ProtoWriter p;
        p.bytes(1, e.piece);
        p.f32(2, e.score);
        p.uint(3, static_cast<std::uint64_t>(e.kind) + 1); // TokenKind order matches the proto enum minus 1
        m.bytes(1, p.out);
    }
    ProtoWriter t;
    t.uint(3, static_cast<std::uint64_t>(modelType));
    t.uint(35, byteFallback ? 1 : 0);
    t.uint(40, 0);
    t.uint(41, 1);
    t.uint(42, 2);
    t.uint(43, ~std::uint64_t{0}); // -1
    m.bytes(2, t.out);
    ProtoWriter n;
    n.bytes(1, normalizerName);
    n.uint(3, addDummyPrefix ? 1 : 0);
    n.uint(4, removeExtra ? 1 : 0);
    m.bytes(3, n.out);
    return m.out;
}

const char* const kTricky[] = {
    "",
    " ",
    "  ",
    "\n",
    "Hello world",
    " Hello  world ",
    "   leading and trailing   ",
    "tab\tseparated\tvalues\r\n",
    "héllo 日本語 🙂",
    "Ünïcödé — “quotes” and ½ ¾ ∑",
    "\xF0\x9F\x98\x80\xF0\x9F\x98\x81 emoji run",
    "bad \xFF\xFE utf8 \xC3 end",
    "\xE2\x82", // truncated sequence at the end
    "overlong \xC0\xAF and surrogate \xED\xA0\x80",
    "literal ▁ metaspace ▁▁",
    "<s> not special </s> <unk> <0x41>",
    "数字123 and 4567890",
    "a\x01\x02\x7F control bytes",
};

struct Fixture {
    std::filesystem::path modelPath = bqtest::sharedPath("tokenizers/llama2/tokenizer.model");
    std::shared_ptr<bq::SpBpeTokenizer> ours;
    sentencepiece::SentencePieceProcessor oracle;
    Fixture()
    {
        ours = bq::loadSentencePieceModel(modelPath);
        REQUIRE(oracle.Load(modelPath.string()).ok());
    }
};

} // namespace

TEST_CASE("Llama 2 tokenizer.model loads with the right specials", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("llama2 tokenizer.model"))
        return;
    Fixture f;
    const auto& t = *f.ours;
    CHECK(t.vocabSize() == 32000);
    CHECK(t.vocabSize() == f.oracle.GetPieceSize());
    CHECK(t.bosId() == 1);
    CHECK(t.eosId() == 2);
    CHECK(t.options().unkId == 0);
    CHECK(t.options().byteFallback);
    CHECK(t.options().addDummyPrefix);
    CHECK_FALSE(t.options().removeExtraWhitespaces);
    CHECK(t.family() == "sentencepiece");
    CHECK(t.kind(0) == bq::TokenKind::Unknown);
    CHECK(t.kind(1) == bq::TokenKind::Control);
    CHECK(t.kind(3) == bq::TokenKind::Byte);
    CHECK(t.piece(29871) == "\xE2\x96\x81");
    CHECK(t.findPiece("\xE2\x96\x81the") == f.oracle.PieceToId("\xE2\x96\x81the"));
    CHECK(t.findPiece(" the") == f.oracle.PieceToId("\xE2\x96\x81the"));
    for (int id : {0, 1, 2, 3, 13, 259, 1000, 29871, 31999}) {
        CHECK(t.piece(id) == f.oracle.IdToPiece(id));
        CHECK(t.score(id) == f.oracle.GetScore(id));
    }
}

TEST_CASE("Llama 2 .model equals libsentencepiece on every WikiText-2 line", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("llama2 tokenizer vs sentencepiece"))
        return;
    Fixture f;
    const std::string text = readBytes(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt"));
    const auto lines = splitLines(text);
    REQUIRE(lines.size() > 4000);
    std::size_t mismatches = 0, tokens = 0, roundTripFailures = 0;
    std::string firstReport;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto ours = f.ours->encode(lines[i]);
        const auto ref = oracleEncode(f.oracle, lines[i]);
        tokens += ours.size();
        const std::string diff = firstMismatch(ours, ref);
        if (!diff.empty() && mismatches++ == 0)
            firstReport = "line " + std::to_string(i + 1) + " \"" + lines[i].substr(0, 120) + "\": " + diff;
        if (f.ours->decode(ours) != lines[i])
            ++roundTripFailures;
    }
    INFO(firstReport);
    CHECK(mismatches == 0);
    CHECK(roundTripFailures == 0);
    CHECK(tokens > 300000);
}

TEST_CASE("Llama 2 .model equals libsentencepiece on tricky strings", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("llama2 tokenizer tricky strings"))
        return;
    Fixture f;
    for (const char* s : kTricky) {
        const std::string text(s);
        INFO("text: \"" << text << "\"");
        const auto ours = f.ours->encode(text);
        const auto ref = oracleEncode(f.oracle, text);
        INFO(firstMismatch(ours, ref));
        CHECK(firstMismatch(ours, ref).empty());
        // Whole-sequence decode equals the oracle's for valid UTF-8 input.
        if (isValidUtf8(text)) {
            std::string refText;
            REQUIRE(f.oracle.Decode(ref, &refText).ok());
            CHECK(f.ours->decode(ours) == refText);
        }
    }
    // Invalid bytes become U+FFFD, as SentencePiece's normalizer does (Llama 2 has pieces for it).
    const auto bad = f.ours->encode("\xFF\xFE");
    CHECK(firstMismatch(bad, oracleEncode(f.oracle, "\xFF\xFE")).empty());
    CHECK(f.ours->decode(bad) == "\xEF\xBF\xBD\xEF\xBF\xBD");
    for (auto id : bad)
        CHECK(f.ours->kind(id) == bq::TokenKind::Normal);
    // BOS/EOS options.
    bq::EncodeOptions o;
    o.addBos = true;
    o.addEos = true;
    const auto withSpecials = f.ours->encode("Hello", o);
    REQUIRE(withSpecials.size() == 3);
    CHECK(withSpecials.front() == 1);
    CHECK(withSpecials.back() == 2);
    CHECK(f.ours->decode(withSpecials) == "Hello");
    CHECK(f.ours->decode(withSpecials, true) == "<s>Hello</s>");
    // parseSpecial turns "<s>" written in the text into the BOS id.
    o = {};
    o.parseSpecial = true;
    const auto parsed = f.ours->encode("<s>Hi", o);
    REQUIRE(parsed.size() >= 2);
    CHECK(parsed[0] == 1);
    CHECK(f.ours->decode(parsed) == "Hi");
}

TEST_CASE("Llama 2 .model whole-file counts match the MANIFEST", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("llama2 tokenizer whole-file counts"))
        return;
    const auto tok = bq::loadSentencePieceModel(bqtest::sharedPath("tokenizers/llama2/tokenizer.model"));
    const std::string wiki = readBytes(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt"));
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(wiki);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("WikiText-2 test (%zu bytes) -> %zu tokens in %.3f s\n", wiki.size(), ids.size(), seconds);
    CHECK(ids.size() == 341468);
    const std::vector<std::int32_t> first10{29871, 13, 13, 353, 4755, 350, 5059, 357, 353, 29871};
    REQUIRE(ids.size() >= 10);
    CHECK(std::vector<std::int32_t>(ids.begin(), ids.begin() + 10) == first10);
    CHECK(tok->decode(ids) == wiki);
    CHECK(seconds < 30.0); // generous for Debug/ASan builds; Release is well under a second

    const std::string stories = readBytes(bqtest::sharedPath("data/tinystories/tinystories_val.txt"));
    CHECK(tok->encode(stories).size() == 212397);
}

TEST_CASE("Llama 2 tokenizer.bin (llama2.c) gives the .model's ids", "[tokenizer][llama2c][shared]")
{
    if (!bqtest::haveShared("llama2 tokenizer.bin"))
        return;
    const auto model = bq::loadSentencePieceModel(bqtest::sharedPath("tokenizers/llama2/tokenizer.model"));
    const auto bin = bq::SpBpeTokenizer::fromLlama2cFile(bqtest::sharedPath("tokenizers/llama2/tokenizer.bin"), 32000);
    CHECK(bin->family() == "llama2c");
    CHECK(bin->vocabSize() == 32000);
    CHECK(bin->bosId() == 1);
    CHECK(bin->eosId() == 2);
    CHECK(bin->piece(1) == "\n<s>\n");
    CHECK(bin->kind(1) == bq::TokenKind::Control);
    CHECK(bin->kind(13) == bq::TokenKind::Byte);
    CHECK(bin->findPiece("<s>") == 1);
    CHECK(bin->findPiece(" the") == model->findPiece("\xE2\x96\x81the"));
    // Same scores, and pieces equal up to the "▁" <-> " " spelling.
    for (int id = 3; id < 32000; id += 97) {
        CHECK(bin->score(id) == model->score(id));
        CHECK(bin->decodeToken(5, id) == model->decodeToken(5, id));
    }
    const std::string wiki = readBytes(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt"));
    const auto lines = splitLines(wiki);
    std::size_t compared = 0, mismatches = 0;
    std::string report;
    for (std::size_t i = 0; i < lines.size(); i += 7) {
        const auto a = bin->encode(lines[i]);
        const auto b = model->encode(lines[i]);
        ++compared;
        if (a != b && mismatches++ == 0) {
            const std::vector<int> bi(b.begin(), b.end());
            report = "line " + std::to_string(i + 1) + ": " + firstMismatch(a, bi);
        }
        CHECK(bin->decode(a) == lines[i]);
    }
    INFO(report);
    CHECK(compared > 600);
    CHECK(mismatches == 0);
    bq::EncodeOptions bos;
    bos.addBos = true;
    const auto once = bin->encode("Once upon a time", bos);
    CHECK(once == model->encode("Once upon a time", bos));
    CHECK(once.front() == 1);
}

TEST_CASE("Streaming decode never breaks a multi-byte character", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("llama2 streaming decode"))
        return;
    Fixture f;
    const std::string text = "héllo 日本語 🙂";
    bq::EncodeOptions o;
    o.addBos = true;
    const auto ids = f.ours->encode(text, o);
    // The emoji is not in the vocabulary: it must fall back to its four byte tokens.
    int byteTokens = 0;
    for (auto id : ids)
        byteTokens += f.ours->kind(id) == bq::TokenKind::Byte;
    CHECK(byteTokens >= 4);
    std::vector<int> ref;
    REQUIRE(f.oracle.Encode(text, &ref).ok());
    CHECK(std::vector<std::int32_t>(ids.begin() + 1, ids.end()) == std::vector<std::int32_t>(ref.begin(), ref.end()));

    bq::TokenStreamDecoder dec(*f.ours);
    std::string streamed;
    int emptyPushes = 0;
    for (auto id : ids) {
        const std::string part = dec.push(id);
        INFO("token " << id << " gave " << part.size() << " bytes");
        CHECK(isValidUtf8(part));
        emptyPushes += part.empty();
        streamed += part;
    }
    streamed += dec.flush();
    CHECK(streamed == text);
    CHECK(emptyPushes >= 3); // BOS and the first three bytes of the emoji produce nothing yet

    // A stream cut inside a character flushes U+FFFD instead of a broken byte.
    bq::TokenStreamDecoder cut(*f.ours);
    const auto emoji = f.ours->encode("🙂");
    REQUIRE(emoji.size() == 5); // "▁" + 4 bytes
    std::string partial;
    for (std::size_t i = 0; i + 1 < emoji.size(); ++i)
        partial += cut.push(emoji[i]);
    CHECK(partial.empty());
    CHECK(cut.flush() == "\xEF\xBF\xBD");
}

TEST_CASE("Normalizer and trainer variants match libsentencepiece", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("sentencepiece variants"))
        return;
    const auto path = bqtest::sharedPath("tokenizers/llama2/tokenizer.model");
    const std::string bytes = readBytes(path);
    const auto proto = bq::parseSentencePieceModel(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), path.string());
    REQUIRE(proto.pieces.size() == 32000);
    CHECK(proto.modelType == 2);
    CHECK(proto.normalizerName == "identity");
    CHECK(proto.charsmapBytes == 0);
    CHECK(proto.addDummyPrefix);
    CHECK_FALSE(proto.removeExtraWhitespaces);
    CHECK(proto.byteFallback);
    CHECK(proto.padId == -1);

    const std::string wiki = readBytes(bqtest::sharedPath("data/wikitext-2/wikitext-2-raw-v1.test.txt"));
    const auto lines = splitLines(wiki);
    std::vector<std::string> samples(std::begin(kTricky), std::end(kTricky));
    for (std::size_t i = 0; i < lines.size(); i += 41)
        samples.push_back(lines[i]);
    samples.push_back("  many     spaces   here  ");
    samples.push_back("日本語のテキスト と 中文 텍스트 🙂🙃");

    auto compare = [&](const std::string& serialized, const char* what) {
        sentencepiece::SentencePieceProcessor oracle;
        REQUIRE(oracle.LoadFromSerializedProto(serialized).ok());
        const auto m = bq::parseSentencePieceModel(
            std::span<const std::byte>(reinterpret_cast<const std::byte*>(serialized.data()), serialized.size()),
            what);
        const auto tok = bq::makeSentencePieceTokenizer(m, what);
        std::size_t mismatches = 0;
        std::string report;
        for (const auto& s : samples) {
            const auto ours = tok->encode(s);
            const auto ref = oracleEncode(oracle, s);
            const std::string diff = firstMismatch(ours, ref);
            if (!diff.empty() && mismatches++ == 0)
                report = std::string(what) + ": \"" + s.substr(0, 80) + "\": " + diff;
        }
        INFO(report);
        CHECK(mismatches == 0);
    };

    auto pieces = proto.pieces;
    // remove_extra_whitespaces = true (SentencePiece's default).
    compare(serializeModel(pieces, 2, true, "identity", true, true), "remove_extra_whitespaces");
    // No dummy prefix.
    compare(serializeModel(pieces, 2, true, "identity", false, false), "no add_dummy_prefix");
    // No byte fallback: unknown characters become <unk>, a run of them one <unk>.
    {
        auto noBytes = pieces;
        for (auto& e : noBytes)
            if (e.kind == bq::TokenKind::Byte)
                e.kind = bq::TokenKind::Unused;
        compare(serializeModel(noBytes, 2, false, "identity", true, false), "no byte_fallback");
    }
    // Unused pieces are merge results that are split back; user-defined pieces are matched whole.
    {
        auto edited = pieces;
        int unused = 0;
        for (int id : {1576, 322, 310, 263, 297, 304, 29892, 29889})
            if (edited[static_cast<std::size_t>(id)].kind == bq::TokenKind::Normal) {
                edited[static_cast<std::size_t>(id)].kind = bq::TokenKind::Unused;
                ++unused;
            }
        CHECK(unused >= 6);
        const auto findId = [&](const std::string& p) {
            for (std::size_t i = 0; i < edited.size(); ++i)
                if (edited[i].piece == p)
                    return static_cast<int>(i);
            return -1;
        };
        const int ing = findId("ing");
        REQUIRE(ing > 0);
        edited[static_cast<std::size_t>(ing)].kind = bq::TokenKind::UserDefined;
        compare(serializeModel(edited, 2, true, "identity", true, false), "unused and user-defined pieces");
    }
}

TEST_CASE("SentencePiece loader refuses what it cannot reproduce", "[tokenizer][sentencepiece]")
{
    std::vector<bq::SpVocabEntry> pieces{{"<unk>", 0, bq::TokenKind::Unknown},
                                         {"<s>", 0, bq::TokenKind::Control},
                                         {"</s>", 0, bq::TokenKind::Control},
                                         {"\xE2\x96\x81", -1, bq::TokenKind::Normal},
                                         {"a", -2, bq::TokenKind::Normal},
                                         {"b", -3, bq::TokenKind::Normal},
                                         {"ab", -4, bq::TokenKind::Normal}};
    auto parse = [](const std::string& s, const char* name) {
        return bq::parseSentencePieceModel(
            std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size()), name);
    };
    // A tiny BPE model works and merges "a" + "b".
    const auto ok = bq::makeSentencePieceTokenizer(parse(serializeModel(pieces, 2, false, "identity", true, false), "t"), "t");
    CHECK(ok->encode("ab") == std::vector<std::int32_t>{3, 6});
    CHECK(ok->encode("ba") == std::vector<std::int32_t>{3, 5, 4});
    CHECK(ok->encode("abc c") == std::vector<std::int32_t>{3, 6, 0, 3, 0});

    try {
        bq::makeSentencePieceTokenizer(parse(serializeModel(pieces, 1, false, "identity", true, false), "uni.model"),
                                       "uni.model");
        FAIL("a UNIGRAM model was accepted");
    } catch (const bq::UnsupportedModel& e) {
        CHECK(std::string(e.what()).find("uni.model") != std::string::npos);
        CHECK(std::string(e.what()).find("UNIGRAM") != std::string::npos);
    }
    {
        ProtoWriter extra; // a normalizer with a character map (nmt_nfkc)
        ProtoWriter n;
        n.bytes(1, "nmt_nfkc");
        n.bytes(2, std::string(64, '\x01'));
        extra.bytes(3, n.out);
        const std::string s = serializeModel(pieces, 2, false, "nmt_nfkc", true, true) + extra.out;
        try {
            bq::makeSentencePieceTokenizer(parse(s, "nfkc.model"), "nfkc.model");
            FAIL("an nmt_nfkc normalizer was accepted");
        } catch (const bq::UnsupportedModel& e) {
            CHECK(std::string(e.what()).find("nmt_nfkc") != std::string::npos);
        }
    }
}

TEST_CASE("Malformed SentencePiece protobufs give FormatError", "[tokenizer][sentencepiece][shared]")
{
    if (!bqtest::haveShared("llama2 tokenizer.model corruption"))
        return;
    const auto path = bqtest::sharedPath("tokenizers/llama2/tokenizer.model");
    const std::string bytes = readBytes(path);
    auto parse = [](const std::string& s) {
        return bq::parseSentencePieceModel(
            std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size()), "x.model");
    };
    // Truncations at many points inside pieces, the trainer spec and the normalizer spec.
    int errors = 0, cuts = 0;
    for (std::size_t cut : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{13}, std::size_t{1000},
                            bytes.size() / 2, bytes.size() - 300, bytes.size() - 40, bytes.size() - 3,
                            bytes.size() - 1}) {
        ++cuts;
        try {
            parse(bytes.substr(0, cut));
        } catch (const bq::FormatError& e) {
            ++errors;
            CHECK(std::string(e.what()).find("x.model") != std::string::npos);
            CHECK(e.offset() >= 0);
        }
    }
    CHECK(errors == cuts);
    // Random corruption must never crash: it parses or throws a typed error.
    std::uint32_t rng = 12345;
    for (int trial = 0; trial < 200; ++trial) {
        std::string s = bytes.substr(0, 4096);
        for (int k = 0; k < 4; ++k) {
            rng = rng * 1664525u + 1013904223u;
            s[rng % s.size()] = static_cast<char>(rng >> 24);
        }
        try {
            const auto m = parse(s);
            (void)bq::makeSentencePieceTokenizer(m, "x.model")->encode("some text 日本");
        } catch (const bq::FormatError&) {
        } catch (const bq::UnsupportedModel&) {
        }
    }
    // Through the file loader: the message names the file and the field.
    bqtest::TempDir dir;
    const auto bad = dir / "truncated.model";
    {
        std::ofstream f(bad, std::ios::binary);
        f << bytes.substr(0, 777);
    }
    try {
        bq::loadSentencePieceModel(bad);
        FAIL("a truncated .model loaded");
    } catch (const bq::FormatError& e) {
        const std::string what = e.what();
        CHECK(what.find("truncated.model") != std::string::npos);
        CHECK(what.find("ModelProto.pieces") != std::string::npos);
    }
    // Not a protobuf at all (a llama2.c tokenizer.bin).
    CHECK_THROWS_AS(bq::loadSentencePieceModel(bqtest::sharedPath("tokenizers/llama2/tokenizer.bin")), bq::FormatError);
}

namespace {

// run.c's merge loop written plainly (O(n²)): the reference for the fast encoder on random vocabularies.
std::vector<std::int32_t> bruteForceEncode(const std::vector<bq::SpVocabEntry>& vocab, const std::string& space,
                                           const std::string& text)
{
    auto find = [&](const std::string& p) {
        for (std::size_t i = 0; i < vocab.size(); ++i)
            if (vocab[i].piece == p && vocab[i].kind == bq::TokenKind::Normal)
                return static_cast<std::int32_t>(i);
        return -1;
    };
    std::vector<std::string> syms;
    if (!text.empty())
        syms.push_back(space);
    for (char c : text)
        syms.push_back(c == ' ' ? space : std::string(1, c));
    for (;;) {
        float best = -1e10f;
        std::size_t at = syms.size();
        for (std::size_t i = 0; i + 1 < syms.size(); ++i) {
            const std::int32_t id = find(syms[i] + syms[i + 1]);
            if (id >= 0 && vocab[static_cast<std::size_t>(id)].score > best) {
                best = vocab[static_cast<std::size_t>(id)].score;
                at = i;
            }
        }
        if (at == syms.size())
            break;
        syms[at] += syms[at + 1];
        syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    std::vector<std::int32_t> ids;
    for (const auto& s : syms) {
        const std::int32_t id = find(s);
        if (id >= 0)
            ids.push_back(id);
        else
            for (unsigned char b : s)
                ids.push_back(static_cast<std::int32_t>(b) + 3);
    }
    return ids;
}

} // namespace

TEST_CASE("Fast BPE equals the plain run.c merge loop on random vocabularies", "[tokenizer]")
{
    std::uint32_t rng = 2024;
    auto next = [&](std::uint32_t n) {
        rng = rng * 1664525u + 1013904223u;
        return (rng >> 8) % n;
    };
    const char alphabet[] = {'a', 'b', 'c', ' '};
    int compared = 0;
    for (int round = 0; round < 12; ++round) {
        for (bool metaspace : {true, false}) {
            const std::string space = metaspace ? "\xE2\x96\x81" : " ";
            std::vector<bq::SpVocabEntry> vocab{{"<unk>", 0, bq::TokenKind::Unknown},
                                                {metaspace ? "<s>" : "\n<s>\n", 0, bq::TokenKind::Control},
                                                {metaspace ? "</s>" : "\n</s>\n", 0, bq::TokenKind::Control}};
            for (int b = 0; b < 256; ++b) {
                char name[8];
                std::snprintf(name, sizeof name, "<0x%02X>", b);
                vocab.push_back({name, 0, bq::TokenKind::Byte});
            }
            for (char c : alphabet)
                vocab.push_back({c == ' ' ? space : std::string(1, c), -100, bq::TokenKind::Normal});
            // Random multi-character pieces with few distinct scores, so ties are common and merges cross spaces.
            for (int k = 0; k < 40; ++k) {
                std::string p;
                const std::uint32_t len = 2 + next(4);
                for (std::uint32_t i = 0; i < len; ++i) {
                    const char c = alphabet[next(4)];
                    p += c == ' ' ? space : std::string(1, c);
                }
                bool dup = false;
                for (const auto& e : vocab)
                    dup = dup || e.piece == p;
                if (!dup)
                    vocab.push_back({p, -static_cast<float>(next(5)), bq::TokenKind::Normal});
            }
            bq::SpBpeOptions o;
            o.spacesAsMetaspace = metaspace;
            o.runcCompat = !metaspace;
            o.family = metaspace ? "sentencepiece" : "llama2c";
            const bq::SpBpeTokenizer tok(vocab, o);
            for (int t = 0; t < 40; ++t) {
                std::string text;
                const std::uint32_t len = next(30);
                for (std::uint32_t i = 0; i < len; ++i)
                    text += next(20) == 0 ? 'z' : alphabet[next(4)];
                const auto fast = tok.encode(text);
                const auto slow = bruteForceEncode(vocab, space, text);
                INFO("round " << round << (metaspace ? " sentencepiece" : " run.c") << " text \"" << text << "\"");
                REQUIRE(fast == slow);
                CHECK(tok.decode(fast) == text);
                ++compared;
            }
        }
    }
    CHECK(compared == 12 * 2 * 40);

    // Ties go to the leftmost pair: "aba" with "ab" and "ba" equally scored merges "ab" first.
    std::vector<bq::SpVocabEntry> v{{"<unk>", 0, bq::TokenKind::Unknown}, {"<s>", 0, bq::TokenKind::Control},
                                    {"</s>", 0, bq::TokenKind::Control}, {"a", -5, bq::TokenKind::Normal},
                                    {"b", -5, bq::TokenKind::Normal},     {"ab", -1, bq::TokenKind::Normal},
                                    {"ba", -1, bq::TokenKind::Normal}};
    bq::SpBpeOptions o;
    o.addDummyPrefix = false;
    o.byteFallback = false;
    const bq::SpBpeTokenizer tie(v, o);
    CHECK(tie.encode("aba") == std::vector<std::int32_t>{5, 3});
    CHECK(tie.encode("bab") == std::vector<std::int32_t>{6, 4});
    CHECK(tie.encode("x") == std::vector<std::int32_t>{0});
    CHECK(tie.encode("xyab") == std::vector<std::int32_t>{0, 5}); // a run of unknown characters is one <unk>
}
