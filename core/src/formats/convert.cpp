#include "bq/formats/convert.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/gguf_writer.h"
#include "bq/formats/hf_config.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/atomic_file.h"
#include "bq/util/errors.h"
#include "bq/util/fp16.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace bq {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// ---------------------------------------------------------------- tensors

Tensor convertTensor(const Tensor& t, DType to)
{
    if (t.dtype == to)
        return t;
    const std::int64_t rows = t.rows(), cols = t.cols();
    if (cols % dtypeBlockSize(to) != 0)
        throw std::invalid_argument("tensor " + t.name + ": row length " + std::to_string(cols) +
                                    " is not a multiple of the " + dtypeName(to) + " block size");
    const std::size_t rowBytes = dtypeRowBytes(to, cols);
    std::vector<std::byte> out(rowBytes * static_cast<std::size_t>(rows));
    std::vector<float> row(static_cast<std::size_t>(cols));
    for (std::int64_t r = 0; r < rows; ++r) {
        t.rowToFloat(r, row.data());
        std::byte* dst = out.data() + static_cast<std::size_t>(r) * rowBytes;
        switch (to) {
        case DType::F32: std::memcpy(dst, row.data(), rowBytes); break;
        case DType::F16:
        case DType::BF16:
            for (std::int64_t i = 0; i < cols; ++i) {
                const std::uint16_t h = to == DType::F16 ? floatToHalf(row[i]) : floatToBf16(row[i]);
                std::memcpy(dst + 2 * i, &h, 2);
            }
            break;
        case DType::Q8_0:
            // ggml quantize_row_q8_0_ref: d = amax / 127, q = round(x * (1/d)), d stored as fp16.
            for (std::int64_t b = 0; b < cols / 32; ++b) {
                const float* x = row.data() + b * 32;
                float amax = 0.0f;
                for (int j = 0; j < 32; ++j)
                    amax = std::max(amax, std::fabs(x[j]));
                const float d = amax / 127.0f;
                const float id = d != 0.0f ? 1.0f / d : 0.0f;
                std::byte* blk = dst + b * 34;
                const std::uint16_t dh = floatToHalf(d);
                std::memcpy(blk, &dh, 2);
                for (int j = 0; j < 32; ++j)
                    blk[2 + j] = static_cast<std::byte>(static_cast<std::int8_t>(std::lround(x[j] * id)));
            }
            break;
        default:
            throw std::invalid_argument(std::string("conversion to ") + dtypeName(to) + " is not supported here");
        }
    }
    return makeOwnedTensor(t.name, to, t.shape, std::move(out));
}

Tensor permuteRopeRows(const Tensor& t, int nHeads, bool toNeoX)
{
    if (t.shape.empty() || nHeads <= 0 || t.shape[0] % nHeads != 0 || (t.shape[0] / nHeads) % 2 != 0)
        throw std::invalid_argument("tensor " + t.name + " " + t.shapeString() + " cannot be split into " +
                                    std::to_string(nHeads) + " heads of even size");
    const std::int64_t rows = t.shape[0], hd = rows / nHeads, half = hd / 2;
    const std::size_t rowBytes = t.nbytes / static_cast<std::size_t>(rows);
    std::vector<std::byte> out(t.nbytes);
    for (std::int64_t h = 0; h < nHeads; ++h)
        for (std::int64_t i = 0; i < half; ++i) {
            const std::int64_t neox[2] = {h * hd + i, h * hd + i + half};
            const std::int64_t inter[2] = {h * hd + 2 * i, h * hd + 2 * i + 1};
            for (int k = 0; k < 2; ++k) {
                const std::int64_t dst = toNeoX ? neox[k] : inter[k];
                const std::int64_t src = toNeoX ? inter[k] : neox[k];
                std::memcpy(out.data() + static_cast<std::size_t>(dst) * rowBytes,
                            t.data + static_cast<std::size_t>(src) * rowBytes, rowBytes);
            }
        }
    return makeOwnedTensor(t.name, t.dtype, t.shape, std::move(out));
}

namespace {

// Which RoPE-ordered tensors a canonical name is, and over how many heads its rows run.
int ropeHeads(const std::string& name, const ModelConfig& c)
{
    auto ends = [&](const char* s) {
        const std::size_t n = std::strlen(s);
        return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
    };
    if (name.rfind("blk.", 0) != 0)
        return 0;
    if (ends(".attn_q.weight") || ends(".attn_q.bias"))
        return c.nHeads;
    if (ends(".attn_k.weight") || ends(".attn_k.bias"))
        return c.nKvHeads;
    if (ends(".attn_q_norm.weight") || ends(".attn_k_norm.weight"))
        return 1; // one head's worth of per-dimension weights
    return 0;
}

Tensor reorderForStyle(const Tensor& t, const std::string& name, const ModelConfig& c, RopeStyle target)
{
    if (c.ropeStyle == target)
        return t;
    const int heads = ropeHeads(name, c);
    if (heads == 0)
        return t;
    return permuteRopeRows(t, heads, target == RopeStyle::NeoX);
}

std::string jsonText(const ojson& j) { return j.dump(2, ' ', false) + "\n"; }

// ---------------------------------------------------------------- tokenizers

bool isSentencePieceStyle(const Tokenizer& tok)
{
    const std::string f = tok.family();
    return f == "llama2c" || f == "sentencepiece" || f == "bpe-sentencepiece";
}

// A vocabulary piece in SentencePiece ("▁") form: llama2.c stores spaces as ' ' and BOS/EOS as "\n<s>\n".
std::string spPiece(const Tokenizer& tok, std::int32_t id)
{
    std::string p = tok.piece(id);
    const TokenKind k = tok.kind(id);
    if (k == TokenKind::Control || k == TokenKind::Unknown) {
        const auto b = p.find_first_not_of(" \n\r\t");
        const auto e = p.find_last_not_of(" \n\r\t");
        p = b == std::string::npos ? std::string() : p.substr(b, e - b + 1);
    }
    if (k == TokenKind::Byte && p.size() == 1) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(p[0])));
        return buf;
    }
    std::string out;
    out.reserve(p.size() + 8);
    for (char ch : p) {
        if (ch == ' ')
            out += "\xE2\x96\x81";
        else
            out += ch;
    }
    return out;
}

std::vector<std::string> spPieces(const Tokenizer& tok)
{
    std::vector<std::string> pieces(static_cast<std::size_t>(tok.vocabSize()));
    for (std::int32_t i = 0; i < tok.vocabSize(); ++i)
        pieces[static_cast<std::size_t>(i)] = spPiece(tok, i);
    return pieces;
}

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

std::size_t utf8Len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if ((c >> 5) == 0x6)
        return 2;
    if ((c >> 4) == 0xE)
        return 3;
    if ((c >> 3) == 0x1E)
        return 4;
    return 1;
}

ojson addedToken(std::int32_t id, const std::string& content, bool special)
{
    ojson a;
    a["id"] = id;
    a["content"] = content;
    a["single_word"] = false;
    a["lstrip"] = false;
    a["rstrip"] = false;
    a["normalized"] = false;
    a["special"] = special;
    return a;
}

ojson replaceStep(const std::string& from, const std::string& to)
{
    ojson r;
    r["type"] = "Replace";
    r["pattern"] = ojson{{"String", from}};
    r["content"] = to;
    return r;
}

ojson bosPostProcessor(const std::string& bos, std::int32_t bosId)
{
    auto special = [&](int typeId) { return ojson{{"SpecialToken", ojson{{"id", bos}, {"type_id", typeId}}}}; };
    auto seq = [](const char* id, int typeId) { return ojson{{"Sequence", ojson{{"id", id}, {"type_id", typeId}}}}; };
    ojson p;
    p["type"] = "TemplateProcessing";
    p["single"] = ojson::array({special(0), seq("A", 0)});
    p["pair"] = ojson::array({special(0), seq("A", 0), special(1), seq("B", 1)});
    p["special_tokens"] = ojson{{bos, ojson{{"id", bos}, {"ids", ojson::array({bosId})}, {"tokens", ojson::array({bos})}}}};
    return p;
}

const char* kLlama3Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                           "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kQwen2Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                          "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::string tokenizerJson(const Tokenizer& tok)
{
    const std::int32_t n = tok.vocabSize();
    const bool sp = isSentencePieceStyle(tok);
    const auto* hf = dynamic_cast<const HfBpeTokenizer*>(&tok);
    std::vector<std::string> pieces(static_cast<std::size_t>(n));
    for (std::int32_t i = 0; i < n; ++i)
        pieces[static_cast<std::size_t>(i)] = sp ? spPiece(tok, i) : tok.piece(i);

    ojson j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    ojson added = ojson::array();
    for (std::int32_t i = 0; i < n; ++i) {
        const TokenKind k = tok.kind(i);
        if (k == TokenKind::Control || k == TokenKind::Unknown || k == TokenKind::UserDefined)
            added.push_back(addedToken(i, pieces[static_cast<std::size_t>(i)], k != TokenKind::UserDefined));
    }
    j["added_tokens"] = added;

    ojson model;
    model["type"] = "BPE";
    model["dropout"] = nullptr;
    if (sp) {
        ojson prepend;
        prepend["type"] = "Prepend";
        prepend["prepend"] = "\xE2\x96\x81";
        j["normalizer"] = ojson{{"type", "Sequence"},
                                {"normalizers", ojson::array({prepend, replaceStep(" ", "\xE2\x96\x81")})}};
        j["pre_tokenizer"] = nullptr;
        const std::int32_t bos = tok.bosId();
        j["post_processor"] = tok.addsBosByDefault() && bos >= 0 ? bosPostProcessor(pieces[bos], bos) : ojson();
        ojson fuse, byteFallback, strip;
        byteFallback["type"] = "ByteFallback";
        fuse["type"] = "Fuse";
        strip["type"] = "Strip";
        strip["content"] = " ";
        strip["start"] = 1;
        strip["stop"] = 0;
        j["decoder"] = ojson{{"type", "Sequence"},
                             {"decoders", ojson::array({replaceStep("\xE2\x96\x81", " "), byteFallback, fuse, strip})}};
        std::int32_t unk = -1;
        for (std::int32_t i = 0; i < n && unk < 0; ++i)
            if (tok.kind(i) == TokenKind::Unknown)
                unk = i;
        model["unk_token"] = unk >= 0 ? ojson(pieces[unk]) : ojson();
        model["continuing_subword_prefix"] = nullptr;
        model["end_of_word_suffix"] = nullptr;
        model["fuse_unk"] = true;
        model["byte_fallback"] = true;
    } else {
        const std::string pre = hf ? hf->preTokenizerName() : "default";
        ojson byteLevel;
        byteLevel["type"] = "ByteLevel";
        byteLevel["add_prefix_space"] = false;
        byteLevel["trim_offsets"] = false;
        if (pre == "llama-bpe" || pre == "qwen2") {
            byteLevel["use_regex"] = false;
            ojson split;
            split["type"] = "Split";
            split["pattern"] = ojson{{"Regex", pre == "qwen2" ? kQwen2Regex : kLlama3Regex}};
            split["behavior"] = "Isolated";
            split["invert"] = false;
            j["normalizer"] = pre == "qwen2" ? ojson{{"type", "NFC"}} : ojson();
            j["pre_tokenizer"] = ojson{{"type", "Sequence"}, {"pretokenizers", ojson::array({split, byteLevel})}};
        } else {
            byteLevel["use_regex"] = true;
            j["normalizer"] = nullptr;
            j["pre_tokenizer"] = byteLevel;
        }
        j["post_processor"] = nullptr;
        j["decoder"] = ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                             {"use_regex", false}};
        model["unk_token"] = nullptr;
        model["continuing_subword_prefix"] = nullptr;
        model["end_of_word_suffix"] = nullptr;
        model["fuse_unk"] = false;
        model["byte_fallback"] = false;
    }
    model["ignore_merges"] = false;
    // The vocabulary is spliced in as text: ordered_json looks keys up linearly, which is quadratic for
    // 150k-piece vocabularies.
    std::unordered_set<std::string_view> seen;
    std::string vocabText = "{";
    for (std::int32_t i = 0; i < n; ++i) {
        const std::string& p = pieces[static_cast<std::size_t>(i)];
        if (!seen.insert(p).second)
            throw UnsupportedModel("tokenizer piece '" + p + "' (id " + std::to_string(i) +
                                   ") appears twice; tokenizer.json needs unique pieces");
        vocabText += (i ? ",\n      " : "\n      ") + ojson(p).dump(-1, ' ', false, ojson::error_handler_t::replace) +
                     ": " + std::to_string(i);
    }
    vocabText += "\n    }";
    const std::string placeholder = "\x01vocab\x01";
    model["vocab"] = placeholder;
    std::vector<std::string> merges;
    if (hf)
        merges = hf->merges();
    else if (sp) {
        std::vector<std::string> normal(pieces.size());
        std::vector<float> scores(pieces.size());
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            // Only ordinary pieces take part in merging; control, byte and user-defined pieces are matched
            // elsewhere.
            if (tok.kind(static_cast<std::int32_t>(i)) == TokenKind::Normal)
                normal[i] = pieces[i];
            scores[i] = tok.score(static_cast<std::int32_t>(i));
        }
        merges = mergesFromScores(normal, scores);
    }
    model["merges"] = merges;
    j["model"] = std::move(model);
    std::string text = jsonText(j);
    const std::string quoted = ojson(placeholder).dump();
    const auto at = text.find(quoted);
    text.replace(at, quoted.size(), vocabText);
    return text;
}

std::string tokenizerConfigJson(const Tokenizer& tok, const Model& model)
{
    const bool sp = isSentencePieceStyle(tok);
    auto pieceOrNull = [&](std::int32_t id) {
        return id >= 0 && id < tok.vocabSize() ? ojson(sp ? spPiece(tok, id) : tok.piece(id)) : ojson();
    };
    std::int32_t unk = -1;
    for (std::int32_t i = 0; i < tok.vocabSize() && unk < 0; ++i)
        if (tok.kind(i) == TokenKind::Unknown)
            unk = i;
    ojson j;
    j["add_bos_token"] = tok.addsBosByDefault();
    j["add_eos_token"] = false;
    j["bos_token"] = pieceOrNull(tok.bosId());
    j["eos_token"] = pieceOrNull(tok.eosId());
    j["unk_token"] = pieceOrNull(unk);
    j["pad_token"] = nullptr;
    j["clean_up_tokenization_spaces"] = false;
    if (sp)
        j["legacy"] = true;
    j["model_max_length"] = model.config.maxSeqLen;
    j["tokenizer_class"] = sp ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast";
    std::string chat = model.chatTemplate;
    if (const auto* hf = dynamic_cast<const HfBpeTokenizer*>(&tok); chat.empty() && hf)
        chat = hf->chatTemplate();
    if (!chat.empty())
        j["chat_template"] = chat;
    return jsonText(j);
}

const char* torchDtypeName(DType t)
{
    return t == DType::F16 ? "float16" : t == DType::BF16 ? "bfloat16" : "float32";
}

void copyFile(const fs::path& from, const fs::path& to)
{
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec)
        throw std::runtime_error(to.string() + ": cannot copy from " + from.string() + ": " + ec.message());
}

} // namespace

std::vector<std::string> mergesFromScores(const std::vector<std::string>& pieces, const std::vector<float>& scores)
{
    // transformers' SentencePieceExtractor.extract: for each piece (in id order) every split into two in-vocab
    // pieces, sorted by (left id, right id); then a stable sort of all by the merged piece's score, highest first.
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < pieces.size(); ++i)
        if (!pieces[i].empty())
            index.emplace(pieces[i], i);
    struct Merge {
        std::size_t left, right, piece;
    };
    std::vector<Merge> all;
    for (std::size_t id = 0; id < pieces.size(); ++id) {
        const std::string& p = pieces[id];
        if (p.empty())
            continue;
        std::vector<Merge> local;
        for (std::size_t cut = utf8Len(static_cast<unsigned char>(p[0])); cut < p.size();
             cut += utf8Len(static_cast<unsigned char>(p[cut]))) {
            auto l = index.find(p.substr(0, cut));
            auto r = index.find(p.substr(cut));
            if (l != index.end() && r != index.end())
                local.push_back({l->second, r->second, id});
        }
        std::sort(local.begin(), local.end(),
                  [](const Merge& a, const Merge& b) { return std::tie(a.left, a.right) < std::tie(b.left, b.right); });
        all.insert(all.end(), local.begin(), local.end());
    }
    std::stable_sort(all.begin(), all.end(),
                     [&](const Merge& a, const Merge& b) { return scores[a.piece] > scores[b.piece]; });
    std::vector<std::string> out;
    out.reserve(all.size());
    for (const auto& m : all)
        out.push_back(pieces[m.left] + " " + pieces[m.right]);
    return out;
}

void writeSafetensorsFile(const fs::path& file, const std::vector<Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata)
{
    std::vector<const Tensor*> sorted;
    for (const auto& t : tensors)
        sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](auto a, auto b) { return a->name < b->name; });
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::uint64_t off = 0;
    for (const Tensor* t : sorted) {
        const char* dt = nullptr;
        switch (t->dtype) {
        case DType::F32: dt = "F32"; break;
        case DType::F16: dt = "F16"; break;
        case DType::BF16: dt = "BF16"; break;
        case DType::I8: dt = "I8"; break;
        case DType::I32: dt = "I32"; break;
        default:
            throw std::invalid_argument("safetensors cannot store tensor " + t->name + " of type " +
                                        dtypeName(t->dtype));
        }
        if (header.contains(t->name))
            throw std::invalid_argument("safetensors tensor name " + t->name + " is used twice");
        header[t->name] = {{"dtype", dt}, {"shape", t->shape}, {"data_offsets", {off, off + t->nbytes}}};
        off += t->nbytes;
    }
    std::string text = header.dump();
    text.append((8 - (text.size() % 8)) % 8, ' ');
    AtomicFile f(file);
    const std::uint64_t n = text.size();
    f.write(&n, 8);
    f.write(text);
    for (const Tensor* t : sorted)
        f.write(t->data, t->nbytes);
    f.commit();
}

void writeHfDirectory(const Model& model, const fs::path& dir, DType dtype)
{
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
        throw std::invalid_argument(std::string("Hugging Face export stores F32, F16 or BF16, not ") + dtypeName(dtype));
    const ModelConfig& c = model.config;
    c.validate(model.sourcePath);

    std::vector<Tensor> tensors;
    for (const auto& [name, t] : model.tensors) {
        if (name == "rope_freqs.weight")
            continue; // llama.cpp's form of rope_scaling, which config.json carries
        if (name == "output.weight" && c.tiedEmbeddings)
            continue;
        const auto hfName = hfFromCanonical(name);
        if (!hfName)
            throw UnsupportedModel(model.sourcePath + ": tensor '" + name + "' has no Hugging Face equivalent");
        Tensor x = convertTensor(reorderForStyle(t, name, c, RopeStyle::NeoX), dtype);
        x.name = *hfName;
        tensors.push_back(std::move(x));
    }

    fs::path target = dir;
    if (target.filename().empty())
        target = target.parent_path();
    fs::path tmp = target;
    tmp += ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    try {
        writeSafetensorsFile(tmp / "model.safetensors", tensors, {{"format", "pt"}});
        const Tokenizer* tok = model.tokenizer.get();
        std::int32_t bos = tok ? tok->bosId() : -1, eos = tok ? tok->eosId() : -1;
        writeFileAtomically(tmp / "config.json", hfConfigJson(c, torchDtypeName(dtype), bos, eos));
        if (tok) {
            const fs::path srcDir = model.sourcePath;
            const bool copyFromSource = model.sourceFormat == "hf-safetensors" &&
                                        dynamic_cast<const HfBpeTokenizer*>(tok) &&
                                        fs::exists(srcDir / "tokenizer.json");
            if (copyFromSource) {
                copyFile(srcDir / "tokenizer.json", tmp / "tokenizer.json");
                if (fs::exists(srcDir / "tokenizer_config.json"))
                    copyFile(srcDir / "tokenizer_config.json", tmp / "tokenizer_config.json");
                else
                    writeFileAtomically(tmp / "tokenizer_config.json", tokenizerConfigJson(*tok, model));
            } else {
                writeFileAtomically(tmp / "tokenizer.json", tokenizerJson(*tok));
                writeFileAtomically(tmp / "tokenizer_config.json", tokenizerConfigJson(*tok, model));
            }
        }
        // Swap the finished directory into place; an existing one is moved aside first and removed after.
        fs::path old;
        if (fs::exists(target)) {
            old = target;
            old += ".old-" + std::to_string(::getpid());
            fs::remove_all(old);
            fs::rename(target, old);
        }
        fs::rename(tmp, target);
        if (!old.empty())
            fs::remove_all(old);
    } catch (...) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw;
    }
}

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

void writeGguf(const Model& model, const fs::path& file, DType weightType, const GgufWriteOptions& options)
{
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
