// Writes the committed seed corpus of the fuzz targets: small valid files made with the project's own writers
// (a tiny synthetic model as GGUF, safetensors + config.json + tokenizer.json, a bitstudio GGUF layer, a run file,
// recipes), hand-built llama2.c and SentencePiece files, and the hostile files of
// tests/core/test_hostile_inputs.cpp in small versions (the same header claims on a few hundred bytes).
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus
// Nothing comes from ../shared: its MANIFEST keeps its files out of the repository (for a long local run, add
// e.g. stories260K's tok512.bin behind the two-byte vocabulary prefix to a corpus outside the repository).
// Rerunning it rewrites the same bytes (fixed seeds; the run file differs only by its creation time); other files in
// the corpus (inputs that found bugs) are left alone.
#include "bq/formats/bitstudio_gguf.h"
#include "bq/formats/convert.h"
#include "bq/formats/gguf_file.h"
#include "bq/jobs/events.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/quant/run/run_file.h"
#include "support/le_bytes.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

using namespace bq;
namespace fs = std::filesystem;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes)
{
    const fs::path dir = g_out / target;
    fs::create_directories(dir);
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f)
        throw std::runtime_error("cannot write " + (dir / name).string());
}

std::string slurp(const fs::path& p)
{
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void putFile(const std::string& target, const std::string& name, const fs::path& from)
{
    put(target, name, slurp(from));
}

using Bytes = bqtest::LeBytes;

std::string nested(char open, char close, std::size_t depth, const std::string& inner = "")
{
    return std::string(depth, open) + inner + std::string(depth, close);
}

// A tiny llama config: dim 16, FFN 32, 1 layer, 2 heads / 1 KV head, the placeholder vocabulary of 260.
ModelConfig tinyConfig()
{
    ModelConfig c = syntheticShape("stories260k").config;
    c.dim = 16;
    c.hiddenDim = 32;
    c.nLayers = 1;
    c.nHeads = 2;
    c.nKvHeads = 1;
    c.headDim = 8;
    c.vocabSize = 260;
    c.maxSeqLen = 32;
    return c;
}

// ---- llama2.c ----

std::string llama2cV0(std::int32_t dim, std::int32_t hidden, std::int32_t layers, std::int32_t heads,
                      std::int32_t kvHeads, std::int32_t vocab, std::int32_t seq)
{
    Bytes b;
    for (std::int32_t v : {dim, hidden, layers, heads, kvHeads, vocab, seq})
        b.i32(v);
    const std::int64_t head = dim / heads, kv = kvHeads * head, V = vocab < 0 ? -vocab : vocab;
    std::int64_t floats = V * dim + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * dim * hidden) +
                          dim + seq * head;
    if (vocab < 0)
        floats += V * dim;
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 0.1f);
    for (std::int64_t k = 0; k < floats; ++k)
        b.f32(nd(rng));
    return b.b;
}

std::string llama2cV1V2(int version)
{
    const std::int32_t dim = 8, hidden = 16, layers = 1, heads = 2, kvHeads = 2, vocab = 8, seq = 4, group = 8;
    Bytes b;
    b.u32(0x616b3432).i32(version);
    for (std::int32_t v : {dim, hidden, layers, heads, kvHeads, vocab, seq})
        b.i32(v);
    b.b += '\1'; // shared classifier
    if (version == 2)
        b.i32(group);
    b.zeros(256 - b.b.size());
    const std::int64_t norms = layers * 2 * dim + dim;
    for (std::int64_t k = 0; k < norms; ++k)
        b.f32(1.0f);
    const std::int64_t mats[] = {vocab * dim, dim * dim, dim * dim, dim * dim, dim * dim, hidden * dim, dim * hidden,
                                 hidden * dim};
    for (std::int64_t n : mats) {
        if (version == 1) {
            for (std::int64_t k = 0; k < n; ++k)
                b.f32(0.01f * static_cast<float>(k % 7));
        } else {
            for (std::int64_t k = 0; k < n; ++k)
                b.b += static_cast<char>(k % 5 - 2);
            for (std::int64_t k = 0; k < n / group; ++k)
                b.f32(0.01f);
        }
    }
    return b.b;
}

void llama2cSeeds()
{
    put("llama2c", "v0-tiny.bin", llama2cV0(8, 8, 1, 2, 2, 4, 4));
    put("llama2c", "v0-unshared-classifier.bin", llama2cV0(8, 16, 2, 2, 1, -6, 4));
    put("llama2c", "v1-tiny.bin", llama2cV1V2(1));
    put("llama2c", "v2-int8.bin", llama2cV1V2(2));
    // Hostile (test_hostile_inputs.cpp): n_layers 0; a vocabulary of 2^30 in a 2 KB file.
    Bytes zero;
    for (std::int32_t v : {8, 8, 0, 2, 2, 4, 4})
        zero.i32(v);
    put("llama2c", "hostile-zero-layers.bin", zero.zeros(4096).b);
    Bytes big;
    for (std::int32_t v : {8, 8, 1, 2, 2, 1 << 30, 4})
        big.i32(v);
    put("llama2c", "hostile-vocab-2e30.bin", big.zeros(2048).b);
}

// tokenizer.bin: the fuzz target reads the vocabulary size from the first two bytes (size - 1, little-endian).
std::string tokenizerBin(int vocab)
{
    Bytes b;
    b.raw(std::string(1, static_cast<char>((vocab - 1) & 0xFF)) + static_cast<char>(((vocab - 1) >> 8) & 0xFF));
    b.i32(8); // max_token_length
    const char* pieces[] = {"<unk>", "<s>", "</s>", "<0x0A>", " ", "a", "b", " a", "ab", " ab", "abab", "\xc3\xa9"};
    for (int id = 0; id < vocab; ++id) {
        const std::string p = id < 12 ? pieces[id] : "t" + std::to_string(id);
        b.f32(-static_cast<float>(id)).i32(static_cast<std::int32_t>(p.size())).raw(p);
    }
    return b.b;
}

void llama2cTokenizerSeeds()
{
    put("llama2c_tokenizer", "small-12.bin", tokenizerBin(12));
    put("llama2c_tokenizer", "small-40.bin", tokenizerBin(40));
    // Hostile: the largest vocabulary the two-byte prefix can claim, with a 13-byte tokenizer.bin.
    put("llama2c_tokenizer", "hostile-vocab-65536-13-bytes.bin",
        std::string("\xff\xff", 2) + std::string("\x10\0\0\0", 4) + std::string(9, '\0'));
    put("llama2c_tokenizer", "medium-300.bin", tokenizerBin(300));
}

// ---- Hugging Face: safetensors, config.json, tokenizer.json (written by writeHfDirectory) ----

std::string safetensorsWithHeader(const std::string& header, const std::string& data = "")
{
    return Bytes().u64(header.size()).raw(header).raw(data).b;
}

void hfSeeds(const Model& model)
{
    const fs::path dir = g_out / ".hf-tmp";
    fs::remove_all(dir);
    writeHfDirectory(model, dir, DType::F16);
    putFile("safetensors", "tiny-f16.safetensors", dir / "model.safetensors");
    putFile("hf_config", "tiny-llama.json", dir / "config.json");
    putFile("tokenizer_json", "placeholder-sp-style.json", dir / "tokenizer.json");
    fs::remove_all(dir);

    // Every dtype the reader materialises, metadata, and an I64 tensor it lists but does not convert.
    std::string data;
    for (int k = 0; k < 4; ++k) {
        const float v = 0.5f * static_cast<float>(k);
        data.append(reinterpret_cast<const char*>(&v), 4);
    }
    data += std::string("\x00\x3c\x00\x40", 4);         // F16 1, 2
    data += std::string("\x80\x3f\x00\x40", 4);         // BF16 1, 2
    data += std::string("\x07\0\0\0\0\0\0\0", 8);       // I64 7
    put("safetensors", "dtypes.safetensors",
        safetensorsWithHeader(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                              R"("b":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},)"
                              R"("c":{"dtype":"BF16","shape":[2],"data_offsets":[20,24]},)"
                              R"("d":{"dtype":"I64","shape":[1],"data_offsets":[24,32]}})",
                              data));
    // Hostile: a zero dimension; a header nested past the depth limit (small: 100 levels).
    put("safetensors", "hostile-zero-dim.safetensors",
        safetensorsWithHeader(R"({"w":{"dtype":"F32","shape":[4,0],"data_offsets":[0,0]}})"));
    put("safetensors", "hostile-deep.safetensors", safetensorsWithHeader(std::string(100, '[')));
    put("safetensors", "hostile-header-length.safetensors", Bytes().u64(99ull * 1000 * 1000).raw("[[[[").b);

    const std::string arch = R"({"architectures":["LlamaForCausalLM"],)";
    put("hf_config", "qwen3-llama3-rope.json",
        R"({"architectures":["Qwen3ForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,)"
        R"("num_attention_heads":4,"num_key_value_heads":2,"head_dim":32,"vocab_size":300,"rms_norm_eps":1e-6,)"
        R"("rope_theta":1000000,"max_position_embeddings":4096,"tie_word_embeddings":true,"eos_token_id":[1,2],)"
        R"("bos_token_id":0,"torch_dtype":"bfloat16","sliding_window":null,)"
        R"("rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,)"
        R"("original_max_position_embeddings":8192}})");
    put("hf_config", "hostile-hidden-zero.json",
        arch + R"("hidden_size":0,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":4})");
    put("hf_config", "hostile-kv-heads-zero.json",
        arch + R"("hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,)"
               R"("num_key_value_heads":0,"vocab_size":4})");
    put("hf_config", "hostile-heads-65536.json",
        arch + R"("hidden_size":64,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":65536,)"
               R"("head_dim":65536,"vocab_size":4})");
    put("hf_config", "hostile-deep.json", arch + R"("x":)" + nested('{', '}', 100) + "}");

    // tokenizer.json: byte-level (regex split, NFC, added tokens, post-processor) and SentencePiece-style.
    put("tokenizer_json", "byte-level.json",
        R"({"added_tokens":[{"id":5,"content":"<|end|>","special":true}],)"
        R"("normalizer":{"type":"NFC"},)"
        R"("pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":)"
        R"("(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s+"},)"
        R"("behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,)"
        R"("use_regex":false}]},)"
        R"("post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}}]},)"
        R"("decoder":{"type":"ByteLevel"},)"
        R"("model":{"type":"BPE","byte_fallback":false,"vocab":{"a":0,"b":1,"ab":2,"\u0120":3,"\u0120ab":4},)"
        R"("merges":["a b","\u0120 ab"]}})");
    put("tokenizer_json", "sp-style.json",
        R"({"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"\u2581"},)"
        R"({"type":"Replace","pattern":{"String":" "},"content":"\u2581"}]},"pre_tokenizer":null,)"
        R"("decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"\u2581"},"content":" "},)"
        R"({"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},)"
        R"("model":{"type":"BPE","byte_fallback":true,"unk_token":"<unk>",)"
        R"("vocab":{"<unk>":0,"<s>":1,"</s>":2,"<0x0A>":3,"\u2581":4,"a":5,"b":6,"\u2581a":7,"ab":8},)"
        R"("merges":[["\u2581","a"],["a","b"]]}})");
    const std::string base = R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";
    put("tokenizer_json", "hostile-post-processor-deep.json", base + R"(,"post_processor":)" + nested('[', ']', 100) + "}");
    std::string deep;
    for (int i = 0; i < 70; ++i)
        deep += R"({"type":"Sequence","normalizers":[)";
    deep += R"({"type":"Lowercase"})";
    for (int i = 0; i < 70; ++i)
        deep += "]}";
    put("tokenizer_json", "hostile-normalizer-deep.json", base + R"(,"normalizer":)" + deep + "}");
    put("tokenizer_json", "hostile-vocab-id.json", R"({"model":{"type":"BPE","vocab":{"a":134217727},"merges":[]}})");
    put("tokenizer_json", "hostile-added-token-id.json",
        R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"added_tokens":[{"id":4000000,"content":"<x>","special":true}]})");
}

// ---- SentencePiece .model (protobuf, by hand) ----

std::string spPiece(const std::string& piece, float score, int type)
{
    Bytes m;
    m.varint(1 << 3 | 2).varint(piece.size()).raw(piece);
    m.varint(2 << 3 | 5).f32(score);
    if (type != 1)
        m.varint(3 << 3 | 0).varint(static_cast<std::uint64_t>(type));
    return m.b;
}

std::string spModel(bool bpe, const std::string& normalizer)
{
    Bytes b;
    const std::vector<std::tuple<std::string, float, int>> pieces = {
        {"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}, {"<0x0A>", 0, 6}, {"<0x41>", 0, 6},
        {"\xe2\x96\x81", -1, 1}, {"a", -2, 1}, {"b", -3, 1}, {"\xe2\x96\x81" "a", -4, 1}, {"ab", -5, 1}, {"<x>", 0, 4}};
    for (const auto& [p, s, t] : pieces) {
        const std::string m = spPiece(p, s, t);
        b.varint(1 << 3 | 2).varint(m.size()).raw(m);
    }
    Bytes trainer;
    trainer.varint(3 << 3 | 0).varint(bpe ? 2 : 1);  // model_type
    trainer.varint(35 << 3 | 0).varint(1);           // byte_fallback
    trainer.varint(40 << 3 | 0).varint(0);           // unk_id
    trainer.varint(43 << 3 | 0).varint(static_cast<std::uint64_t>(-1)); // pad_id -1 (10-byte varint)
    b.varint(2 << 3 | 2).varint(trainer.b.size()).raw(trainer.b);
    Bytes norm;
    norm.varint(1 << 3 | 2).varint(normalizer.size()).raw(normalizer);
    norm.varint(3 << 3 | 0).varint(1);
    b.varint(3 << 3 | 2).varint(norm.b.size()).raw(norm.b);
    return b.b;
}

void sentencePieceSeeds()
{
    put("sentencepiece", "bpe-identity.model", spModel(true, "identity"));
    put("sentencepiece", "unigram-nfkc.model", spModel(false, "nmt_nfkc"));
    // Hostile: field 1 with a length of 2^40 and nothing after it.
    put("sentencepiece", "hostile-length-2e40.model", Bytes().raw("\x0a").varint(1ull << 40).b);
}

// ---- GGUF: a tiny model, a bitstudio layer, hostile headers ----

QuantizedLinear tinyLayer(const std::string& tensor, Eigen::Index rows, Eigen::Index cols)
{
    QuantizedLinear q;
    q.tensor = tensor;
    q.method = "fuzz-seed";
    q.rows = rows;
    q.cols = cols;
    for (int k = 0; k < 2; ++k) {
        SignPlane p;
        p.signs = MatrixXi8R::Constant(rows, cols, 1);
        for (Eigen::Index i = 0; i < rows; ++i)
            for (Eigen::Index j = 0; j < cols; j += 3)
                p.signs(i, j) = -1;
        p.group = k == 0 ? 0 : 8;
        p.rowScale = Eigen::MatrixXf::Constant(rows, groupCount(cols, p.group), 0.25f);
        if (k == 1) {
            p.mask.kind = PlaneMask::Kind::Columns;
            p.mask.columns.assign(static_cast<std::size_t>(cols), 0);
            p.mask.columns[0] = p.mask.columns[2] = 1;
            p.colScale = Eigen::VectorXf::Constant(cols, 0.5f);
            p.mean = Eigen::MatrixXf::Constant(rows, groupCount(cols, p.group), 0.125f);
        }
        q.planes.push_back(std::move(p));
    }
    CodePlane c;
    c.bits = 2;
    c.group = 8;
    c.codes = MatrixXu8R::Constant(rows, cols, 1);
    c.scale = Eigen::MatrixXf::Constant(rows, groupCount(cols, c.group), 0.5f);
    c.zero = Eigen::MatrixXf::Constant(rows, groupCount(cols, c.group), 1.0f);
    q.codes = std::move(c);
    q.storageBitsPerWeight = 4.5;
    q.validate();
    return q;
}

std::string ggufHeader(Bytes& g, std::uint64_t tensors, std::uint64_t kvs)
{
    g.raw("GGUF").u32(3).u64(tensors).u64(kvs);
    return g.b;
}

void ggufSeeds(const Model& model)
{
    const fs::path tmp = g_out / ".gguf-tmp.gguf";
    writeGguf(model, tmp, DType::F16);
    putFile("gguf", "tiny-f16.gguf", tmp);

    // The same model with blk.0.attn_q.weight stored as a bitstudio layer (what `export --format bitstudio`
    // writes for each quantized tensor).
    const std::string name = "blk.0.attn_q.weight";
    const QuantizedLinear layer = tinyLayer(name, model.config.nHeads * model.config.headDim, model.config.dim);
    GgufWriteOptions o;
    o.force = true;
    o.tensorHook = [&](const std::string& t, const std::vector<std::int64_t>&) -> std::optional<std::vector<Tensor>> {
        if (t != name)
            return std::nullopt;
        return bitstudioComponents(layer);
    };
    o.extraMetadata = {{kBitstudioTensorsKey, GgufValue::stringArray({name})},
                       {std::string(kBitstudioTensorKeyPrefix) + name, GgufValue::str(bitstudioDescriptor(layer).dump())}};
    writeGguf(model, tmp, DType::F16, o);
    putFile("gguf", "tiny-bitstudio-layer.gguf", tmp);
    fs::remove(tmp);

    // Hostile (test_hostile_inputs.cpp): a zero dimension; a 2^15 x 2^17 bitstudio layer claimed in a small file;
    // arrays of arrays; head_count = key_length = 65536.
    {
        Bytes g;
        ggufHeader(g, 1, 1);
        g.str("general.architecture").u32(8).str("llama");
        g.str("rope_freqs.weight").u32(2).u64(0).u64(5).u32(0).u64(0);
        g.zeros((32 - g.b.size() % 32) % 32);
        put("gguf", "hostile-zero-dim.gguf", g.b);
    }
    {
        const std::string desc = R"({"method":"sign","rows":32768,"cols":131072,"planes":[{"group":0,"mask":"all",)"
                                 R"("colscale":false,"mean":false}],"codes":null})";
        Bytes g;
        ggufHeader(g, 0, 2);
        g.str(kBitstudioTensorsKey).u32(9).u32(8).u64(1).str(name);
        g.str(std::string(kBitstudioTensorKeyPrefix) + name).u32(8).str(desc);
        put("gguf", "hostile-huge-layer.gguf", g.b);
    }
    {
        Bytes g;
        ggufHeader(g, 0, 1);
        g.str("x.nested").u32(9).u32(9).u64(1000);
        for (int k = 0; k < 1000; ++k)
            g.u32(4).u64(0);
        put("gguf", "hostile-arrays-of-arrays.gguf", g.b);
    }
    {
        Bytes g;
        ggufHeader(g, 1, 7);
        g.str("general.architecture").u32(8).str("llama");
        for (const auto& [k, v] : std::vector<std::pair<std::string, std::uint32_t>>{
                 {"llama.embedding_length", 64}, {"llama.feed_forward_length", 64}, {"llama.block_count", 1},
                 {"llama.attention.head_count", 65536}, {"llama.attention.key_length", 65536},
                 {"llama.vocab_size", 4}})
            g.str(k).u32(4).u32(v);
        g.str("output_norm.weight").u32(1).u64(64).u32(0).u64(0);
        g.zeros((32 - g.b.size() % 32) % 32).zeros(256);
        put("gguf", "hostile-heads-65536.gguf", g.b);
    }
    {
        // A gpt2 vocabulary embedded in the GGUF with an unknown pre-tokenizer.
        Bytes g;
        ggufHeader(g, 0, 4);
        g.str("tokenizer.ggml.model").u32(8).str("gpt2");
        g.str("tokenizer.ggml.pre").u32(8).str("no-such-pre");
        g.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("b");
        g.str("tokenizer.ggml.token_type").u32(9).u32(5).u64(2).u32(1).u32(1);
        put("gguf", "hostile-unknown-pre.gguf", g.b);
    }
}

// ---- recipes and run files ----

void recipeSeeds()
{
    put("recipe", "builtin-arb-rc.recipe.json", quant::builtinRecipe("arb-rc").toJson().dump(2));
    put("recipe", "builtin-output-align.recipe.json", quant::builtinRecipe("output-align").toJson().dump(2));
    put("recipe", "rules.recipe.json",
        R"({"version":1,"defaults":{"method":"arb-rc","options":{},"block_size":128,"damping":0.01,"samples":8,)"
        R"("seqlen":32,"seed":0,"sampling":"concat","keep_fp":["token_embd.weight","output.weight"],)"
        R"("true_sequential":false,"recollect_down":true,"analysis":"full"},)"
        R"("rules":[{"match":"blk.*.ffn_down.weight","method":"output-align","options":{"mod_k":5}},)"
        R"({"match":{"regex":"blk\\.(0|1)\\.attn_v\\.weight"},"method":"gptq","options":{"bits":2}},)"
        R"({"match":"re:blk\\.2\\..*","method":"sign"},{"match":"blk.0.*","keep_fp":true}],)"
        R"("overrides":{"blk.3.ffn_up.weight":{"method":"sign"}}})");
    put("recipe", "hostile-deep.recipe.json", R"({"version":1,"defaults":)" + nested('[', ']', 100) + "}");
}

void runFileSeeds()
{
    const fs::path p = g_out / ".run-tmp.h5";
    quant::RunHeader h;
    h.recipe = quant::builtinRecipe("sign").toJson();
    h.modelPath = ":demo";
    h.calibration = {{"source", "demo"}, {"samples", 1}, {"seq_len", 4}};
    h.calibrationTokens.samples = 1;
    h.calibrationTokens.seqLen = 4;
    h.calibrationTokens.ids = {1, 5, 6, 7};
    h.blockCount = 1;
    {
        auto w = quant::RunFileWriter::create(p, h);
        const QuantizedLinear q = tinyLayer("blk.0.attn_q.weight", 4, 16);
        LayerResult r;
        r.tensor = q.tensor;
        r.block = 0;
        r.method = "sign";
        r.decidedBy = "default";
        r.metrics = {{"rel_mse", 0.25}, {"bits_per_weight", 4.5}};
        auto arrays = std::make_shared<LayerArrays>();
        arrays->values["spectrum"] = {1.0, 0.5, 0.25};
        r.arrays = arrays;
        r.bitsPerWeight = 4.5;
        w.writeLayer(r, &q);
        w.writeBlock(0, {{"residual.rel_mse", 0.01}});
        w.finishBlock(0);
        w.writeFinalEval({{"ppl", 12.5}, {"note", "seed"}});
        w.setStatus(quant::RunStatus::Completed);
    }
    putFile("run_file", "tiny-completed.h5", p);
    fs::remove(p);
    put("run_file", "not-hdf5.h5", "\x89HDF\r\n\x1a\n but not really");
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    try {
        const auto model = makeSyntheticModel(SyntheticShape{"fuzz-tiny", tinyConfig()}, 7);
        llama2cSeeds();
        llama2cTokenizerSeeds();
        hfSeeds(*model);
        sentencePieceSeeds();
        ggufSeeds(*model);
        recipeSeeds();
        runFileSeeds();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
        return 1;
    }
    for (const auto& d : fs::directory_iterator(g_out))
        if (d.is_directory())
            std::printf("%-20s %zu files\n", d.path().filename().c_str(),
                        static_cast<std::size_t>(std::distance(fs::directory_iterator(d.path()), {})));
    return 0;
}
