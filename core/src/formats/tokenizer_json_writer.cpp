#include "bq/formats/tokenizer_json_writer.h"
#include "bq/model/model.h"
#include "bq/tokenizer/gguf_pre_tokenizer.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/errors.h"
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace bq {

using ojson = nlohmann::ordered_json;

namespace {

std::string jsonText(const ojson& j) { return j.dump(2, ' ', false) + "\n"; }

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

} // namespace

bool isSentencePieceStyle(const Tokenizer& tok)
{
    const std::string f = tok.family();
    return f == "llama2c" || f == "sentencepiece" || f == "bpe-sentencepiece";
}

std::vector<std::string> spPieces(const Tokenizer& tok)
{
    std::vector<std::string> pieces(static_cast<std::size_t>(tok.vocabSize()));
    for (std::int32_t i = 0; i < tok.vocabSize(); ++i)
        pieces[static_cast<std::size_t>(i)] = spPiece(tok, i);
    return pieces;
}

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
    bool ignoreMerges = false; // the BPE model's ignore_merges (tekken, as llama.cpp)
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
        } else if (pre == "smollm") {
            byteLevel["use_regex"] = true;
            j["normalizer"] = nullptr;
            const ojson digits{{"type", "Digits"}, {"individual_digits", true}};
            j["pre_tokenizer"] = ojson{{"type", "Sequence"}, {"pretokenizers", ojson::array({digits, byteLevel})}};
        } else if (const auto named = ggufPreTokenizer(pre); named && pre != "gpt-2" && pre != "default") {
            // The other GGUF names (deepseek-llm, tekken, gpt-4o, ...): their Split regexes, as in their tokenizer.json.
            byteLevel["use_regex"] = false;
            ojson steps = ojson::array();
            for (const std::string& regex : named->splits)
                steps.push_back(ojson{{"type", "Split"}, {"pattern", ojson{{"Regex", regex}}}, {"behavior", "Isolated"},
                                      {"invert", false}});
            steps.push_back(byteLevel);
            j["normalizer"] = named->nfc ? ojson{{"type", "NFC"}} : ojson();
            j["pre_tokenizer"] = ojson{{"type", "Sequence"}, {"pretokenizers", steps}};
            ignoreMerges = named->ignoreMerges;
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
    model["ignore_merges"] = ignoreMerges;
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

} // namespace bq
