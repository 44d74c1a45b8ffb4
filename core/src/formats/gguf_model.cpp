#include "bq/formats/gguf_model.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/formats/gguf_file.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include <cmath>
#include <numbers>

namespace bq {

namespace {

TokenKind kindFromGguf(std::int64_t t, const std::string& piece)
{
    switch (t) {
    case 2: return TokenKind::Unknown;
    case 3: return TokenKind::Control;
    case 4: return TokenKind::UserDefined;
    case 5: return TokenKind::Unused;
    case 6: return TokenKind::Byte;
    case 1: return TokenKind::Normal;
    default:
        // No type array: recognise <0xHH> byte pieces by their spelling.
        if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>')
            return TokenKind::Byte;
        return TokenKind::Normal;
    }
}

std::int32_t tokenId(const GgufFile& f, const std::string& key, std::int32_t fallback, std::size_t vocab)
{
    auto v = f.getInt(key);
    if (!v)
        return fallback;
    if (*v < 0 || static_cast<std::uint64_t>(*v) >= vocab)
        return -1; // some files store ids outside the vocabulary for "none"
    return static_cast<std::int32_t>(*v);
}

} // namespace

std::vector<float> llama3RopeFactors(const ModelConfig& c, const RopeScaling& s)
{
    std::vector<float> out;
    const double lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const double highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (int i = 0; i < c.headDim; i += 2) {
        const double freq = 1.0 / std::pow(double(c.ropeTheta), double(i) / c.headDim);
        const double wavelen = 2 * std::numbers::pi / freq;
        if (wavelen < highWavelen)
            out.push_back(1.0f);
        else if (wavelen > lowWavelen)
            out.push_back(s.factor);
        else {
            const double smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) /
                                  (s.highFreqFactor - s.lowFreqFactor);
            out.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.factor + smooth)));
        }
    }
    return out;
}

std::shared_ptr<const Tokenizer> tokenizerFromGguf(const GgufFile& f)
{
    const auto model = f.getString("tokenizer.ggml.model");
    if (!model || *model == "none")
        return nullptr;
    const std::string p = f.path().string();
    std::vector<std::string> tokens = f.getStringArray("tokenizer.ggml.tokens");
    if (tokens.empty())
        throw FormatError(p, "tokenizer.ggml.tokens", "a non-empty array of strings");
    const auto types = f.getIntArray("tokenizer.ggml.token_type");
    if (!types.empty() && types.size() != tokens.size())
        throw FormatError(p, "tokenizer.ggml.token_type", "one type per token (" + std::to_string(tokens.size()) +
                                                              ", found " + std::to_string(types.size()) + ")");
    const std::size_t n = tokens.size();
    const bool addBosKey = f.getBool("tokenizer.ggml.add_bos_token").value_or(*model == "llama");

    if (*model == "llama") {
        const auto scores = f.getFloatArray("tokenizer.ggml.scores");
        if (!scores.empty() && scores.size() != n)
            throw FormatError(p, "tokenizer.ggml.scores", "one score per token (" + std::to_string(n) + ", found " +
                                                              std::to_string(scores.size()) + ")");
        std::vector<SpVocabEntry> vocab(n);
        for (std::size_t i = 0; i < n; ++i) {
            vocab[i].piece = std::move(tokens[i]);
            vocab[i].score = scores.empty() ? 0.0f : scores[i];
            vocab[i].kind = kindFromGguf(types.empty() ? 0 : types[i], vocab[i].piece);
        }
        SpBpeOptions o;
        o.addDummyPrefix = f.getBool("tokenizer.ggml.add_space_prefix").value_or(true);
        o.spacesAsMetaspace = true;
        o.byteFallback = true;
        o.bosId = tokenId(f, "tokenizer.ggml.bos_token_id", 1 < n ? 1 : -1, n);
        o.eosId = tokenId(f, "tokenizer.ggml.eos_token_id", 2 < n ? 2 : -1, n);
        o.unkId = tokenId(f, "tokenizer.ggml.unknown_token_id", 0, n);
        o.addBos = addBosKey;
        o.family = "sentencepiece";
        return std::make_shared<SpBpeTokenizer>(std::move(vocab), std::move(o));
    }
    if (*model == "gpt2") {
        std::vector<std::int32_t> t32(n, 1);
        for (std::size_t i = 0; i < types.size(); ++i)
            t32[i] = static_cast<std::int32_t>(types[i]);
        auto merges = f.getStringArray("tokenizer.ggml.merges");
        const std::string pre = f.getString("tokenizer.ggml.pre").value_or("default");
        return HfBpeTokenizer::fromGguf(std::move(tokens), std::move(t32), std::move(merges), pre,
                                        tokenId(f, "tokenizer.ggml.bos_token_id", -1, n),
                                        tokenId(f, "tokenizer.ggml.eos_token_id", -1, n),
                                        f.getBool("tokenizer.ggml.add_bos_token").value_or(false), p);
    }
    throw UnsupportedModel(p + ": tokenizer.ggml.model '" + *model +
                           "' is not supported (expected \"llama\" or \"gpt2\")");
}

std::shared_ptr<Model> loadGgufModel(const std::filesystem::path& path)
{
    auto f = GgufFile::open(path);
    const std::string p = path.string();
    const auto archOpt = f->getString("general.architecture");
    if (!archOpt)
        throw FormatError(p, "general.architecture", "a string (the key is missing)");
    const std::string arch = *archOpt;
    if (arch != "llama" && arch != "mistral" && arch != "qwen2" && arch != "qwen3")
        throw UnsupportedModel(p + ": general.architecture '" + arch +
                               "' is not supported (expected llama, mistral, qwen2 or qwen3)");
    const std::string a = arch + ".";

    auto model = std::make_shared<Model>();
    model->sourcePath = p;
    model->sourceFormat = "gguf";
    model->metadata = f->displayMetadata();
    ModelConfig& c = model->config;
    c.arch = arch;
    auto req = [&](const std::string& key) {
        const auto v = f->requireInt(key);
        if (v <= 0 || v > (1ll << 31) - 1)
            throw FormatError(p, key, "a positive 32-bit integer (found " + std::to_string(v) + ")");
        return static_cast<int>(v);
    };
    c.dim = req(a + "embedding_length");
    c.hiddenDim = req(a + "feed_forward_length");
    c.nLayers = req(a + "block_count");
    c.nHeads = req(a + "attention.head_count");
    c.nKvHeads = f->find(a + "attention.head_count_kv") ? req(a + "attention.head_count_kv") : c.nHeads;
    c.headDim = f->find(a + "attention.key_length") ? req(a + "attention.key_length") : c.dim / c.nHeads;
    if (f->find(a + "attention.value_length") && req(a + "attention.value_length") != c.headDim)
        throw UnsupportedModel(p + ": " + a + "attention.value_length differs from the key length " +
                               std::to_string(c.headDim));
    if (f->find(a + "rope.dimension_count") && req(a + "rope.dimension_count") != c.headDim)
        throw UnsupportedModel(p + ": " + a + "rope.dimension_count " +
                               std::to_string(req(a + "rope.dimension_count")) +
                               " (partial rotary) is not supported; expected the head size " +
                               std::to_string(c.headDim));
    c.maxSeqLen = f->find(a + "context_length") ? req(a + "context_length") : 2048;
    c.checkCaps(p); // before anything (rope factors, layers) is sized from these fields
    c.normEps = static_cast<float>(f->getFloat(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
    c.ropeTheta = static_cast<float>(f->getFloat(a + "rope.freq_base").value_or(10000.0));
    c.ropeStyle = (arch == "qwen2" || arch == "qwen3") ? RopeStyle::NeoX : RopeStyle::Interleaved;
    c.qkNorm = arch == "qwen3";
    c.slidingWindow = static_cast<int>(f->getInt(a + "attention.sliding_window").value_or(0));

    for (const auto& info : f->tensorInfos())
        model->tensors.emplace(info.name, f->tensor(info));
    applyBitstudioTensors(*f, *model); // bitstudio-format layers -> dequantized F32 weights
    c.tiedEmbeddings = model->find("output.weight") == nullptr;
    c.qkvBias = model->find("blk.0.attn_q.bias") != nullptr;
    if (const Tensor* e = model->find("token_embd.weight"); e && e->shape.size() == 2)
        c.vocabSize = static_cast<int>(e->shape[0]);
    else if (auto v = f->getInt(a + "vocab_size"))
        c.vocabSize = static_cast<int>(*v);

    // RoPE scaling.
    if (auto type = f->getString(a + "rope.scaling.type"); type && *type != "none") {
        const double factor = f->getFloat(a + "rope.scaling.factor").value_or(1.0);
        if (factor != 1.0)
            throw UnsupportedModel(p + ": " + a + "rope.scaling.type '" + *type +
                                   "' is not supported (only llama3 frequency scaling)");
    }
    if (auto type = f->getString("bitstudio.rope.scaling.type")) {
        if (*type != "llama3")
            throw UnsupportedModel(p + ": bitstudio.rope.scaling.type '" + *type + "' is not supported");
        RopeScaling s;
        s.factor = static_cast<float>(f->getFloat("bitstudio.rope.scaling.factor").value_or(s.factor));
        s.lowFreqFactor = static_cast<float>(f->getFloat("bitstudio.rope.scaling.low_freq_factor").value_or(s.lowFreqFactor));
        s.highFreqFactor =
            static_cast<float>(f->getFloat("bitstudio.rope.scaling.high_freq_factor").value_or(s.highFreqFactor));
        s.originalMaxPositions = static_cast<int>(
            f->getInt("bitstudio.rope.scaling.original_context_length").value_or(s.originalMaxPositions));
        c.ropeScaling = s;
        model->tensors.erase("rope_freqs.weight");
    } else if (const Tensor* rf = model->find("rope_freqs.weight")) {
        // llama.cpp stores llama3 scaling only as per-pair frequency divisors; recover the parameters and
        // insist that they reproduce the tensor.
        const auto values = rf->toFloat();
        if (static_cast<int>(values.size()) != c.headDim / 2)
            throw FormatError(p, "tensor rope_freqs.weight", "head_size / 2 = " + std::to_string(c.headDim / 2) +
                                                                 " values");
        RopeScaling s;
        float maxv = 0;
        for (float v : values)
            maxv = std::max(maxv, v);
        s.factor = static_cast<float>(f->getFloat(a + "rope.scaling.factor").value_or(maxv));
        s.originalMaxPositions = static_cast<int>(f->getInt(a + "rope.scaling.original_context_length").value_or(8192));
        const auto expect = llama3RopeFactors(c, s);
        for (std::size_t i = 0; i < values.size(); ++i)
            if (std::fabs(expect[i] - values[i]) > 1e-3f * std::max(1.0f, std::fabs(values[i])))
                throw UnsupportedModel(p + ": rope_freqs.weight does not match llama3 frequency scaling (pair " +
                                       std::to_string(i) + ": " + std::to_string(values[i]) + " vs " +
                                       std::to_string(expect[i]) + ")");
        c.ropeScaling = s;
        model->tensors.erase("rope_freqs.weight");
        model->metadata.emplace_back("rope scaling", "llama3 (recovered from rope_freqs.weight)");
    }

    c.validate(p);
    model->validateTensors();
    model->tokenizer = tokenizerFromGguf(*f);
    if (auto t = f->getString("tokenizer.chat_template"))
        model->chatTemplate = *t;
    return model;
}

} // namespace bq
