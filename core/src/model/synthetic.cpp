// Synthetic models: real architectures' shapes with deterministic weights. Each element is a counter-based
// hash (splitmix64 of tensor seed + index), so filling 1.2 B floats is embarrassingly parallel and the same
// seed gives the same model on every machine and thread count.
#include "bq/model/synthetic.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/thread_pool.h"
#include <cstdio>
#include <cstdlib>
#include <new>
#include <sys/mman.h>
#include <stdexcept>

namespace bq {

namespace {

ModelConfig llamaShape(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int ctx)
{
    ModelConfig c;
    c.arch = "llama";
    c.dim = dim;
    c.hiddenDim = hidden;
    c.nLayers = layers;
    c.nHeads = heads;
    c.nKvHeads = kvHeads;
    c.headDim = dim / heads;
    c.vocabSize = vocab;
    c.maxSeqLen = ctx;
    c.normEps = 1e-5f;
    c.ropeTheta = 10000.0f;
    c.ropeStyle = RopeStyle::Interleaved;
    c.tiedEmbeddings = true;
    return c;
}

std::vector<SyntheticShape> buildShapes()
{
    std::vector<SyntheticShape> shapes;
    shapes.push_back({"stories260k", llamaShape(64, 172, 5, 8, 4, 512, 512)});
    shapes.push_back({"ts5m", llamaShape(256, 768, 6, 8, 4, 512, 256)});
    shapes.push_back({"opt125m", llamaShape(768, 3072, 12, 12, 12, 50272, 2048)});
    {
        // SmolLM2-135M: dims of 576 are not multiples of 128 (what q1_0 and Q1_0 need).
        ModelConfig c = llamaShape(576, 1536, 30, 9, 3, 49152, 8192);
        c.ropeTheta = 100000.0f;
        shapes.push_back({"smollm2-135m", c});
    }
    {
        ModelConfig c = llamaShape(2048, 8192, 16, 32, 8, 128256, 131072);
        c.headDim = 64;
        c.ropeTheta = 500000.0f;
        c.ropeScaling = RopeScaling{32.0f, 1.0f, 4.0f, 8192};
        shapes.push_back({"llama3.2-1b", c});
    }
    {
        ModelConfig c = llamaShape(1024, 3072, 28, 16, 8, 151936, 40960);
        c.arch = "qwen3";
        c.headDim = 128;
        c.qkNorm = true;
        c.normEps = 1e-6f;
        c.ropeTheta = 1000000.0f;
        c.ropeStyle = RopeStyle::NeoX;
        shapes.push_back({"qwen3-0.6b", c});
    }
    return shapes;
}

std::uint64_t splitmix64(std::uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::uint64_t hashName(const std::string& s)
{
    std::uint64_t h = 1469598103934665603ull; // FNV-1a
    for (unsigned char ch : s)
        h = (h ^ ch) * 1099511628211ull;
    return h;
}

// Large buffers are 2 MiB aligned and marked for transparent huge pages: fewer page faults while filling
// and fewer TLB misses when decode streams the weights.
std::shared_ptr<float[]> allocFloats(std::size_t n)
{
    const std::size_t bytes = n * sizeof(float);
    constexpr std::size_t kHuge = std::size_t(1) << 21;
    if (bytes < 2 * kHuge)
        return std::shared_ptr<float[]>(std::make_unique_for_overwrite<float[]>(n));
    const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, rounded);
    if (!p)
        throw std::bad_alloc();
    madvise(p, rounded, MADV_HUGEPAGE); // advisory; ignore failure
    return std::shared_ptr<float[]>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

// Uniform on [−a, a] with a = 0.02·√3 (standard deviation 0.02), or all ones for norms.
Tensor makeTensor(const std::string& name, std::vector<std::int64_t> shape, std::uint64_t seed, bool ones,
                  ThreadPool& pool)
{
    Tensor t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    const auto n = static_cast<std::size_t>(t.numel());
    std::shared_ptr<float[]> buf = allocFloats(n);
    float* p = buf.get();
    const std::uint64_t key = splitmix64(seed ^ hashName(name));
    constexpr float kHalfWidth = 0.0346410162f;
    pool.parallelFor(
        n,
        [&](std::size_t b, std::size_t e, int) {
            if (ones) {
                for (std::size_t i = b; i < e; ++i)
                    p[i] = 1.0f;
                return;
            }
            for (std::size_t i = b; i < e; ++i) {
                const std::uint64_t r = splitmix64(key + i * 0xD1B54A32D192ED03ull);
                const float u = static_cast<float>(r >> 40) * (1.0f / 16777216.0f); // [0, 1)
                p[i] = (2.0f * u - 1.0f) * kHalfWidth;
            }
        },
        4096);
    t.data = reinterpret_cast<const std::byte*>(p);
    t.nbytes = n * sizeof(float);
    t.keepAlive = std::shared_ptr<const void>(buf, buf.get());
    return t;
}

// A byte-level placeholder vocabulary: <unk>, <s>, </s>, the 256 <0xHH> byte tokens, "▁", then "[id]"
// fillers up to the vocabulary size. Any text encodes (byte fallback) and decodes back exactly.
std::shared_ptr<const Tokenizer> placeholderTokenizer(int vocab)
{
    std::vector<SpVocabEntry> entries;
    entries.reserve(static_cast<std::size_t>(vocab));
    entries.push_back({"<unk>", 0.0f, TokenKind::Unknown});
    entries.push_back({"<s>", 0.0f, TokenKind::Control});
    entries.push_back({"</s>", 0.0f, TokenKind::Control});
    char buf[16];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        entries.push_back({buf, 0.0f, TokenKind::Byte});
    }
    entries.push_back({"\xe2\x96\x81", 0.0f, TokenKind::Normal});
    for (int id = static_cast<int>(entries.size()); id < vocab; ++id) {
        std::snprintf(buf, sizeof buf, "[%d]", id);
        entries.push_back({buf, 0.0f, TokenKind::Normal});
    }
    SpBpeOptions options;
    options.family = "sentencepiece";
    return std::make_shared<SpBpeTokenizer>(std::move(entries), options);
}

} // namespace

const std::vector<SyntheticShape>& syntheticShapes()
{
    static const std::vector<SyntheticShape> shapes = buildShapes();
    return shapes;
}

const SyntheticShape& syntheticShape(const std::string& name)
{
    std::string names;
    for (const auto& s : syntheticShapes()) {
        if (s.name == name)
            return s;
        names += (names.empty() ? "" : ", ") + s.name;
    }
    throw std::invalid_argument("unknown synthetic shape '" + name + "' (known: " + names + ")");
}

std::shared_ptr<const Model> makeSyntheticModel(const SyntheticShape& shape, std::uint64_t seed)
{
    const ModelConfig& c = shape.config;
    c.validate("synthetic:" + shape.name);
    if (c.vocabSize < 260)
        throw std::invalid_argument("synthetic model '" + shape.name + "': the placeholder tokenizer needs a vocabulary of at least 260");
    auto model = std::make_shared<Model>();
    model->config = c;
    model->sourcePath = "synthetic:" + shape.name;
    model->sourceFormat = "synthetic";
    ThreadPool pool(0);
    const std::int64_t d = c.dim, h = c.hiddenDim, q = c.qDim(), kv = c.kvDim(), v = c.vocabSize;
    auto add = [&](const std::string& name, std::vector<std::int64_t> dims, bool ones = false) {
        model->tensors.emplace(name, makeTensor(name, std::move(dims), seed, ones, pool));
    };
    add("token_embd.weight", {v, d});
    add("output_norm.weight", {d}, true);
    if (!c.tiedEmbeddings)
        add("output.weight", {v, d});
    for (int l = 0; l < c.nLayers; ++l) {
        add(blockTensorName(l, "attn_norm"), {d}, true);
        add(blockTensorName(l, "attn_q"), {q, d});
        add(blockTensorName(l, "attn_k"), {kv, d});
        add(blockTensorName(l, "attn_v"), {kv, d});
        add(blockTensorName(l, "attn_output"), {d, q});
        add(blockTensorName(l, "ffn_norm"), {d}, true);
        add(blockTensorName(l, "ffn_gate"), {h, d});
        add(blockTensorName(l, "ffn_up"), {h, d});
        add(blockTensorName(l, "ffn_down"), {d, h});
        if (c.qkNorm) {
            add(blockTensorName(l, "attn_q_norm"), {c.headDim}, true);
            add(blockTensorName(l, "attn_k_norm"), {c.headDim}, true);
        }
        if (c.qkvBias) {
            const std::string p = "blk." + std::to_string(l) + ".";
            add(p + "attn_q.bias", {q});
            add(p + "attn_k.bias", {kv});
            add(p + "attn_v.bias", {kv});
        }
    }
    model->tokenizer = placeholderTokenizer(c.vocabSize);
    model->metadata = {{"synthetic.shape", shape.name},
                       {"synthetic.seed", std::to_string(seed)},
                       {"general.architecture", c.arch},
                       {"weights", "uniform ±0.0346 (std 0.02), norms 1"}};
    model->validateTensors();
    return model;
}

} // namespace bq
