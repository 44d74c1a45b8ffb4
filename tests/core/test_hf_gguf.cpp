// Hugging Face directories, GGUF files and the converter: round trips against independently computed
// expectations (row permutations, fp16/bf16/Q8_0 rounding written out here), byte-identical re-writes, sharded
// checkpoints, Qwen2/Qwen3 specifics and llama3 rope scaling.
#include "support/test_support.h"
#include <catch2/catch.hpp>

#include "bq/formats/convert.h"
#include "bq/formats/gguf_file.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/gguf_writer.h"
#include "bq/formats/hf_config.h"
#include "bq/formats/hf_loader.h"
#include "bq/formats/llama2c_reader.h"
#include "bq/formats/safetensors_reader.h"
#include "bq/model/tensor_names.h"
#include "bq/runtime/fp32_model.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/fp16.h"
#include "bq/util/mapped_file.h"

#include <cmath>
#include <sentencepiece_processor.h>
#include <cstring>
#include <fstream>
#include <random>

using namespace bq;
namespace fs = std::filesystem;

namespace {

ModelConfig smallConfig(const std::string& arch, RopeStyle style)
{
    ModelConfig c;
    c.arch = arch;
    c.dim = 64;
    c.hiddenDim = 96;
    c.nLayers = 2;
    c.nHeads = 4;
    c.nKvHeads = 2;
    c.headDim = 16;
    c.vocabSize = 40;
    c.maxSeqLen = 128;
    c.normEps = 1e-5f;
    c.ropeTheta = 10000.0f;
    c.ropeStyle = style;
    c.qkvBias = arch == "qwen2";
    c.qkNorm = arch == "qwen3";
    return c;
}

// A model with every tensor the architecture needs, filled with seeded uniform values.
std::shared_ptr<Model> randomModel(const ModelConfig& c, std::uint32_t seed = 7)
{
    auto m = std::make_shared<Model>();
    m->config = c;
    m->sourcePath = "random-" + c.arch;
    m->sourceFormat = "test";
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    auto add = [&](const std::string& name, std::vector<std::int64_t> shape) {
        std::int64_t n = 1;
        for (auto d : shape)
            n *= d;
        std::vector<float> v(static_cast<std::size_t>(n));
        for (auto& x : v)
            x = u(rng);
        m->tensors.emplace(name, makeF32Tensor(name, shape, std::move(v)));
    };
    const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim();
    add("token_embd.weight", {c.vocabSize, d});
    add("output_norm.weight", {d});
    if (!c.tiedEmbeddings)
        add("output.weight", {c.vocabSize, d});
    for (int l = 0; l < c.nLayers; ++l) {
        add(blockTensorName(l, "attn_norm"), {d});
        add(blockTensorName(l, "attn_q"), {q, d});
        add(blockTensorName(l, "attn_k"), {kv, d});
        add(blockTensorName(l, "attn_v"), {kv, d});
        add(blockTensorName(l, "attn_output"), {d, q});
        add(blockTensorName(l, "ffn_norm"), {d});
        add(blockTensorName(l, "ffn_gate"), {h, d});
        add(blockTensorName(l, "ffn_up"), {h, d});
        add(blockTensorName(l, "ffn_down"), {d, h});
        if (c.qkNorm) {
            add(blockTensorName(l, "attn_q_norm"), {c.headDim});
            add(blockTensorName(l, "attn_k_norm"), {c.headDim});
        }
        if (c.qkvBias) {
            const std::string p = "blk." + std::to_string(l) + ".";
            add(p + "attn_q.bias", {q});
            add(p + "attn_k.bias", {kv});
            add(p + "attn_v.bias", {kv});
        }
    }
    m->validateTensors();
    return m;
}

// The expected row order after converting between RoPE conventions, written out independently of the code:
// within each head of size hd, HF (rotate-half) row i holds interleaved row 2i and row i + hd/2 holds 2i + 1.
std::vector<float> permuteRowsRef(const std::vector<float>& v, std::int64_t rows, int heads, bool toNeoX)
{
    const std::int64_t cols = static_cast<std::int64_t>(v.size()) / rows, hd = rows / heads;
    std::vector<float> out(v.size());
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t h = r / hd, j = r % hd;
        // interleaved index of rotate-half row j
        const std::int64_t inter = j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1;
        const std::int64_t src = toNeoX ? h * hd + inter : r;
        const std::int64_t dst = toNeoX ? r : h * hd + inter;
        std::copy_n(v.begin() + src * cols, cols, out.begin() + dst * cols);
    }
    return out;
}

int ropeHeadsOf(const std::string& name, const ModelConfig& c)
{
    if (name.find(".attn_q.") != std::string::npos)
        return c.nHeads;
    if (name.find(".attn_k.") != std::string::npos)
        return c.nKvHeads;
    if (name.find("_norm.weight") != std::string::npos &&
        (name.find("attn_q_norm") != std::string::npos || name.find("attn_k_norm") != std::string::npos))
        return 1;
    return 0;
}

// Every tensor of `b` equals `a`'s (same canonical names), with RoPE rows re-ordered when the styles differ.
void requireSameTensors(const Model& a, const Model& b)
{
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (const auto& [name, ta] : a.tensors) {
        INFO(name);
        const Tensor* tb = b.find(name);
        REQUIRE(tb);
        REQUIRE(ta.shape == tb->shape);
        std::vector<float> va = ta.toFloat();
        const int heads = ropeHeadsOf(name, a.config);
        if (heads && a.config.ropeStyle != b.config.ropeStyle)
            va = permuteRowsRef(va, ta.shape[0], heads, b.config.ropeStyle == RopeStyle::NeoX);
        REQUIRE(va == tb->toFloat());
    }
}

void requireSameConfig(const ModelConfig& a, const ModelConfig& b)
{
    CHECK(a.dim == b.dim);
    CHECK(a.hiddenDim == b.hiddenDim);
    CHECK(a.nLayers == b.nLayers);
    CHECK(a.nHeads == b.nHeads);
    CHECK(a.nKvHeads == b.nKvHeads);
    CHECK(a.headDim == b.headDim);
    CHECK(a.vocabSize == b.vocabSize);
    CHECK(a.maxSeqLen == b.maxSeqLen);
    CHECK(a.normEps == b.normEps);
    CHECK(a.ropeTheta == b.ropeTheta);
    CHECK(a.tiedEmbeddings == b.tiedEmbeddings);
    CHECK(a.qkvBias == b.qkvBias);
    CHECK(a.qkNorm == b.qkNorm);
    CHECK(a.ropeScaling.has_value() == b.ropeScaling.has_value());
}

std::string fileBytes(const fs::path& p) { return bqtest::readFile(p); }

// RoPE written out for one head vector: interleaved pairs (2i, 2i+1) or rotate-half pairs (i, i + hd/2).
std::vector<double> rope(const std::vector<double>& x, int pos, bool neox, double theta = 10000.0)
{
    const int hd = static_cast<int>(x.size());
    std::vector<double> y(x);
    for (int i = 0; i < hd / 2; ++i) {
        const double a = pos * std::pow(theta, -2.0 * i / hd);
        const int p0 = neox ? i : 2 * i, p1 = neox ? i + hd / 2 : 2 * i + 1;
        y[p0] = x[p0] * std::cos(a) - x[p1] * std::sin(a);
        y[p1] = x[p0] * std::sin(a) + x[p1] * std::cos(a);
    }
    return y;
}

std::vector<double> headOf(const Tensor& w, const std::vector<float>& x, int head, int hd)
{
    const auto v = w.toFloat();
    const std::int64_t cols = w.cols();
    std::vector<double> out(static_cast<std::size_t>(hd));
    for (int r = 0; r < hd; ++r) {
        double s = 0;
        for (std::int64_t k = 0; k < cols; ++k)
            s += double(v[static_cast<std::size_t>((head * hd + r) * cols + k)]) * x[static_cast<std::size_t>(k)];
        out[static_cast<std::size_t>(r)] = s;
    }
    return out;
}

double dot(const std::vector<double>& a, const std::vector<double>& b)
{
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += a[i] * b[i];
    return s;
}

float bf16Ref(float x)
{
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    float y;
    std::memcpy(&y, &u, 4);
    return y;
}

} // namespace

TEST_CASE("HF export of an interleaved-RoPE model permutes q/k rows and reloads exactly", "[hf]")
{
    bqtest::TempDir tmp;
    auto m = randomModel(smallConfig("llama", RopeStyle::Interleaved));
    writeHfDirectory(*m, tmp / "hf");
    REQUIRE(fs::exists(tmp / "hf" / "config.json"));
    REQUIRE(fs::exists(tmp / "hf" / "model.safetensors"));
    auto back = loadHfDirectory(tmp / "hf");
    requireSameConfig(m->config, back->config);
    CHECK(back->config.ropeStyle == RopeStyle::NeoX);
    CHECK(back->sourceFormat == "hf-safetensors");
    requireSameTensors(*m, *back);

    // The permuted model computes the same attention scores: q·k after interleaved RoPE on the original
    // rows equals q·k after rotate-half RoPE on the exported rows, for every head pairing and position.
    std::vector<float> x(64), y(64);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1, 1);
    for (auto& v : x) v = u(rng);
    for (auto& v : y) v = u(rng);
    const int hd = 16;
    for (int head = 0; head < 4; ++head) {
        const int kvHead = head / 2;
        const auto q0 = headOf(m->tensor("blk.1.attn_q.weight"), x, head, hd);
        const auto k0 = headOf(m->tensor("blk.1.attn_k.weight"), y, kvHead, hd);
        const auto q1 = headOf(back->tensor("blk.1.attn_q.weight"), x, head, hd);
        const auto k1 = headOf(back->tensor("blk.1.attn_k.weight"), y, kvHead, hd);
        for (int pos : {0, 1, 7, 100}) {
            const double s0 = dot(rope(q0, pos + 3, false), rope(k0, pos, false));
            const double s1 = dot(rope(q1, pos + 3, true), rope(k1, pos, true));
            CHECK(s1 == Approx(s0).epsilon(1e-9).margin(1e-9));
        }
    }

    // Re-exporting the NeoX model writes identical safetensors (no second permutation).
    writeHfDirectory(*back, tmp / "hf2");
    CHECK(fileBytes(tmp / "hf" / "model.safetensors") == fileBytes(tmp / "hf2" / "model.safetensors"));
    CHECK(fileBytes(tmp / "hf" / "config.json") == fileBytes(tmp / "hf2" / "config.json"));
    // Writing over an existing directory replaces it and leaves no temporary directories behind.
    writeHfDirectory(*back, tmp / "hf2");
    int entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path()))
        ++entries;
    CHECK(entries == 2);
}

TEST_CASE("HF export as F16 and BF16 rounds to nearest even", "[hf]")
{
    bqtest::TempDir tmp;
    auto m = randomModel(smallConfig("llama", RopeStyle::NeoX));
    writeHfDirectory(*m, tmp / "f16", DType::F16);
    writeHfDirectory(*m, tmp / "bf16", DType::BF16);
    auto f16 = loadHfDirectory(tmp / "f16");
    auto bf16 = loadHfDirectory(tmp / "bf16");
    CHECK(bqtest::readFile(tmp / "f16" / "config.json").find("\"torch_dtype\": \"float16\"") != std::string::npos);
    for (const auto& [name, t] : m->tensors) {
        INFO(name);
        REQUIRE(f16->tensor(name).dtype == DType::F16);
        REQUIRE(bf16->tensor(name).dtype == DType::BF16);
        const auto src = t.toFloat();
        const auto a = f16->tensor(name).toFloat();
        const auto b = bf16->tensor(name).toFloat();
        for (std::size_t i = 0; i < src.size(); ++i) {
            REQUIRE(a[i] == static_cast<float>(static_cast<_Float16>(src[i])));
            REQUIRE(b[i] == bf16Ref(src[i]));
        }
    }
}

TEST_CASE("safetensors reader: header, views, unsupported dtypes and sharded checkpoints", "[hf][safetensors]")
{
    bqtest::TempDir tmp;
    auto m = randomModel(smallConfig("mistral", RopeStyle::NeoX));
    m->config.slidingWindow = 4096;
    // Shard the HF-named tensors over two files by hand, plus an index.
    std::vector<Tensor> shard1, shard2;
    std::string weightMap;
    int i = 0;
    for (const auto& [name, t] : m->tensors) {
        Tensor x = t;
        x.name = *hfFromCanonical(name);
        const bool first = (i++ % 2) == 0;
        (first ? shard1 : shard2).push_back(x);
        weightMap += std::string(weightMap.empty() ? "" : ",") + "\"" + x.name + "\": \"" +
                     (first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors") + "\"";
    }
    // An unmapped buffer (rotary inv_freq) and an I64 tensor the loader must skip.
    std::vector<std::byte> inv(8 * 4), ids(3 * 8);
    shard2.push_back(makeOwnedTensor("model.layers.0.self_attn.rotary_emb.inv_freq", DType::F32, {8}, inv));
    writeSafetensorsFile(tmp / "model-00001-of-00002.safetensors", shard1, {{"format", "pt"}});
    writeSafetensorsFile(tmp / "model-00002-of-00002.safetensors", shard2);
    weightMap += ",\"model.layers.0.self_attn.rotary_emb.inv_freq\": \"model-00002-of-00002.safetensors\"";
    {
        std::ofstream(tmp / "model.safetensors.index.json")
            << "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {" << weightMap << "}}";
        std::ofstream(tmp / "config.json") << hfConfigJson(m->config, "float32", 1, 2);
    }
    auto st = SafetensorsFile::open(tmp / "model-00001-of-00002.safetensors");
    CHECK(st->metadata().at("format") == "pt");
    CHECK(st->dataStart() % 8 == 0);
    const auto* e = st->find("model.embed_tokens.weight");
    REQUIRE(e);
    CHECK(e->dtype == "F32");
    CHECK(e->shape == std::vector<std::int64_t>{40, 64});
    CHECK(e->end - e->begin == 40 * 64 * 4);

    auto back = loadHfDirectory(tmp.path());
    CHECK(back->config.arch == "mistral");
    CHECK(back->config.slidingWindow == 4096);
    CHECK(back->metadata.end() != std::find_if(back->metadata.begin(), back->metadata.end(), [](const auto& kv) {
              return kv.first == "ignored tensors" && kv.second.find("inv_freq") != std::string::npos;
          }));
    requireSameTensors(*m, *back);
    // Views point into the mapped file: no copy.
    const Tensor& emb = back->tensor("token_embd.weight");
    CHECK(emb.keepAlive != nullptr);
    CHECK(emb.nbytes == 40 * 64 * 4);

    // Dtypes other than F32/F16/BF16 are listed but refused when asked for, naming tensor and dtype.
    {
        const std::string header = R"({"position_ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})";
        std::ofstream f(tmp / "i64.safetensors", std::ios::binary);
        const std::uint64_t n = header.size();
        f.write(reinterpret_cast<const char*>(&n), 8);
        f << header << std::string(24, '\0');
    }
    auto i64 = SafetensorsFile::open(tmp / "i64.safetensors");
    REQUIRE(i64->find("position_ids"));
    try {
        (void)i64->tensor("position_ids");
        FAIL("expected UnsupportedModel");
    } catch (const UnsupportedModel& ex) {
        const std::string what = ex.what();
        CHECK(what.find("position_ids") != std::string::npos);
        CHECK(what.find("I64") != std::string::npos);
    }
}

TEST_CASE("config.json parsing: defaults, Qwen2/Qwen3 and llama3 rope scaling", "[hf][config]")
{
    const std::string base = R"("hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
        "num_attention_heads": 32, "vocab_size": 128256)";
    SECTION("llama defaults")
    {
        auto c = parseHfConfig("{\"architectures\": [\"LlamaForCausalLM\"], " + base + "}", "cfg.json").config;
        CHECK(c.arch == "llama");
        CHECK(c.nKvHeads == 32);
        CHECK(c.headDim == 64);
        CHECK(c.ropeTheta == 10000.0f);
        CHECK(c.ropeStyle == RopeStyle::NeoX);
        CHECK_FALSE(c.ropeScaling);
        CHECK_FALSE(c.tiedEmbeddings);
    }
    SECTION("llama 3.2 with llama3 rope scaling")
    {
        auto h = parseHfConfig(R"({"architectures": ["LlamaForCausalLM"], )" + base + R"(,
            "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
            "max_position_embeddings": 131072, "tie_word_embeddings": true, "bos_token_id": 128000,
            "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16",
            "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"}})",
                               "llama32/config.json");
        const auto& c = h.config;
        CHECK(c.nKvHeads == 8);
        CHECK(c.ropeTheta == 500000.0f);
        CHECK(c.normEps == 1e-5f);
        CHECK(c.maxSeqLen == 131072);
        CHECK(c.tiedEmbeddings);
        REQUIRE(c.ropeScaling);
        CHECK(c.ropeScaling->factor == 32.0f);
        CHECK(c.ropeScaling->lowFreqFactor == 1.0f);
        CHECK(c.ropeScaling->highFreqFactor == 4.0f);
        CHECK(c.ropeScaling->originalMaxPositions == 8192);
        CHECK(h.bosId == 128000);
        CHECK(h.eosIds == std::vector<std::int32_t>{128001, 128008, 128009});
        CHECK(h.torchDtype == "bfloat16");
        // The written form parses back to the same config.
        const auto again = parseHfConfig(hfConfigJson(c, "float32", 1, 2), "again");
        requireSameConfig(c, again.config);
        CHECK(again.config.ropeScaling->factor == 32.0f);
    }
    SECTION("qwen2 and qwen3")
    {
        auto q2 = parseHfConfig(R"({"architectures": ["Qwen2ForCausalLM"], )" + base +
                                    R"(, "num_key_value_heads": 4, "sliding_window": 4096, "use_sliding_window": false})",
                                "q2")
                      .config;
        CHECK(q2.arch == "qwen2");
        CHECK(q2.qkvBias);
        CHECK_FALSE(q2.qkNorm);
        CHECK(q2.slidingWindow == 0);
        auto q3 = parseHfConfig(R"({"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072,
            "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
            "vocab_size": 151936, "rope_theta": 1000000, "rope_scaling": null, "tie_word_embeddings": true})",
                                "q3")
                      .config;
        CHECK(q3.arch == "qwen3");
        CHECK(q3.qkNorm);
        CHECK_FALSE(q3.qkvBias);
        CHECK(q3.headDim == 128);
        CHECK(q3.qDim() == 2048);
        CHECK(q3.ropeTheta == 1000000.0f);
    }
    SECTION("refusals name the field")
    {
        for (const char* type : {"linear", "dynamic", "yarn"}) {
            try {
                parseHfConfig(R"({"architectures": ["LlamaForCausalLM"], )" + base +
                                  R"(, "rope_scaling": {"type": ")" + type + R"(", "factor": 2.0}})",
                              "cfg.json");
                FAIL("expected UnsupportedModel");
            } catch (const UnsupportedModel& e) {
                const std::string w = e.what();
                CHECK(w.find("rope_scaling") != std::string::npos);
                CHECK(w.find(type) != std::string::npos);
            }
        }
        CHECK_THROWS_AS(parseHfConfig(R"({"architectures": ["GPT2LMHeadModel"], )" + base + "}", "c"),
                        UnsupportedModel);
        try {
            parseHfConfig(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "big", "intermediate_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 1, "vocab_size": 4})",
                          "dir/config.json");
            FAIL("expected FormatError");
        } catch (const FormatError& e) {
            CHECK(e.field() == "hidden_size");
            CHECK(e.expected() == "an integer");
            CHECK(e.path() == "dir/config.json");
        }
    }
}

TEST_CASE("Qwen2 biases and Qwen3 q/k norms survive HF and GGUF round trips", "[hf][gguf]")
{
    bqtest::TempDir tmp;
    auto q2 = randomModel(smallConfig("qwen2", RopeStyle::NeoX), 11);
    writeHfDirectory(*q2, tmp / "q2");
    auto q2hf = loadHfDirectory(tmp / "q2");
    CHECK(q2hf->config.qkvBias);
    requireSameTensors(*q2, *q2hf);
    writeGguf(*q2hf, tmp / "q2.gguf", DType::F32);
    auto q2g = loadGgufModel(tmp / "q2.gguf");
    CHECK(q2g->config.arch == "qwen2");
    CHECK(q2g->config.ropeStyle == RopeStyle::NeoX); // qwen2 keeps rotate-half rows: no permutation
    CHECK(q2g->config.qkvBias);
    requireSameTensors(*q2, *q2g);

    // Qwen3 with a head size that is not dim / heads (Qwen3-0.6B style).
    ModelConfig c3 = smallConfig("qwen3", RopeStyle::NeoX);
    c3.headDim = 32;
    c3.tiedEmbeddings = true;
    auto q3 = randomModel(c3, 12);
    writeHfDirectory(*q3, tmp / "q3");
    auto q3hf = loadHfDirectory(tmp / "q3");
    requireSameConfig(q3->config, q3hf->config);
    requireSameTensors(*q3, *q3hf);
    writeGguf(*q3, tmp / "q3.gguf", DType::F32);
    auto f = GgufFile::open(tmp / "q3.gguf");
    CHECK(f->getInt("qwen3.attention.key_length") == 32);
    CHECK(f->getInt("qwen3.attention.value_length") == 32);
    CHECK(f->findTensor("output.weight") == nullptr);
    auto q3g = loadGgufModel(tmp / "q3.gguf");
    requireSameConfig(q3->config, q3g->config);
    requireSameTensors(*q3, *q3g);

    // An interleaved qwen3 model (unusual, but any model can be exported) gets its norms permuted too.
    ModelConfig ci = c3;
    ci.ropeStyle = RopeStyle::Interleaved;
    auto q3i = randomModel(ci, 13);
    writeHfDirectory(*q3i, tmp / "q3i");
    requireSameTensors(*q3i, *loadHfDirectory(tmp / "q3i"));
}

TEST_CASE("GGUF export: llama q/k rows interleaved, byte-identical re-writes, F16 and Q8_0 rounding", "[gguf]")
{
    bqtest::TempDir tmp;
    ModelConfig c = smallConfig("llama", RopeStyle::NeoX);
    c.hiddenDim = 80; // ffn_down rows of 80 cannot be Q8_0: they fall back to F16
    auto m = randomModel(c, 21);

    writeGguf(*m, tmp / "f32.gguf", DType::F32);
    auto g = loadGgufModel(tmp / "f32.gguf");
    CHECK(g->sourceFormat == "gguf");
    CHECK(g->config.arch == "llama");
    CHECK(g->config.ropeStyle == RopeStyle::Interleaved);
    requireSameConfig(m->config, g->config);
    requireSameTensors(*m, *g);
    {
        auto f = GgufFile::open(tmp / "f32.gguf");
        CHECK(f->version() == 3);
        CHECK(f->alignment() == 64);
        CHECK(f->getInt("general.alignment") == 64);
        CHECK(f->getString("general.architecture") == "llama");
        CHECK(f->getInt("llama.embedding_length") == 64);
        CHECK(f->getInt("llama.rope.dimension_count") == 16);
        CHECK(f->find("llama.attention.key_length") == nullptr);
        for (const auto& info : f->tensorInfos()) {
            CHECK(info.offset % 64 == 0);
            CHECK((f->dataStart() + info.offset) % 64 == 0);
        }
        // GGUF lists dims innermost first: ne = [K, N].
        const auto* q = f->findTensor("blk.0.attn_q.weight");
        REQUIRE(q);
        CHECK(q->ne == std::vector<std::uint64_t>{64, 64});
        const auto* fd = f->findTensor("blk.0.ffn_down.weight");
        CHECK(fd->ne == std::vector<std::uint64_t>{80, 64});
    }

    for (DType type : {DType::F32, DType::F16, DType::Q8_0}) {
        INFO(dtypeName(type));
        const fs::path a = tmp / (std::string("a_") + dtypeName(type) + ".gguf");
        const fs::path b = tmp / (std::string("b_") + dtypeName(type) + ".gguf");
        writeGguf(*m, a, type);
        auto ga = loadGgufModel(a);
        writeGguf(*ga, b, type);
        CHECK(fileBytes(a) == fileBytes(b));
        // Writing twice from the same model is deterministic as well.
        writeGguf(*m, b, type);
        CHECK(fileBytes(a) == fileBytes(b));

        for (const auto& [name, t] : m->tensors) {
            INFO(name);
            const Tensor& gt = ga->tensor(name);
            std::vector<float> src = t.toFloat();
            if (int heads = ropeHeadsOf(name, c))
                src = permuteRowsRef(src, t.shape[0], heads, false);
            const auto got = gt.toFloat();
            if (t.shape.size() == 1) {
                CHECK(gt.dtype == DType::F32);
                CHECK(got == src);
                continue;
            }
            const bool q8 = type == DType::Q8_0 && t.cols() % 32 == 0;
            const DType expectType = type == DType::Q8_0 && !q8 ? DType::F16 : type;
            CHECK(gt.dtype == expectType);
            for (std::size_t i = 0; i < src.size(); ++i) {
                float expect = src[i];
                if (expectType == DType::F16)
                    expect = static_cast<float>(static_cast<_Float16>(src[i]));
                if (q8) {
                    // Q8_0 by hand: per 32 values d = max|x| / 127, q = round(x / d), d kept as fp16.
                    const std::size_t b0 = i / 32 * 32;
                    float amax = 0;
                    for (std::size_t j = b0; j < b0 + 32; ++j)
                        amax = std::max(amax, std::fabs(src[j]));
                    const float d = amax / 127.0f;
                    const float q = std::nearbyint(src[i] / d);
                    expect = static_cast<float>(static_cast<_Float16>(d)) * q;
                    REQUIRE(std::fabs(got[i] - src[i]) <= 0.5f * d + std::fabs(src[i]) * 1e-3f);
                }
                REQUIRE(got[i] == expect);
            }
        }
    }
    auto fq = GgufFile::open(tmp / "a_Q8_0.gguf");
    CHECK(fq->getInt("general.quantization_version") == 2);
    CHECK(fq->getInt("general.file_type") == 7);
}

TEST_CASE("llama3 rope scaling: GGUF keys, rope_freqs tensor and llama.cpp-style files", "[gguf][rope]")
{
    bqtest::TempDir tmp;
    ModelConfig c = smallConfig("llama", RopeStyle::NeoX);
    c.ropeTheta = 500000.0f;
    c.ropeScaling = RopeScaling{32.0f, 1.0f, 4.0f, 8192};
    c.headDim = 64; // long enough to reach every branch of the formula
    c.nHeads = 1;
    c.nKvHeads = 1;
    auto m = randomModel(c, 31);
    writeGguf(*m, tmp / "l3.gguf", DType::F32);
    auto f = GgufFile::open(tmp / "l3.gguf");
    const auto* rf = f->findTensor("rope_freqs.weight");
    REQUIRE(rf);
    const auto freqs = f->tensor(*rf).toFloat();
    REQUIRE(freqs.size() == 32);
    // convert_hf_to_gguf.py's factors, recomputed here.
    bool sawSmooth = false;
    for (int i = 0; i < 32; ++i) {
        const double freq = 1.0 / std::pow(500000.0, 2.0 * i / 64);
        const double wavelen = 2 * M_PI / freq;
        double expect;
        if (wavelen < 8192.0 / 4)
            expect = 1;
        else if (wavelen > 8192.0 / 1)
            expect = 32;
        else {
            const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
            expect = 1 / ((1 - smooth) / 32 + smooth);
            sawSmooth = true;
        }
        CHECK(freqs[static_cast<std::size_t>(i)] == Approx(expect).epsilon(1e-6));
    }
    CHECK(sawSmooth);
    auto g = loadGgufModel(tmp / "l3.gguf");
    REQUIRE(g->config.ropeScaling);
    CHECK(g->config.ropeScaling->factor == 32.0f);
    CHECK(g->config.ropeScaling->originalMaxPositions == 8192);
    CHECK(g->find("rope_freqs.weight") == nullptr);

    // A llama.cpp file has only the tensor: rebuild one without our private keys.
    GgufWriter w(32);
    for (const auto& [k, v] : f->metadata())
        if (k.rfind("bitstudio.", 0) != 0)
            w.set(k, v);
    for (const auto& info : f->tensorInfos())
        w.addTensor(f->tensor(info));
    w.write(tmp / "llamacpp.gguf");
    auto h = loadGgufModel(tmp / "llamacpp.gguf");
    REQUIRE(h->config.ropeScaling);
    CHECK(h->config.ropeScaling->factor == 32.0f);
    CHECK(h->config.ropeScaling->lowFreqFactor == 1.0f);
    CHECK(h->config.ropeScaling->highFreqFactor == 4.0f);

    // And HF: rope_scaling in config.json.
    writeHfDirectory(*m, tmp / "hf");
    auto hf = loadHfDirectory(tmp / "hf");
    REQUIRE(hf->config.ropeScaling);
    CHECK(hf->config.ropeScaling->factor == 32.0f);
}

TEST_CASE("GgufWriter and GgufFile: every value type, arrays and display", "[gguf]")
{
    bqtest::TempDir tmp;
    GgufWriter w; // default alignment 32: no general.alignment key
    w.set("general.architecture", GgufValue::str("llama"));
    GgufValue u8;
    u8.type = GgufType::UInt8;
    u8.u = 200;
    w.set("t.u8", u8);
    GgufValue i16;
    i16.type = GgufType::Int16;
    i16.i = -1234;
    w.set("t.i16", i16);
    w.set("t.u32", GgufValue::u32(4000000000u));
    w.set("t.i32", GgufValue::i32(-7));
    w.set("t.u64", GgufValue::u64(1ull << 40));
    w.set("t.f32", GgufValue::f32(0.1f));
    GgufValue f64;
    f64.type = GgufType::Float64;
    f64.f = 1.0 / 3.0;
    w.set("t.f64", f64);
    w.set("t.bool", GgufValue::boolean(true));
    w.set("t.str", GgufValue::str("h\xC3\xA9llo"));
    w.set("t.strs", GgufValue::stringArray({"a", "", "\xE2\x96\x81" "b"}));
    w.set("t.f32s", GgufValue::f32Array({1.5f, -2.0f}));
    w.set("t.i32s", GgufValue::i32Array({3, -4, 5}));
    GgufValue nested;
    nested.type = GgufType::Array;
    nested.elemType = GgufType::Array;
    nested.arrays = {GgufValue::i32Array({1}), GgufValue::i32Array({2, 3})};
    w.set("t.nested", nested);
    w.set("t.u32", GgufValue::u32(5)); // replaces in place
    w.addTensor("a", DType::I8, {3}, {std::byte{1}, std::byte{2}, std::byte{0xff}});
    std::vector<std::byte> q4(2 * 18, std::byte{0x11});
    w.addTensor("b", DType::Q4_0, {2, 32}, q4);
    std::vector<std::byte> q1(18, std::byte{0xAA});
    w.addTensor("c", DType::Q1_0, {1, 128}, q1);
    CHECK_THROWS_AS(w.addTensor("a", DType::I8, {1}, {std::byte{0}}), std::invalid_argument);
    CHECK_THROWS_AS(w.addTensor("d", DType::Q8_0, {1, 16}, std::vector<std::byte>(17)), std::invalid_argument);
    w.write(tmp / "t.gguf");

    auto f = GgufFile::open(tmp / "t.gguf");
    CHECK(f->alignment() == 32);
    CHECK(f->find("general.alignment") == nullptr);
    REQUIRE(f->metadata().size() == 14);
    CHECK(f->metadata()[3].first == "t.u32");
    CHECK(f->getInt("t.u8") == 200);
    CHECK(f->getInt("t.i16") == -1234);
    CHECK(f->getInt("t.u32") == 5);
    CHECK(f->getInt("t.i32") == -7);
    CHECK(f->getInt("t.u64") == (1ll << 40));
    CHECK(f->getFloat("t.f32") == double(0.1f));
    CHECK(f->getFloat("t.f64") == 1.0 / 3.0);
    CHECK(f->getBool("t.bool") == true);
    CHECK(f->getString("t.str") == "h\xC3\xA9llo");
    CHECK(f->getStringArray("t.strs") == std::vector<std::string>{"a", "", "\xE2\x96\x81" "b"});
    CHECK(f->getFloatArray("t.f32s") == std::vector<float>{1.5f, -2.0f});
    CHECK(f->getIntArray("t.i32s") == std::vector<std::int64_t>{3, -4, 5});
    REQUIRE(f->find("t.nested")->arrays.size() == 2);
    CHECK(f->find("t.nested")->arrays[1].ints == std::vector<std::int64_t>{2, 3});
    CHECK_THROWS_AS(f->getString("t.u32"), FormatError);
    CHECK_THROWS_AS(f->getInt("t.str"), FormatError);
    CHECK(f->find("t.strs")->toDisplay() == "[3 strings]");
    CHECK(f->find("t.f32s")->toDisplay() == "[2 float32 values]");

    REQUIRE(f->tensorInfos().size() == 3);
    const auto a = f->tensor(f->tensorInfos()[0]).toFloat();
    CHECK(a == std::vector<float>{1, 2, -1});
    const auto& bi = f->tensorInfos()[1];
    CHECK(bi.ggmlType == 2);
    CHECK(bi.offset == 32);
    CHECK(f->tensor(bi).shape == std::vector<std::int64_t>{2, 32});
    const auto& ci = f->tensorInfos()[2];
    CHECK(ci.ggmlType == 41);
    CHECK(ci.offset == 96); // "b": 36 bytes of Q4_0 at 32, padded to 96
    // Re-writing every key and tensor reproduces the file byte for byte.
    GgufWriter w2;
    for (const auto& [k, v] : f->metadata())
        w2.set(k, v);
    for (const auto& info : f->tensorInfos())
        w2.addTensor(f->tensor(info));
    w2.write(tmp / "t2.gguf");
    CHECK(fileBytes(tmp / "t.gguf") == fileBytes(tmp / "t2.gguf"));
}

// ---- with the shared stories260K model and the tokenizers (other modules) ----

TEST_CASE("stories260K: llama2.c -> HF -> GGUF keep the weights, the logits and the tokenizer", "[hf][gguf][shared]")
{
    if (!bqtest::haveShared("models/stories260K"))
        return;
    bqtest::TempDir tmp;
    auto src = loadLlama2cModel(bqtest::sharedPath("models/stories260K/stories260K.bin"),
                                bqtest::sharedPath("models/stories260K/tok512.bin"));
    REQUIRE(src->tokenizer);
    writeHfDirectory(*src, tmp / "hf");
    auto hf = loadHfDirectory(tmp / "hf");
    requireSameConfig(src->config, hf->config);
    requireSameTensors(*src, *hf);
    writeGguf(*hf, tmp / "s.gguf", DType::F32);
    auto gg = loadGgufModel(tmp / "s.gguf");
    requireSameTensors(*src, *gg);
    writeGguf(*gg, tmp / "s2.gguf", DType::F32);
    CHECK(fileBytes(tmp / "s.gguf") == fileBytes(tmp / "s2.gguf"));

    // The same function: logits of all three agree.
    const std::vector<std::int32_t> ids{1, 403, 407, 261, 378, 430, 9, 365, 285};
    std::vector<std::vector<float>> logits;
    for (const auto& m : {std::shared_ptr<const Model>(src), std::shared_ptr<const Model>(hf),
                          std::shared_ptr<const Model>(gg)}) {
        auto im = makeFp32Model(m, 1);
        auto ctx = im->newContext(32);
        std::vector<float> l;
        ctx->forward(ids, true, l);
        logits.push_back(l);
    }
    REQUIRE(logits[0].size() == ids.size() * 512);
    float maxDiffHf = 0, maxDiffGg = 0;
    for (std::size_t i = 0; i < logits[0].size(); ++i) {
        maxDiffHf = std::max(maxDiffHf, std::fabs(logits[0][i] - logits[1][i]));
        maxDiffGg = std::max(maxDiffGg, std::fabs(logits[0][i] - logits[2][i]));
    }
    INFO("max |logit diff| HF " << maxDiffHf << ", GGUF " << maxDiffGg);
    CHECK(maxDiffHf < 1e-4f);
    CHECK(maxDiffGg < 1e-4f);

    // Tokenizers: HF tokenizer.json (merges derived from the scores) and the GGUF vocabulary encode the
    // TinyStories text exactly like llama2.c's score merging.
    REQUIRE(hf->tokenizer);
    REQUIRE(gg->tokenizer);
    CHECK(hf->tokenizer->bosId() == 1);
    CHECK(hf->tokenizer->eosId() == 2);
    CHECK(hf->tokenizer->addsBosByDefault() == src->tokenizer->addsBosByDefault());
    CHECK(gg->tokenizer->addsBosByDefault() == src->tokenizer->addsBosByDefault());
    std::string text = bqtest::readFile(bqtest::sharedPath("data/tinystories/tinystories_val.txt"));
    text.resize(60000);
    std::size_t pos = 0, chunks = 0, tokens = 0;
    while (pos < text.size()) {
        std::size_t end = text.find("\n\n", pos);
        if (end == std::string::npos)
            end = text.size();
        const std::string chunk = text.substr(pos, end - pos);
        pos = end + 2;
        if (chunk.empty())
            continue;
        const auto want = src->tokenizer->encode(chunk, {.addBos = true});
        REQUIRE(hf->tokenizer->encode(chunk, {.addBos = true}) == want);
        REQUIRE(gg->tokenizer->encode(chunk, {.addBos = true}) == want);
        REQUIRE(hf->tokenizer->decode(want) == src->tokenizer->decode(want));
        ++chunks;
        tokens += want.size();
    }
    INFO(chunks << " stories, " << tokens << " tokens");
    CHECK(chunks > 50);
}

TEST_CASE("tokenizer.json vocabularies round-trip through GGUF", "[gguf][shared]")
{
    if (!bqtest::haveShared("tokenizers"))
        return;
    bqtest::TempDir tmp;
    // A byte-level BPE (Qwen3) attached to a small random qwen3 model with its vocabulary size.
    auto tok = HfBpeTokenizer::fromJsonFile(bqtest::sharedPath("tokenizers/qwen3/tokenizer.json"));
    ModelConfig c = smallConfig("qwen3", RopeStyle::NeoX);
    c.vocabSize = tok->vocabSize();
    c.dim = 32;
    c.nHeads = 2;
    c.nKvHeads = 1;
    c.hiddenDim = 32;
    c.nLayers = 1;
    c.tiedEmbeddings = true;
    auto m = randomModel(c, 41);
    m->tokenizer = tok;
    writeGguf(*m, tmp / "q3.gguf", DType::F16);
    auto g = loadGgufModel(tmp / "q3.gguf");
    REQUIRE(g->tokenizer);
    CHECK(g->tokenizer->family() == "bpe-byte-level");
    const std::string text = bqtest::readFile(bqtest::sharedPath("data/tinystories/tinystories_val.txt")).substr(0, 20000) +
                             " caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD 12345";
    CHECK(g->tokenizer->encode(text) == tok->encode(text));
    // Re-writing is byte-identical.
    writeGguf(*g, tmp / "q3b.gguf", DType::F16);
    CHECK(fileBytes(tmp / "q3.gguf") == fileBytes(tmp / "q3b.gguf"));
    // And HF: the reconstructed tokenizer.json encodes the same.
    writeHfDirectory(*g, tmp / "hf");
    auto hf = loadHfDirectory(tmp / "hf");
    CHECK(hf->tokenizer->encode(text) == tok->encode(text));
    // The chat template travels tokenizer_config.json -> GGUF -> tokenizer_config.json.
    CHECK_FALSE(tok->chatTemplate().empty());
    CHECK(g->chatTemplate == tok->chatTemplate());
    CHECK(hf->chatTemplate == tok->chatTemplate());
}

TEST_CASE("SentencePiece-style tokenizer.json becomes a scored GGUF llama vocabulary", "[gguf][shared]")
{
    if (!bqtest::haveShared("tokenizers/sp32k"))
        return;
    bqtest::TempDir tmp;
    auto tok = HfBpeTokenizer::fromJsonFile(bqtest::sharedPath("tokenizers/sp32k/tokenizer.json"));
    REQUIRE(tok->family() == "bpe-sentencepiece");
    ModelConfig c = smallConfig("llama", RopeStyle::NeoX);
    c.vocabSize = tok->vocabSize();
    c.dim = 32;
    c.nHeads = 2;
    c.nKvHeads = 2;
    c.hiddenDim = 32;
    c.nLayers = 1;
    c.tiedEmbeddings = true;
    auto m = randomModel(c, 51);
    m->tokenizer = tok;
    writeGguf(*m, tmp / "sp.gguf", DType::F32);
    auto f = GgufFile::open(tmp / "sp.gguf");
    CHECK(f->getString("tokenizer.ggml.model") == "llama");
    CHECK(f->find("tokenizer.ggml.tokens")->toDisplay() == "[32000 strings]");
    auto g = loadGgufModel(tmp / "sp.gguf");
    REQUIRE(g->tokenizer);
    // Scores derived from the merge ranks make score-merging reproduce the BPE merges.
    for (const char* file : {"data/tinystories/tinystories_val.txt", "data/wikitext-2/wikitext-2-raw-v1.test.txt"}) {
        const std::string text = bqtest::readFile(bqtest::sharedPath(file)).substr(0, 30000);
        INFO(file);
        CHECK(g->tokenizer->encode(text) == tok->encode(text));
    }
}

TEST_CASE("HF directories fall back to tokenizer.model", "[hf][shared]")
{
    if (!bqtest::haveShared("tokenizers/llama2"))
        return;
    bqtest::TempDir tmp;
    ModelConfig c = smallConfig("llama", RopeStyle::NeoX);
    c.vocabSize = 32000;
    c.dim = 16;
    c.nHeads = 1;
    c.nKvHeads = 1;
    c.hiddenDim = 16;
    c.nLayers = 1;
    c.tiedEmbeddings = true;
    auto m = randomModel(c, 61);
    writeHfDirectory(*m, tmp / "hf");
    CHECK_FALSE(fs::exists(tmp / "hf" / "tokenizer.json"));
    fs::copy_file(bqtest::sharedPath("tokenizers/llama2/tokenizer.model"), tmp / "hf" / "tokenizer.model");
    auto back = loadHfDirectory(tmp / "hf");
    REQUIRE(back->tokenizer);
    CHECK(back->tokenizer->vocabSize() == 32000);
    // Debian's sentencepiece library is the reference.
    sentencepiece::SentencePieceProcessor sp;
    REQUIRE(sp.Load(bqtest::sharedPath("tokenizers/llama2/tokenizer.model").string()).ok());
    for (const std::string text : {"Hello world", "Once upon a time, there was a caf\xC3\xA9.\n  Two  spaces"}) {
        std::vector<int> want;
        REQUIRE(sp.Encode(text, &want).ok());
        CHECK(back->tokenizer->encode(text) == std::vector<std::int32_t>(want.begin(), want.end()));
    }
}
