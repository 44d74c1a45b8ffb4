// The GGUF model writer: architecture, tokenizer and bitstudio keys, tensors in llama.cpp's order and RoPE
// convention.
#include "bq/formats/convert.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/gguf_writer.h"
#include "bq/formats/tokenizer_json_writer.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/output_path.h"
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

namespace bq {

namespace fs = std::filesystem;

namespace {

// Scores for a SentencePiece-style vocabulary. HF BPE vocabularies have none: give each piece minus the rank
// of the first merge that produces it, so score-merging follows the merge ranks.
std::vector<float> spScores(const Tokenizer& tok, const std::vector<std::string>& pieces)
{
    std::vector<float> scores(pieces.size());
    const auto* hf = dynamic_cast<const HfBpeTokenizer*>(&tok);
    if (!hf || hf->merges().empty()) {
        for (std::size_t i = 0; i < pieces.size(); ++i)
            scores[i] = tok.score(static_cast<std::int32_t>(i));
        return scores;
    }
    std::unordered_map<std::string, std::size_t> firstRank;
    const auto& merges = hf->merges();
    for (std::size_t r = 0; r < merges.size(); ++r) {
        std::string m = merges[r];
        const auto sp = m.find(' ');
        if (sp != std::string::npos)
            m.erase(sp, 1);
        firstRank.emplace(m, r);
    }
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        auto it = firstRank.find(pieces[i]);
        scores[i] = it == firstRank.end() ? -1e9f : -static_cast<float>(it->second);
    }
    return scores;
}

std::int32_t ggufTokenType(TokenKind k)
{
    switch (k) {
    case TokenKind::Normal: return 1;
    case TokenKind::Unknown: return 2;
    case TokenKind::Control: return 3;
    case TokenKind::UserDefined: return 4;
    case TokenKind::Unused: return 5;
    case TokenKind::Byte: return 6;
    }
    return 1;
}

} // namespace

namespace {

// The writer writeGguf fills, with every tensor's data (withData) or, for ggufLayout, with each tensor it would
// convert given as its type, shape and size only. sources[i]: the model tensor written tensor i comes from.
GgufWriter ggufWriterFor(const Model& model, DType weightType, const GgufWriteOptions& options, bool withData,
                         std::vector<std::string>& sources)
{
    if (weightType != DType::F32 && weightType != DType::F16 && weightType != DType::Q8_0)
        throw std::invalid_argument(std::string("GGUF export stores F32, F16 or Q8_0 weights, not ") +
                                    dtypeName(weightType));
    const ModelConfig& c = model.config;
    c.validate(model.sourcePath);
    // llama.cpp files Mistral under "llama"; that architecture rotates interleaved pairs.
    const std::string arch = c.arch == "mistral" ? "llama" : c.arch;
    const RopeStyle target = arch == "llama" ? RopeStyle::Interleaved : RopeStyle::NeoX;
    const std::string a = arch + ".";

    GgufWriter w(options.alignment);
    std::string name = options.name;
    if (name.empty())
        for (const auto& [k, v] : model.metadata)
            if (k == "general.name")
                name = v;
    if (name.empty())
        name = fs::path(model.sourcePath).filename().string();
    if (name.empty())
        name = fs::path(model.sourcePath).parent_path().filename().string();
    w.set("general.architecture", GgufValue::str(arch));
    w.set("general.name", GgufValue::str(name));
    w.set("general.file_type", GgufValue::u32(weightType == DType::F32 ? 0 : weightType == DType::F16 ? 1 : 7));
    if (weightType == DType::Q8_0)
        w.set("general.quantization_version", GgufValue::u32(2));
    w.set(a + "context_length", GgufValue::u32(static_cast<std::uint32_t>(c.maxSeqLen)));
    w.set(a + "embedding_length", GgufValue::u32(static_cast<std::uint32_t>(c.dim)));
    w.set(a + "block_count", GgufValue::u32(static_cast<std::uint32_t>(c.nLayers)));
    w.set(a + "feed_forward_length", GgufValue::u32(static_cast<std::uint32_t>(c.hiddenDim)));
    w.set(a + "attention.head_count", GgufValue::u32(static_cast<std::uint32_t>(c.nHeads)));
    w.set(a + "attention.head_count_kv", GgufValue::u32(static_cast<std::uint32_t>(c.nKvHeads)));
    w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::f32(c.normEps));
    w.set(a + "rope.freq_base", GgufValue::f32(c.ropeTheta));
    w.set(a + "rope.dimension_count", GgufValue::u32(static_cast<std::uint32_t>(c.headDim)));
    if (c.headDim * c.nHeads != c.dim) {
        w.set(a + "attention.key_length", GgufValue::u32(static_cast<std::uint32_t>(c.headDim)));
        w.set(a + "attention.value_length", GgufValue::u32(static_cast<std::uint32_t>(c.headDim)));
    }
    w.set(a + "vocab_size", GgufValue::u32(static_cast<std::uint32_t>(c.vocabSize)));
    if (c.ropeScaling) {
        w.set("bitstudio.rope.scaling.type", GgufValue::str("llama3"));
        w.set("bitstudio.rope.scaling.factor", GgufValue::f32(c.ropeScaling->factor));
        w.set("bitstudio.rope.scaling.low_freq_factor", GgufValue::f32(c.ropeScaling->lowFreqFactor));
        w.set("bitstudio.rope.scaling.high_freq_factor", GgufValue::f32(c.ropeScaling->highFreqFactor));
        w.set("bitstudio.rope.scaling.original_context_length",
              GgufValue::u32(static_cast<std::uint32_t>(c.ropeScaling->originalMaxPositions)));
    }
    w.set("bitstudio.format_version", GgufValue::u32(1));

    if (const Tokenizer* tok = model.tokenizer.get()) {
        const std::int32_t n = tok->vocabSize();
        std::vector<std::int32_t> types(static_cast<std::size_t>(n));
        for (std::int32_t i = 0; i < n; ++i)
            types[static_cast<std::size_t>(i)] = ggufTokenType(tok->kind(i));
        const auto* hf = dynamic_cast<const HfBpeTokenizer*>(tok);
        if (isSentencePieceStyle(*tok)) {
            const auto pieces = spPieces(*tok);
            w.set("tokenizer.ggml.model", GgufValue::str("llama"));
            w.set("tokenizer.ggml.tokens", GgufValue::stringArray(pieces));
            w.set("tokenizer.ggml.scores", GgufValue::f32Array(spScores(*tok, pieces)));
            w.set("tokenizer.ggml.token_type", GgufValue::i32Array(types));
        } else {
            std::vector<std::string> pieces(static_cast<std::size_t>(n));
            for (std::int32_t i = 0; i < n; ++i)
                pieces[static_cast<std::size_t>(i)] = tok->piece(i);
            w.set("tokenizer.ggml.model", GgufValue::str("gpt2"));
            w.set("tokenizer.ggml.pre", GgufValue::str(hf ? hf->preTokenizerName() : "default"));
            w.set("tokenizer.ggml.tokens", GgufValue::stringArray(std::move(pieces)));
            w.set("tokenizer.ggml.token_type", GgufValue::i32Array(types));
            if (hf)
                w.set("tokenizer.ggml.merges", GgufValue::stringArray(hf->merges()));
        }
        if (tok->bosId() >= 0)
            w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<std::uint32_t>(tok->bosId())));
        if (tok->eosId() >= 0)
            w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<std::uint32_t>(tok->eosId())));
        for (std::int32_t i = 0; i < n; ++i)
            if (tok->kind(i) == TokenKind::Unknown) {
                w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(static_cast<std::uint32_t>(i)));
                break;
            }
        w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(tok->addsBosByDefault()));
    }
    std::string chat = model.chatTemplate;
    if (const auto* hf = dynamic_cast<const HfBpeTokenizer*>(model.tokenizer.get()); chat.empty() && hf)
        chat = hf->chatTemplate();
    if (!chat.empty())
        w.set("tokenizer.chat_template", GgufValue::str(chat));
    for (const auto& [key, value] : options.extraMetadata)
        w.set(key, value);

    // Tensor order: token_embd, blocks by layer number, then output_norm, output, anything else by name.
    auto orderKey = [](const std::string& n) {
        if (n == "token_embd.weight")
            return std::make_tuple(0, 0L, n);
        if (n.rfind("blk.", 0) == 0)
            return std::make_tuple(1, std::strtol(n.c_str() + 4, nullptr, 10), n);
        if (n == "output_norm.weight")
            return std::make_tuple(2, 0L, n);
        if (n == "output.weight")
            return std::make_tuple(3, 0L, n);
        return std::make_tuple(4, 0L, n);
    };
    std::vector<std::string> names;
    for (const auto& kv : model.tensors)
        if (kv.first != "rope_freqs.weight")
            names.push_back(kv.first);
    std::sort(names.begin(), names.end(), [&](const auto& x, const auto& y) { return orderKey(x) < orderKey(y); });
    if (c.ropeScaling) {
        w.addTensor(makeF32Tensor("rope_freqs.weight", {c.headDim / 2}, llama3RopeFactors(c, *c.ropeScaling)));
        sources.push_back("rope_freqs.weight");
    }
    for (const auto& n : names) {
        if (n == "output.weight" && c.tiedEmbeddings)
            continue;
        const Tensor& t = model.tensors.at(n);
        if (options.tensorHook) {
            // The source row of every written row, found by reordering a tensor of row indices.
            std::vector<std::int64_t> order;
            if (c.ropeStyle != target && ropeHeads(n, c) != 0) {
                std::vector<float> index(static_cast<std::size_t>(t.shape[0]));
                for (std::size_t r = 0; r < index.size(); ++r)
                    index[r] = static_cast<float>(r);
                for (float v : reorderForStyle(makeF32Tensor(n, {t.shape[0]}, index), n, c, target).toFloat())
                    order.push_back(static_cast<std::int64_t>(v));
            }
            if (auto replacement = options.tensorHook(n, order)) {
                for (const Tensor& x : *replacement) {
                    w.addTensor(x);
                    sources.push_back(n);
                }
                continue;
            }
        }
        DType type = DType::F32;
        if (t.shape.size() >= 2) {
            type = weightType;
            if (type == DType::Q8_0 && t.cols() % 32 != 0)
                type = DType::F16; // as llama.cpp's converter does for rows Q8_0 cannot hold
        }
        if (withData)
            w.addTensor(convertTensor(reorderForStyle(t, n, c, target), type));
        else
            w.addTensor(Tensor{n, type, t.shape, nullptr, dtypeRowBytes(type, t.cols()) * std::size_t(t.rows()), {}});
        sources.push_back(n);
    }
    return w;
}

} // namespace

bool isBitstudioGguf(const fs::path& file)
{
    return GgufFile::open(file)->find("bitstudio.format_version") != nullptr;
}

void writeGguf(const Model& model, const fs::path& file, DType weightType, const GgufWriteOptions& options)
{
    checkOutputFile(file, options.force, isBitstudioGguf); // before any work; the file is replaced atomically
    std::vector<std::string> sources;
    ggufWriterFor(model, weightType, options, true, sources).write(file);
}

GgufLayout ggufLayout(const Model& model, DType weightType, const GgufWriteOptions& options)
{
    std::vector<std::string> sources;
    const GgufWriter w = ggufWriterFor(model, weightType, options, false, sources);
    const GgufWriter::Layout l = w.layout();
    GgufLayout out;
    out.headerBytes = l.headerBytes;
    out.fileBytes = l.fileBytes;
    for (std::size_t i = 0; i < w.tensors().size(); ++i) {
        const Tensor& t = w.tensors()[i];
        out.tensors.push_back({t.name, sources[i], t.dtype, t.shape, t.nbytes});
    }
    return out;
}

} // namespace bq
