#include "bq/formats/llama2c_reader.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/sentencepiece_model.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/mapped_file.h"
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace bq {

namespace {

constexpr std::uint32_t kMagic = 0x616b3432; // "ak42"
constexpr std::size_t kHeaderV1 = 256;
constexpr std::size_t kConfigBytes = 28;

struct Header {
    int version = 0; // 0 legacy, 1, 2
    std::int32_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0, seqLen = 0;
    bool shared = true;
    std::int32_t groupSize = 0;
    std::size_t configOffset = 0; // where the 7 ints start
    std::size_t dataOffset = 0;
};

std::int32_t readI32(const std::byte* p)
{
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Checked 64-bit arithmetic: absurd headers must give an error, not a wrapped size.
struct SizeCalc {
    const std::string& path;
    std::uint64_t mul(std::uint64_t a, std::uint64_t b) const
    {
        std::uint64_t r;
        if (__builtin_mul_overflow(a, b, &r))
            overflow();
        return r;
    }
    std::uint64_t add(std::uint64_t a, std::uint64_t b) const
    {
        std::uint64_t r;
        if (__builtin_add_overflow(a, b, &r))
            overflow();
        return r;
    }
    [[noreturn]] void overflow() const
    {
        throw FormatError(path, "header (dim, hidden_dim, n_layers, vocab_size, seq_len)",
                          "dimensions whose weights fit in a 64-bit file size");
    }
};

Header readHeader(const MappedFile& file, const std::string& path)
{
    Header h;
    const std::byte* d = file.data();
    const std::size_t size = file.size();
    if (size < kConfigBytes)
        throw FormatError(path, "header", "at least 28 bytes (llama2.c config), file has " + std::to_string(size), 0);
    std::uint32_t magic;
    std::memcpy(&magic, d, 4);
    if (magic == kMagic) {
        if (size < kHeaderV1)
            throw FormatError(path, "header", "the 256-byte llama2.c v1/v2 header, file has " + std::to_string(size) +
                                                  " bytes", 0);
        const std::int32_t version = readI32(d + 4);
        if (version != 1 && version != 2)
            throw FormatError(path, "version", "1 or 2 after the \"ak42\" magic, found " + std::to_string(version), 4);
        h.version = version;
        h.configOffset = 8;
        h.dataOffset = kHeaderV1;
        const auto sharedByte = static_cast<std::uint8_t>(d[36]);
        if (sharedByte > 1)
            throw FormatError(path, "shared_classifier", "0 or 1, found " + std::to_string(sharedByte), 36);
        h.shared = sharedByte == 1;
        if (version == 2) {
            h.groupSize = readI32(d + 37);
            if (h.groupSize <= 0 || h.groupSize > (1 << 20))
                throw FormatError(path, "group_size", "a positive group size, found " + std::to_string(h.groupSize), 37);
        }
    } else {
        // Four printable characters are a damaged or foreign magic, not a legacy dim (it would exceed 5e8).
        bool printable = true;
        std::string shown;
        for (int i = 0; i < 4; ++i) {
            const auto ch = static_cast<unsigned char>(d[i]);
            printable = printable && ch >= 0x20 && ch < 0x7F;
            shown += static_cast<char>(ch);
        }
        if (printable)
            throw FormatError(path, "magic", "\"ak42\" (bytes 32 34 6b 61) for llama2.c v1/v2, or a legacy v0 header "
                                             "starting with dim; found \"" + shown + "\"", 0);
        h.version = 0;
        h.configOffset = 0;
        h.dataOffset = kConfigBytes;
    }
    const std::byte* c = d + h.configOffset;
    h.dim = readI32(c);
    h.hidden = readI32(c + 4);
    h.layers = readI32(c + 8);
    h.heads = readI32(c + 12);
    h.kvHeads = readI32(c + 16);
    h.vocab = readI32(c + 20);
    h.seqLen = readI32(c + 24);
    // A file without the magic is read as a legacy header: say so, a damaged magic lands here too.
    const std::string legacyNote =
        h.version == 0 ? " (no \"ak42\" magic at byte 0, so read as a legacy v0 header)" : "";
    const auto off = [&](int field) { return static_cast<std::int64_t>(h.configOffset) + 4 * field; };
    auto positive = [&](std::int32_t v, const char* name, int field) {
        if (v <= 0)
            throw FormatError(path, name, "a positive value, found " + std::to_string(v) +
                                              legacyNote,
                              off(field));
    };
    positive(h.dim, "dim", 0);
    positive(h.hidden, "hidden_dim", 1);
    positive(h.layers, "n_layers", 2);
    positive(h.heads, "n_heads", 3);
    positive(h.kvHeads, "n_kv_heads", 4);
    if (h.version == 0) {
        if (h.vocab == 0 || h.vocab == std::numeric_limits<std::int32_t>::min())
            throw FormatError(path, "vocab_size", "a non-zero value, found " + std::to_string(h.vocab) + legacyNote,
                              off(5));
        h.shared = h.vocab > 0;
        h.vocab = std::abs(h.vocab);
    } else {
        positive(h.vocab, "vocab_size", 5);
    }
    positive(h.seqLen, "seq_len", 6);
    if (h.dim % h.heads != 0)
        throw FormatError(path, "n_heads", "a divisor of dim " + std::to_string(h.dim) + ", found " +
                                               std::to_string(h.heads) + legacyNote, off(3));
    if (h.kvHeads > h.heads || h.heads % h.kvHeads != 0)
        throw FormatError(path, "n_kv_heads", "a divisor of n_heads " + std::to_string(h.heads) + ", found " +
                                                  std::to_string(h.kvHeads) + legacyNote, off(4));
    return h;
}

// One tensor of the file: where its bytes start and its canonical name and shape.
struct Span {
    std::string name;
    std::vector<std::int64_t> shape;
    std::size_t offset = 0;      // fp32 data (v0/v1, v2 norms) or int8 data (v2)
    std::size_t scaleOffset = 0; // v2 quantized tensors: fp32 scales
    bool quantized = false;
};

std::string fmtBytes(std::uint64_t n) { return std::to_string(n) + " bytes"; }

std::shared_ptr<Model> loadImpl(const std::filesystem::path& checkpoint, const std::filesystem::path& tokenizerPath,
                                bool requireTokenizer, bool attachTokenizer);

} // namespace

bool looksLikeLlama2c(const std::filesystem::path& path) noexcept
{
    try {
        const auto file = MappedFile::open(path);
        if (file->size() >= 4) {
            std::uint32_t magic;
            std::memcpy(&magic, file->data(), 4);
            if (magic == kMagic)
                return true;
        }
        // Legacy files have no magic: only a header whose implied size matches the file counts.
        loadImpl(path, {}, false, false);
        return true;
    } catch (...) {
        return false;
    }
}

std::filesystem::path findLlama2cTokenizer(const std::filesystem::path& checkpoint,
                                           const std::filesystem::path& tokenizerPath, int vocabSize)
{
    std::error_code ec;
    if (!tokenizerPath.empty()) {
        if (!std::filesystem::is_regular_file(tokenizerPath, ec))
            throw FormatError(tokenizerPath.string(), "tokenizer", "an existing tokenizer file");
        return tokenizerPath;
    }
    const auto dir = checkpoint.parent_path();
    for (const auto& name : {std::string("tokenizer.bin"), "tok" + std::to_string(vocabSize) + ".bin"}) {
        const auto candidate = dir / name;
        if (std::filesystem::is_regular_file(candidate, ec))
            return candidate;
    }
    return {};
}

namespace {

std::shared_ptr<Model> loadImpl(const std::filesystem::path& checkpoint, const std::filesystem::path& tokenizerPath,
                                bool requireTokenizer, bool attachTokenizer)
{
    const std::string path = checkpoint.string();
    const auto file = MappedFile::open(checkpoint);
    const Header h = readHeader(*file, path);
    const SizeCalc calc{path};

    const std::uint64_t dim = static_cast<std::uint64_t>(h.dim), hidden = static_cast<std::uint64_t>(h.hidden),
                        layers = static_cast<std::uint64_t>(h.layers), vocab = static_cast<std::uint64_t>(h.vocab);
    const std::uint64_t headSize = dim / static_cast<std::uint64_t>(h.heads);
    const std::uint64_t kvDim = headSize * static_cast<std::uint64_t>(h.kvHeads);
    const auto L = static_cast<int>(h.layers);

    // The layout as a list of tensors (per-layer tensors expand to L entries).
    struct Group {
        const char* part; // canonical block part, or a full name for global tensors
        bool perLayer;
        std::vector<std::int64_t> shape;
    };
    const auto d64 = static_cast<std::int64_t>(dim), h64 = static_cast<std::int64_t>(hidden),
               kv64 = static_cast<std::int64_t>(kvDim), v64 = static_cast<std::int64_t>(vocab);
    const Group tokEmb{"token_embd.weight", false, {v64, d64}};
    const Group rmsAtt{"attn_norm", true, {d64}}, rmsFfn{"ffn_norm", true, {d64}};
    const Group rmsFinal{"output_norm.weight", false, {d64}};
    const Group wq{"attn_q", true, {d64, d64}}, wk{"attn_k", true, {kv64, d64}}, wv{"attn_v", true, {kv64, d64}},
        wo{"attn_output", true, {d64, d64}};
    const Group w1{"ffn_gate", true, {h64, d64}}, w2{"ffn_down", true, {d64, h64}}, w3{"ffn_up", true, {h64, d64}};
    const Group wcls{"output.weight", false, {v64, d64}};

    // Element counts first, with overflow checks, before any tensor is created.
    auto groupElems = [&](const Group& g) {
        std::uint64_t n = 1;
        for (std::int64_t s : g.shape)
            n = calc.mul(n, static_cast<std::uint64_t>(s));
        return g.perLayer ? calc.mul(n, layers) : n;
    };
    // Overflow-check the largest products up front (the shape entries themselves fit in int32).
    (void)calc.mul(calc.mul(dim, dim), layers);
    (void)calc.mul(calc.mul(dim, hidden), layers);
    (void)calc.mul(dim, vocab);

    std::vector<const Group*> order;
    std::vector<const Group*> fp32Groups; // v2 only
    std::vector<const Group*> qGroups;    // v2 only
    std::uint64_t skipAfterFinal = 0;     // v0: freq_cis
    if (h.version == 0) {
        order = {&tokEmb, &rmsAtt, &wq, &wk, &wv, &wo, &rmsFfn, &w1, &w2, &w3, &rmsFinal};
        skipAfterFinal = calc.mul(2, calc.mul(static_cast<std::uint64_t>(h.seqLen), headSize) / 2);
    } else if (h.version == 1) {
        order = {&rmsAtt, &rmsFfn, &rmsFinal, &tokEmb, &wq, &wk, &wv, &wo, &w1, &w2, &w3};
    } else {
        fp32Groups = {&rmsAtt, &rmsFfn, &rmsFinal};
        qGroups = {&tokEmb, &wq, &wk, &wv, &wo, &w1, &w2, &w3};
        if (!h.shared)
            qGroups.push_back(&wcls);
    }
    if (h.version != 2 && !h.shared)
        order.push_back(&wcls);

    // Expected size.
    std::uint64_t expected = h.dataOffset;
    const auto gs = static_cast<std::uint64_t>(h.groupSize);
    if (h.version != 2) {
        std::uint64_t floats = skipAfterFinal;
        for (const Group* g : order)
            floats = calc.add(floats, groupElems(*g));
        expected = calc.add(expected, calc.mul(floats, 4));
    } else {
        for (const Group* g : fp32Groups)
            expected = calc.add(expected, calc.mul(groupElems(*g), 4));
        for (const Group* g : qGroups) {
            std::uint64_t per = 1;
            for (std::int64_t s : g->shape)
                per *= static_cast<std::uint64_t>(s);
            if (per % gs != 0)
                throw FormatError(path, "group_size",
                                  "a divisor of the " + std::to_string(per) + " values of each " + g->part +
                                      " tensor, found " + std::to_string(gs),
                                  37);
            const std::uint64_t total = groupElems(*g);
            expected = calc.add(expected, calc.add(total, calc.mul(total / gs, 4)));
        }
    }
    if (expected != file->size()) {
        const std::int64_t diff = static_cast<std::int64_t>(file->size()) - static_cast<std::int64_t>(expected);
        const std::string what = diff < 0 ? " (" + fmtBytes(static_cast<std::uint64_t>(-diff)) + " missing: truncated?)"
                                          : " (" + fmtBytes(static_cast<std::uint64_t>(diff)) + " too many)";
        throw FormatError(path, "file size",
                          fmtBytes(expected) + " for a llama2.c v" + std::to_string(h.version) + " checkpoint with dim " +
                              std::to_string(h.dim) + ", hidden_dim " + std::to_string(h.hidden) + ", n_layers " +
                              std::to_string(h.layers) + ", vocab_size " + std::to_string(h.vocab) + ", seq_len " +
                              std::to_string(h.seqLen) + ", found " + fmtBytes(file->size()) + what +
                              (h.version == 0 ? "; the file has no \"ak42\" magic, so it was read as legacy v0" : ""));
    }

    auto model = std::make_shared<Model>();
    model->sourcePath = path;
    model->sourceFormat = "llama2c-v" + std::to_string(h.version);
    ModelConfig& cfg = model->config;
    cfg.arch = "llama";
    cfg.dim = h.dim;
    cfg.hiddenDim = h.hidden;
    cfg.nLayers = h.layers;
    cfg.nHeads = h.heads;
    cfg.nKvHeads = h.kvHeads;
    cfg.headDim = static_cast<int>(headSize);
    cfg.vocabSize = h.vocab;
    cfg.maxSeqLen = h.seqLen;
    cfg.normEps = 1e-5f;
    cfg.ropeTheta = 10000.0f;
    cfg.ropeStyle = RopeStyle::Interleaved;
    cfg.tiedEmbeddings = h.shared;

    auto tensorName = [](const Group& g, int layer) {
        return g.perLayer ? blockTensorName(layer, g.part) : std::string(g.part);
    };
    auto perTensorElems = [](const Group& g) {
        std::uint64_t n = 1;
        for (std::int64_t s : g.shape)
            n *= static_cast<std::uint64_t>(s);
        return n;
    };
    auto addView = [&](const Group& g, int layer, std::size_t offset) {
        Tensor t;
        t.name = tensorName(g, layer);
        t.dtype = DType::F32;
        t.shape = g.shape;
        t.data = file->data() + offset;
        t.nbytes = static_cast<std::size_t>(perTensorElems(g) * 4);
        t.keepAlive = file;
        model->tensors.emplace(t.name, std::move(t));
    };

    std::size_t pos = h.dataOffset;
    if (h.version != 2) {
        for (const Group* g : order) {
            const int count = g->perLayer ? L : 1;
            for (int l = 0; l < count; ++l) {
                addView(*g, l, pos);
                pos += static_cast<std::size_t>(perTensorElems(*g) * 4);
            }
            if (g == &rmsFinal)
                pos += static_cast<std::size_t>(skipAfterFinal * 4);
        }
    } else {
        for (const Group* g : fp32Groups) {
            const int count = g->perLayer ? L : 1;
            for (int l = 0; l < count; ++l) {
                addView(*g, l, pos);
                pos += static_cast<std::size_t>(perTensorElems(*g) * 4);
            }
        }
        // runq.c's init_quantized_tensors: per tensor, int8 values then their fp32 group scales.
        for (const Group* g : qGroups) {
            const int count = g->perLayer ? L : 1;
            const std::size_t n = static_cast<std::size_t>(perTensorElems(*g));
            const std::size_t groups = n / static_cast<std::size_t>(gs);
            for (int l = 0; l < count; ++l) {
                const auto* q = reinterpret_cast<const std::int8_t*>(file->data() + pos);
                const std::byte* s = file->data() + pos + n;
                std::vector<float> values(n);
                for (std::size_t gi = 0; gi < groups; ++gi) {
                    float scale;
                    std::memcpy(&scale, s + 4 * gi, 4);
                    const std::size_t base = gi * static_cast<std::size_t>(gs);
                    for (std::size_t k = 0; k < static_cast<std::size_t>(gs); ++k)
                        values[base + k] = static_cast<float>(q[base + k]) * scale;
                }
                model->tensors.emplace(tensorName(*g, l), makeF32Tensor(tensorName(*g, l), g->shape, std::move(values)));
                pos += n + 4 * groups;
            }
        }
    }

    auto& md = model->metadata;
    md.emplace_back("format", h.version == 0   ? "llama2.c legacy (v0), fp32"
                              : h.version == 1 ? "llama2.c version 1, fp32"
                                               : "llama2.c version 2, int8 groups (dequantized to fp32)");
    md.emplace_back("dim", std::to_string(h.dim));
    md.emplace_back("hidden_dim", std::to_string(h.hidden));
    md.emplace_back("n_layers", std::to_string(h.layers));
    md.emplace_back("n_heads", std::to_string(h.heads));
    md.emplace_back("n_kv_heads", std::to_string(h.kvHeads));
    md.emplace_back("vocab_size", std::to_string(h.vocab));
    md.emplace_back("seq_len", std::to_string(h.seqLen));
    md.emplace_back("shared_classifier", h.shared ? "true" : "false");
    if (h.version == 2)
        md.emplace_back("group_size", std::to_string(h.groupSize));

    cfg.validate(path);
    model->validateTensors();

    if (!attachTokenizer)
        return model;
    const std::filesystem::path tokPath = findLlama2cTokenizer(checkpoint, tokenizerPath, h.vocab);
    if (tokPath.empty()) {
        if (requireTokenizer)
            throw FormatError(path, "tokenizer", "tokenizer.bin or tok" + std::to_string(h.vocab) +
                                                     ".bin next to the checkpoint, or an explicit tokenizer path");
        md.emplace_back("tokenizer", "none");
        return model;
    }
    if (tokPath.extension() == ".json") {
        auto tok = HfBpeTokenizer::fromJsonFile(tokPath);
        if (tok->vocabSize() > h.vocab)
            throw FormatError(tokPath.string(), "model.vocab", "at most " + std::to_string(h.vocab) +
                                                                   " tokens (the model's vocab_size), found " +
                                                                   std::to_string(tok->vocabSize()));
        model->tokenizer = std::move(tok);
    } else if (tokPath.extension() == ".model") {
        auto tok = loadSentencePieceModel(tokPath);
        if (tok->vocabSize() != h.vocab)
            throw FormatError(tokPath.string(), "pieces", std::to_string(h.vocab) + " pieces (the model's vocab_size), found " +
                                                              std::to_string(tok->vocabSize()));
        model->tokenizer = std::move(tok);
    } else {
        model->tokenizer = SpBpeTokenizer::fromLlama2cFile(tokPath, h.vocab);
    }
    md.emplace_back("tokenizer", tokPath.string());
    return model;
}

} // namespace

std::shared_ptr<Model> loadLlama2cModel(const std::filesystem::path& checkpoint,
                                        const std::filesystem::path& tokenizerPath, bool requireTokenizer)
{
    return loadImpl(checkpoint, tokenizerPath, requireTokenizer, true);
}

} // namespace bq
