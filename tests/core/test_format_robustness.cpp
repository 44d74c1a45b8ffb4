// Malformed safetensors, GGUF and config.json inputs: every one must end in a FormatError (or UnsupportedModel
// for well-formed files we cannot run) that names the file and the problem — never a crash, a hang or a huge
// allocation. Run under the sanitizer build too.
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include "support/le_bytes.h"

#include "bq/formats/convert.h"
#include "bq/formats/gguf_file.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/gguf_writer.h"
#include "bq/formats/hf_config.h"
#include "bq/formats/hf_loader.h"
#include "bq/formats/safetensors_reader.h"
#include "bq/model/tensor_names.h"
#include "bq/util/errors.h"

#include <cstring>
#include <fstream>
#include <functional>
#include <random>

using namespace bq;
namespace fs = std::filesystem;

namespace {

void writeBytes(const fs::path& p, const std::string& bytes)
{
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs fn, requires a FormatError whose path is `file` and whose message contains every fragment.
void requireFormatError(const std::function<void()>& fn, const fs::path& file,
                        std::vector<std::string> fragments = {})
{
    try {
        fn();
    } catch (const FormatError& e) {
        INFO(e.what());
        CHECK(e.path() == file.string());
        CHECK(std::string(e.what()).find(file.filename().string()) != std::string::npos);
        for (const auto& f : fragments)
            CHECK(std::string(e.what()).find(f) != std::string::npos);
        return;
    }
    FAIL("expected a FormatError for " << file);
}

using G = bqtest::LeBytes;

// A valid small GGUF with one 32×2 F32 tensor and a few keys.
G validGguf()
{
    G g;
    g.header(1, 2);
    g.str("general.architecture").u32(8).str("llama");
    g.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("b");
    g.str("w").u32(2).u64(32).u64(2).u32(0).u64(0);
    g.pad();
    g.b.append(32 * 2 * 4, '\x01');
    return g;
}

Tensor f32Tensor(const std::string& name, std::vector<std::int64_t> shape)
{
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = 0.25f * static_cast<float>(i);
    return makeF32Tensor(name, std::move(shape), std::move(v));
}

std::string safetensorsWithHeader(const std::string& header, std::size_t dataBytes, std::uint64_t declared = 0)
{
    std::string out(8, '\0');
    const std::uint64_t n = declared ? declared : header.size();
    std::memcpy(out.data(), &n, 8);
    return out + header + std::string(dataBytes, '\0');
}

} // namespace

TEST_CASE("truncated safetensors files fail cleanly at every cut point", "[robustness][safetensors]")
{
    bqtest::TempDir tmp;
    writeSafetensorsFile(tmp / "full.safetensors",
                         {f32Tensor("a", {3, 5}), f32Tensor("b", {7}), f32Tensor("c", {2, 2, 2})}, {{"k", "v"}});
    const std::string full = bqtest::readFile(tmp / "full.safetensors");
    REQUIRE_NOTHROW(SafetensorsFile::open(tmp / "full.safetensors"));
    const fs::path cut = tmp / "cut.safetensors";
    int cuts = 0;
    for (std::size_t n = 0; n < full.size(); n += (n < 200 ? 1 : 7)) {
        writeBytes(cut, full.substr(0, n));
        INFO("cut at " << n << " of " << full.size());
        requireFormatError([&] { SafetensorsFile::open(cut); }, cut);
        ++cuts;
    }
    CHECK(cuts > 150);
}

TEST_CASE("malformed safetensors headers", "[robustness][safetensors]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "bad.safetensors";
    auto check = [&](const std::string& bytes, std::vector<std::string> fragments) {
        writeBytes(p, bytes);
        requireFormatError([&] { SafetensorsFile::open(p); }, p, fragments);
    };
    const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    writeBytes(p, safetensorsWithHeader(ok, 8));
    REQUIRE_NOTHROW(SafetensorsFile::open(p));

    // data_offsets past the end of the file
    check(safetensorsWithHeader(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
          {"tensor 'a'", "data_offsets", "inside the file"});
    // header length larger than the file, and absurd
    check(safetensorsWithHeader(ok, 8, 5000), {"header length"});
    check(safetensorsWithHeader(ok, 8, 1ull << 62), {"header length", "16 MiB"});
    // not JSON / not an object
    check(safetensorsWithHeader("{\"a\": [1, 2", 0), {"header", "JSON"});
    check(safetensorsWithHeader("[1,2,3]", 0), {"header"});
    // size mismatch between shape × dtype and the offsets
    check(safetensorsWithHeader(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8),
          {"tensor 'a'", "2 elements x 2 bytes"});
    // unknown dtype, bad shape, missing offsets, reversed offsets
    check(safetensorsWithHeader(R"({"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", 8), {"F17"});
    check(safetensorsWithHeader(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), {"shape"});
    check(safetensorsWithHeader(R"({"a":{"dtype":"F32","shape":[2]}})", 8), {"data_offsets"});
    check(safetensorsWithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8), {"data_offsets"});
    // a shape whose element count overflows
    check(safetensorsWithHeader(
              R"({"a":{"dtype":"F32","shape":[281474976710656,281474976710656,65536],"data_offsets":[0,8]}})", 8),
          {"shape"});
    // overlapping tensors
    check(safetensorsWithHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                    "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
          {"overlap"});
    // an 8-byte file is not a header
    check(std::string(3, '\0'), {"header length"});
}

TEST_CASE("truncated GGUF files fail cleanly at every cut point", "[robustness][gguf]")
{
    bqtest::TempDir tmp;
    // A real exported model: metadata of every kind, several tensors.
    ModelConfig c;
    c.dim = 32;
    c.hiddenDim = 32;
    c.nLayers = 1;
    c.nHeads = 2;
    c.nKvHeads = 1;
    c.headDim = 16;
    c.vocabSize = 8;
    c.maxSeqLen = 16;
    Model m;
    m.config = c;
    m.sourcePath = "tiny";
    auto add = [&](const std::string& n, std::vector<std::int64_t> s) { m.tensors.emplace(n, f32Tensor(n, s)); };
    add("token_embd.weight", {8, 32});
    add("output.weight", {8, 32});
    add("output_norm.weight", {32});
    for (const char* part : {"attn_norm", "ffn_norm"})
        add(blockTensorName(0, part), {32});
    add(blockTensorName(0, "attn_q"), {32, 32});
    add(blockTensorName(0, "attn_k"), {16, 32});
    add(blockTensorName(0, "attn_v"), {16, 32});
    add(blockTensorName(0, "attn_output"), {32, 32});
    for (const char* part : {"ffn_gate", "ffn_up", "ffn_down"})
        add(blockTensorName(0, part), {32, 32});
    m.validateTensors();
    writeGguf(m, tmp / "full.gguf", DType::Q8_0);
    const std::string full = bqtest::readFile(tmp / "full.gguf");
    auto f = GgufFile::open(tmp / "full.gguf");
    std::uint64_t lastEnd = 0;
    for (const auto& info : f->tensorInfos())
        lastEnd = std::max(lastEnd, f->dataStart() + info.offset + info.nbytes);
    REQUIRE(loadGgufModel(tmp / "full.gguf"));

    const fs::path cut = tmp / "cut.gguf";
    int cuts = 0;
    for (std::size_t n = 0; n < full.size(); n += (n < f->dataStart() ? 3 : 61)) {
        writeBytes(cut, full.substr(0, n));
        INFO("cut at " << n << " of " << full.size() << " (data ends at " << lastEnd << ")");
        if (n < lastEnd) {
            requireFormatError([&] { GgufFile::open(cut); }, cut);
            requireFormatError([&] { loadGgufModel(cut); }, cut);
        } else {
            CHECK_NOTHROW(GgufFile::open(cut)); // only the trailing padding is gone
        }
        ++cuts;
    }
    CHECK(cuts > 100);
}

TEST_CASE("malformed GGUF headers, metadata and tensor infos", "[robustness][gguf]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "bad.gguf";
    auto check = [&](const G& g, std::vector<std::string> fragments, std::int64_t offset = -2) {
        writeBytes(p, g.b);
        try {
            GgufFile::open(p);
        } catch (const FormatError& e) {
            INFO(e.what());
            CHECK(e.path() == p.string());
            for (const auto& f : fragments)
                CHECK(std::string(e.what()).find(f) != std::string::npos);
            if (offset != -2)
                CHECK(e.offset() == offset);
            return;
        }
        FAIL("expected a FormatError");
    };
    writeBytes(p, validGguf().b);
    REQUIRE_NOTHROW(GgufFile::open(p));

    {
        G g = validGguf();
        g.b[3] = 'X';
        check(g, {"magic", "GGUF"}, 0);
    }
    {
        G g = validGguf();
        const std::uint32_t be = 0x03000000u;
        std::memcpy(g.b.data() + 4, &be, 4);
        check(g, {"version", "big-endian"}, 4);
        const std::uint32_t v1 = 1;
        std::memcpy(g.b.data() + 4, &v1, 4);
        check(g, {"version", "2 or 3"}, 4);
    }
    check(G().header(1ull << 60, 0), {"tensor_count"}, 8);
    check(G().header(0, 0xffffffffffffull), {"metadata_kv_count"}, 16);
    check(G().header(0, 1).u64(1ull << 62).raw("abcdefghijklmnop"), {"metadata key 0 length", "string inside the file"}, 24);
    check(G().header(0, 1).str("k").u32(8).u64(1ull << 40), {"'k' length"});
    check(G().header(0, 1).str("k").u32(9).u32(8).u64(1ull << 61).str("x"), {"'k' count", "array inside the file"});
    check(G().header(0, 1).str("k").u32(9).u32(4).u64(1000).u32(1), {"'k' count"});
    check(G().header(0, 1).str("k").u32(13).u32(0), {"value type", "0..12"});
    check(G().header(0, 1).str("k").u32(9).u32(77).u64(0), {"element type"});
    check(G().header(0, 1).str("k").u32(7).raw("\x05"), {"bool"});
    {
        // Arrays of arrays nested too deep.
        G g = G().header(0, 1).str("k").u32(9);
        for (int i = 0; i < 50; ++i)
            g.u32(9).u64(1);
        g.u32(4).u64(0);
        check(g, {"nested"});
    }
    check(G().header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2), {"'k'", "duplicate"});
    check(G().header(0, 1).str("general.alignment").u32(4).u32(48), {"general.alignment", "power of two"});

    auto tensorFile = [](std::uint32_t nDims, std::uint64_t ne0, std::uint32_t type, std::uint64_t offset) {
        G g = G().header(1, 0).str("w").u32(nDims);
        for (std::uint32_t d = 0; d < nDims && d < 8; ++d)
            g.u64(d == 0 ? ne0 : 1);
        g.u32(type).u64(offset).pad();
        g.b.append(256, '\0');
        return g;
    };
    check(tensorFile(5, 32, 0, 0), {"tensor 'w' n_dims", "1 to 4"});
    check(tensorFile(0, 32, 0, 0), {"n_dims"});
    check(tensorFile(1, 32, 99, 0), {"tensor 'w' type", "known ggml type", "99"});
    check(tensorFile(1, 32, 0, 8), {"tensor 'w' offset", "multiple of the alignment 32"});
    check(tensorFile(1, 33, 8, 0), {"ne[0]", "block size 32"});
    check(tensorFile(1, 32, 0, 1ull << 62), {"tensor 'w' data", "inside the file"});
    check(tensorFile(1, 1ull << 47, 0, 0), {"tensor 'w' data"});
    check(tensorFile(1, 1ull << 60, 0, 0), {"ne[0]"});
    {
        G g = G().header(2, 0).str("w").u32(1).u64(8).u32(0).u64(0).str("w").u32(1).u64(8).u32(0).u64(32).pad();
        g.b.append(64, '\0');
        check(g, {"tensor 'w'", "duplicate"});
    }
    // llama.cpp's 256-weight types refuse a row length that is not a multiple of 256.
    for (std::uint32_t type : {10u, 11u, 12u, 13u, 14u, 15u, 23u, 34u, 35u}) {
        INFO("ggml type " << type);
        check(tensorFile(1, 128, type, 0), {"tensor 'w' ne[0]", "block size 256", "found 128"});
    }
    check(tensorFile(1, 48, 6, 0), {"tensor 'w' ne[0]", "block size 32", "found 48"});
    check(tensorFile(1, 32, 40, 0), {"tensor 'w' ne[0]", "block size 64", "found 32"}); // NVFP4
    // A valid ggml type this build does not read is an UnsupportedModel naming the file, the tensor, the type
    // and why.
    auto checkUnsupported = [&](std::uint32_t type, std::vector<std::string> fragments) {
        writeBytes(p, tensorFile(1, 256, type, 0).b);
        try {
            GgufFile::open(p);
            FAIL("expected UnsupportedModel");
        } catch (const UnsupportedModel& e) {
            INFO(e.what());
            fragments.push_back(p.string());
            fragments.push_back("tensor 'w'");
            for (const auto& f : fragments)
                CHECK(std::string(e.what()).find(f) != std::string::npos);
        }
    };
    checkUnsupported(16, {"IQ2_XXS (16)", "codebook", "lattice grids", "readable types: F32"});
    checkUnsupported(29, {"IQ1_M (29)", "codebook"});
    checkUnsupported(22, {"IQ2_S (22)", "codebook"});
    checkUnsupported(9, {"Q8_1 (9)", "dot-product operand"});
    checkUnsupported(31, {"Q4_0_4_4 (31)", "no longer writes it"});
    // A model file without architecture keys names the missing key.
    writeBytes(p, validGguf().b);
    requireFormatError([&] { loadGgufModel(p); }, p, {"llama.embedding_length"});
}

TEST_CASE("random byte corruption of GGUF and safetensors never crashes", "[robustness][fuzz]")
{
    bqtest::TempDir tmp;
    const std::string gguf = validGguf().b;
    writeSafetensorsFile(tmp / "s.safetensors", {f32Tensor("a", {3, 5}), f32Tensor("b", {7})});
    const std::string st = bqtest::readFile(tmp / "s.safetensors");
    std::mt19937 rng(1234);
    const fs::path p = tmp / "fuzz";
    int errors = 0, opened = 0;
    for (int iter = 0; iter < 600; ++iter) {
        const bool isGguf = iter % 2 == 0;
        std::string b = isGguf ? gguf : st;
        const std::size_t headerEnd = isGguf ? 160 : 8 + 120;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const std::size_t at = rng() % std::min(headerEnd, b.size());
            const int mode = static_cast<int>(rng() % 3);
            b[at] = mode == 0 ? static_cast<char>(rng()) : mode == 1 ? '\xff' : '\0';
        }
        writeBytes(p, b);
        try {
            if (isGguf)
                GgufFile::open(p);
            else
                SafetensorsFile::open(p);
            ++opened;
        } catch (const FormatError& e) {
            CHECK(e.path() == p.string());
            ++errors;
        } catch (const UnsupportedModel&) {
            ++errors;
        }
    }
    INFO(errors << " rejected, " << opened << " still valid");
    CHECK(errors > 200);
}

TEST_CASE("config.json problems name the field and the file", "[robustness][hf]")
{
    bqtest::TempDir tmp;
    const fs::path dir = tmp / "model";
    fs::create_directories(dir);
    const fs::path cfg = dir / "config.json";
    writeBytes(cfg, R"({"architectures": ["LlamaForCausalLM"], "intermediate_size": 8, "num_hidden_layers": 1,
                        "num_attention_heads": 1, "vocab_size": 4})");
    try {
        loadHfDirectory(dir);
        FAIL("expected FormatError");
    } catch (const FormatError& e) {
        CHECK(e.path() == cfg.string());
        CHECK(e.field() == "hidden_size");
        CHECK(std::string(e.what()).find("hidden_size") != std::string::npos);
        CHECK(std::string(e.what()).find(cfg.string()) != std::string::npos);
        CHECK(std::string(e.what()).find("an integer") != std::string::npos);
    }
    writeBytes(cfg, "this is { not json");
    requireFormatError([&] { loadHfDirectory(dir); }, cfg, {"JSON"});
    writeBytes(cfg, "[1, 2]");
    requireFormatError([&] { loadHfDirectory(dir); }, cfg, {"object"});
    writeBytes(cfg, R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8.5, "intermediate_size": 8,
                        "num_hidden_layers": 1, "num_attention_heads": 1, "vocab_size": 4})");
    requireFormatError([&] { loadHfDirectory(dir); }, cfg, {"hidden_size", "an integer"});

    // A valid config but no weights, then weights with a tensor missing.
    writeBytes(cfg, hfConfigJson([] {
        ModelConfig c;
        c.dim = 8; c.hiddenDim = 8; c.nLayers = 1; c.nHeads = 2; c.nKvHeads = 2; c.headDim = 4;
        c.vocabSize = 4; c.maxSeqLen = 8;
        return c;
    }(), "float32", -1, -1));
    requireFormatError([&] { loadHfDirectory(dir); }, dir, {"model.safetensors"});
    writeSafetensorsFile(dir / "model.safetensors", {f32Tensor("model.embed_tokens.weight", {4, 8})});
    requireFormatError([&] { loadHfDirectory(dir); }, dir, {"output_norm.weight"});
    // An index that names a missing shard.
    writeBytes(dir / "model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": "nope.safetensors"}})");
    requireFormatError([&] { loadHfDirectory(dir); }, dir / "nope.safetensors");
    writeBytes(dir / "model.safetensors.index.json", R"({"weight_map": 5})");
    requireFormatError([&] { loadHfDirectory(dir); }, dir / "model.safetensors.index.json", {"weight_map"});
}
