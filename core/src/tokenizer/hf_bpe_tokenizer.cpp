#include "bq/tokenizer/hf_bpe_tokenizer.h"

#include "bq/tokenizer/bpe_merge_table.h"
#include "bq/tokenizer/byte_level.h"
#include "bq/tokenizer/gguf_pre_tokenizer.h"
#include "bq/tokenizer/hf_pipeline.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace bq {

namespace {

using json = nlohmann::json;

struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, std::int32_t, TransparentHash, std::equal_to<>>;
using WordCache = std::unordered_map<std::string, std::vector<std::int32_t>, TransparentHash, std::equal_to<>>;

constexpr std::size_t kCacheMaxEntries = 1 << 17;
constexpr std::size_t kCacheMaxWordBytes = 256;

struct AddedToken {
    std::int32_t id = -1;
    std::string content;
    bool special = false, lstrip = false, rstrip = false, normalized = false, singleWord = false;
};

// A run of text to tokenize (id < 0) or an added token matched in the input.
struct Segment {
    std::string_view text;
    std::int32_t id = -1;
    bool atStart = false; // begins at offset 0 of the whole input
};

// A per-token decoder rule of a decoder Sequence.
struct DecodeRule {
    enum class Kind { ByteLevel, Replace, ByteFallback } kind;
    std::shared_ptr<const Pcre2Regex> pattern;
    std::string content;
};

bool isAsciiSpace(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool isWordByte(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || u == '_';
}

std::size_t utf8CharLen(std::string_view s, std::size_t i) noexcept
{
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (i + len > s.size())
        return 1;
    for (std::size_t k = 1; k < len; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
            return 1; // invalid sequence: one byte at a time
    return len;
}

std::string byteTokenName(unsigned b)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    return buf;
}

// Strict readers that name the JSON path of whatever is wrong.
class JsonReader {
public:
    explicit JsonReader(std::string file) : m_file(std::move(file)) {}
    const std::string& file() const { return m_file; }

    [[noreturn]] void fail(const std::string& field, const std::string& expected) const
    {
        throw FormatError(m_file, field, expected);
    }
    const json& member(const json& obj, const std::string& key, const std::string& path) const
    {
        if (!obj.is_object())
            fail(path, "an object");
        auto it = obj.find(key);
        if (it == obj.end())
            fail(join(path, key), "a \"" + key + "\" member");
        return *it;
    }
    std::string string(const json& obj, const std::string& key, const std::string& path) const
    {
        const json& v = member(obj, key, path);
        if (!v.is_string())
            fail(join(path, key), "a string");
        return v.get<std::string>();
    }
    std::string stringOr(const json& obj, const std::string& key, const std::string& path, std::string def) const
    {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return def;
        if (!it->is_string())
            fail(join(path, key), "a string or null");
        return it->get<std::string>();
    }
    bool boolOr(const json& obj, const std::string& key, const std::string& path, bool def) const
    {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return def;
        if (!it->is_boolean())
            fail(join(path, key), "true or false");
        return it->get<bool>();
    }
    std::int64_t intOr(const json& obj, const std::string& key, const std::string& path, std::int64_t def) const
    {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null())
            return def;
        if (!it->is_number_integer())
            fail(join(path, key), "an integer");
        return it->get<std::int64_t>();
    }
    static std::string join(const std::string& path, const std::string& key)
    {
        return path.empty() ? key : path + "." + key;
    }
    static std::string index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

private:
    std::string m_file;
};

json parseJsonFile(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw FormatError(path.string(), "file", "a readable JSON file");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    checkJsonDepth(text, path.string(), "json"); // before any parse, copy or recursion
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(path.string(), "json", std::string("valid JSON (") + e.what() + ")",
                          static_cast<std::int64_t>(e.byte));
    }
}

} // namespace

struct HfBpeTokenizer::Impl {
    std::string source; // the file (or "GGUF") for error messages

    // Model.
    StringIdMap vocab;
    std::vector<std::string> pieces; // by id
    std::vector<TokenKind> kinds;
    std::vector<std::string> decoded; // what each non-special token decodes to (per-token decoder rules)
    std::vector<std::string> mergeStrings;
    BpeMergeTable merges;
    bool byteLevel = false, ignoreMerges = false, byteFallback = false, fuseUnk = false;
    std::int32_t unkId = -1;
    std::string continuingPrefix, endOfWordSuffix;
    std::array<std::int32_t, 256> byteCharId{};  // byte-level: the id of each byte's stand-in character
    std::array<std::int32_t, 256> byteTokenId{}; // byte fallback: the id of <0xHH>
    std::vector<std::int32_t> bmpCharId;         // SentencePiece style: the id of each one-character piece

    // Added tokens, bucketed by first byte, longest first.
    std::vector<AddedToken> added;
    std::array<std::vector<std::uint32_t>, 256> addedByFirstByte;
    bool anyRawAdded = false, anyRawSpecialAdded = false, anyNormalizedAdded = false;

    hf::Normalizer normalizer;
    hf::PreTokenizer preTokenizer;
    std::vector<DecodeRule> decodeRules;
    std::string stripContent = " ";
    std::int64_t stripStart = 0;

    std::int32_t bos = -1, eos = -1;
    bool addBos = false, addEos = false;
    std::vector<std::int32_t> stops;
    std::string preName = "default";
    std::string chatTemplate;

    mutable std::mutex cacheMutex;
    mutable WordCache cache;

    std::int32_t lookup(std::string_view piece) const
    {
        auto it = vocab.find(piece);
        return it == vocab.end() ? -1 : it->second;
    }

    void splitAdded(std::string_view text, bool atStart, bool parseSpecial, bool normalizedPass,
                    std::vector<Segment>& out) const;
    void encodeWord(std::string_view word, std::vector<std::int32_t>& out) const;
    void computeWord(std::string_view word, std::vector<std::int32_t>& ids) const;
    void finalize(const JsonReader& reader);
    void computeStops();
};

void HfBpeTokenizer::Impl::splitAdded(std::string_view text, bool atStart, bool parseSpecial, bool normalizedPass,
                                      std::vector<Segment>& out) const
{
    const bool any = normalizedPass ? anyNormalizedAdded : (anyRawAdded || (parseSpecial && anyRawSpecialAdded));
    if (!any) {
        if (!text.empty())
            out.push_back({text, -1, atStart});
        return;
    }
    std::size_t segStart = 0;
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n; ++i) {
        const auto& bucket = addedByFirstByte[static_cast<unsigned char>(text[i])];
        if (bucket.empty())
            continue;
        for (std::uint32_t k : bucket) {
            const AddedToken& t = added[k];
            if (t.normalized != normalizedPass || (t.special && !parseSpecial))
                continue;
            if (text.compare(i, t.content.size(), t.content) != 0)
                continue;
            std::size_t b = i, e = i + t.content.size();
            if (t.singleWord && ((b > 0 && isWordByte(text[b - 1])) || (e < n && isWordByte(text[e]))))
                continue;
            if (t.lstrip)
                while (b > segStart && isAsciiSpace(text[b - 1]))
                    --b;
            if (t.rstrip)
                while (e < n && isAsciiSpace(text[e]))
                    ++e;
            if (b > segStart)
                out.push_back({text.substr(segStart, b - segStart), -1, atStart && segStart == 0});
            out.push_back({text.substr(b, e - b), t.id, false});
            segStart = e;
            i = e - 1;
            break;
        }
    }
    if (segStart < n)
        out.push_back({text.substr(segStart), -1, atStart && segStart == 0});
}

// The initial symbols of tokenizers' BPE::merge_word (unknown characters fall back to <0xHH> byte tokens,
// then to the unk token, fused when fuse_unk), then the ranked merges.
void HfBpeTokenizer::Impl::computeWord(std::string_view word, std::vector<std::int32_t>& ids) const
{
    ids.clear();
    ids.reserve(word.size());
    std::int32_t pendingUnk = -1;
    const auto missing = [&](std::string_view chunk) {
        if (byteFallback) {
            bool all = true;
            for (char c : chunk)
                all = all && byteTokenId[static_cast<unsigned char>(c)] >= 0;
            if (all) {
                for (char c : chunk)
                    ids.push_back(byteTokenId[static_cast<unsigned char>(c)]);
                return;
            }
        }
        if (unkId < 0)
            return; // no unk token: the character is dropped
        if (pendingUnk >= 0 && !fuseUnk)
            ids.push_back(pendingUnk);
        pendingUnk = unkId;
    };
    const auto found = [&](std::int32_t id) {
        if (pendingUnk >= 0) {
            ids.push_back(pendingUnk);
            pendingUnk = -1;
        }
        ids.push_back(id);
    };
    const bool affixes = !continuingPrefix.empty() || !endOfWordSuffix.empty();
    std::string key;
    for (std::size_t i = 0; i < word.size();) {
        const std::size_t len = byteLevel ? 1 : utf8CharLen(word, i);
        const std::string_view ch = word.substr(i, len);
        std::int32_t id;
        if (!affixes && byteLevel) {
            id = byteCharId[static_cast<unsigned char>(word[i])];
        } else if (!affixes) {
            const auto c0 = static_cast<unsigned char>(ch[0]);
            if (len == 1 && c0 < 0x80)
                id = bmpCharId[c0];
            else if (len == 2)
                id = bmpCharId[((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(ch[1]) & 0x3Fu)];
            else if (len == 3)
                id = bmpCharId[((c0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(ch[1]) & 0x3Fu) << 6) |
                               (static_cast<unsigned char>(ch[2]) & 0x3Fu)];
            else
                id = lookup(ch); // 4-byte characters and invalid bytes
        } else {
            key = byteLevel ? byte_level::encode(ch) : std::string(ch);
            if (i > 0)
                key.insert(0, continuingPrefix);
            if (i + len == word.size())
                key += endOfWordSuffix;
            id = lookup(key);
        }
        if (id >= 0)
            found(id);
        else
            missing(ch);
        i += len;
    }
    if (pendingUnk >= 0)
        ids.push_back(pendingUnk);
    merges.mergeAll(ids);
}

void HfBpeTokenizer::Impl::encodeWord(std::string_view word, std::vector<std::int32_t>& out) const
{
    const bool cacheable = word.size() <= kCacheMaxWordBytes;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cacheMutex);
        auto it = cache.find(word);
        if (it != cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<std::int32_t> ids;
    if (ignoreMerges) { // Llama 3: a pre-token that is itself a vocabulary entry is taken whole
        const std::int32_t whole = byteLevel ? lookup(byte_level::encode(word)) : lookup(word);
        if (whole >= 0)
            ids.push_back(whole);
    }
    if (ids.empty())
        computeWord(word, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cacheMutex);
        if (cache.size() >= kCacheMaxEntries)
            cache.clear(); // bounded: a simple reset keeps memory flat on endless input
        cache.emplace(std::string(word), std::move(ids));
    }
}

// Builds the tables derived from the vocabulary, the added tokens and the decoder rules.
void HfBpeTokenizer::Impl::finalize(const JsonReader& reader)
{
    std::int32_t maxId = -1;
    for (const auto& [p, id] : vocab)
        maxId = std::max(maxId, id);
    for (const AddedToken& t : added)
        maxId = std::max(maxId, t.id);
    const auto n = static_cast<std::size_t>(maxId + 1);
    pieces.assign(n, std::string());
    std::vector<bool> present(n, false);
    if (kinds.size() != n)
        kinds.assign(n, TokenKind::Normal);
    for (const auto& [p, id] : vocab) {
        pieces[static_cast<std::size_t>(id)] = p;
        present[static_cast<std::size_t>(id)] = true;
    }
    byteTokenId.fill(-1);
    byteCharId.fill(-1);
    for (unsigned b = 0; b < 256; ++b) {
        if (byteFallback) {
            byteTokenId[b] = lookup(byteTokenName(b));
            if (byteTokenId[b] >= 0 && kinds[static_cast<std::size_t>(byteTokenId[b])] == TokenKind::Normal)
                kinds[static_cast<std::size_t>(byteTokenId[b])] = TokenKind::Byte;
        }
        if (byteLevel)
            byteCharId[b] = lookup(byte_level::encode(std::string_view(reinterpret_cast<const char*>(&b), 1)));
    }
    if (!byteLevel) {
        bmpCharId.assign(0x10000, -1);
        for (const auto& [p, id] : vocab) {
            const std::size_t len = p.empty() ? 0 : utf8CharLen(p, 0);
            if (len != p.size() || len > 3 || (len == 1 && static_cast<unsigned char>(p[0]) >= 0x80))
                continue;
            const auto c0 = static_cast<unsigned char>(p[0]);
            const std::uint32_t cp = len == 1   ? c0
                                     : len == 2 ? ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(p[1]) & 0x3Fu)
                                                : ((c0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(p[1]) & 0x3Fu) << 6) |
                                                      (static_cast<unsigned char>(p[2]) & 0x3Fu);
            bmpCharId[cp] = id;
        }
    }
    if (unkId >= 0 && static_cast<std::size_t>(unkId) < n)
        kinds[static_cast<std::size_t>(unkId)] = TokenKind::Unknown;

    // Added tokens: longest content first within each first-byte bucket (leftmost-longest matching).
    std::vector<std::uint32_t> order(added.size());
    for (std::uint32_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return added[a].content.size() > added[b].content.size(); });
    for (std::uint32_t i : order) {
        const AddedToken& t = added[i];
        if (t.content.empty())
            reader.fail("added_tokens", "non-empty token contents");
        addedByFirstByte[static_cast<unsigned char>(t.content[0])].push_back(i);
        (t.normalized ? anyNormalizedAdded : (t.special ? anyRawSpecialAdded : anyRawAdded)) = true;
        const auto id = static_cast<std::size_t>(t.id);
        pieces[id] = t.content;
        present[id] = true;
        kinds[id] = t.special ? TokenKind::Control : TokenKind::UserDefined;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!present[i])
            kinds[i] = TokenKind::Unused;

    // Per-token decoding, precomputed.
    decoded.assign(n, std::string());
    for (std::size_t i = 0; i < n; ++i) {
        if (kinds[i] == TokenKind::UserDefined) {
            decoded[i] = pieces[i]; // added tokens are written as they are, not through the byte map
            continue;
        }
        if (kinds[i] == TokenKind::Control || kinds[i] == TokenKind::Unused)
            continue;
        std::string s = pieces[i];
        for (const DecodeRule& r : decodeRules) {
            switch (r.kind) {
            case DecodeRule::Kind::ByteLevel:
                s = byte_level::decode(s);
                break;
            case DecodeRule::Kind::ByteFallback: {
                unsigned v = 0;
                if (s.size() == 6 && s.starts_with("<0x") && s[5] == '>' &&
                    std::sscanf(s.c_str() + 3, "%2x", &v) == 1 && std::isxdigit(static_cast<unsigned char>(s[3])) &&
                    std::isxdigit(static_cast<unsigned char>(s[4])))
                    s = std::string(1, static_cast<char>(v));
                break;
            }
            case DecodeRule::Kind::Replace: {
                std::string o;
                std::size_t last = 0;
                r.pattern->forEachMatch(s, [&](std::size_t b, std::size_t e) {
                    o.append(s, last, b - last);
                    o += r.content;
                    last = e;
                });
                o.append(s, last, std::string::npos);
                s = std::move(o);
                break;
            }
            }
        }
        decoded[i] = std::move(s);
    }
}

void HfBpeTokenizer::Impl::computeStops()
{
    // End-of-generation ids: eos plus the usual chat terminators present as special tokens.
    stops.clear();
    if (eos >= 0)
        stops.push_back(eos);
    for (const char* name : {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>",
                             "<end_of_turn>", "</s>"}) {
        const std::int32_t id = lookup(name);
        std::int32_t found = -1;
        for (const AddedToken& t : added)
            if (t.special && t.content == name)
                found = t.id;
        if (found < 0 && id >= 0 && kinds[static_cast<std::size_t>(id)] == TokenKind::Control)
            found = id;
        if (found >= 0 && std::find(stops.begin(), stops.end(), found) == stops.end())
            stops.push_back(found);
    }
}

namespace {

std::shared_ptr<const Pcre2Regex> compilePattern(const JsonReader& r, const json& pattern, const std::string& path)
{
    if (!pattern.is_object())
        r.fail(path, "an object {\"Regex\": ...} or {\"String\": ...}");
    try {
        if (auto it = pattern.find("Regex"); it != pattern.end() && it->is_string())
            return std::make_shared<Pcre2Regex>(it->get<std::string>());
        if (auto it = pattern.find("String"); it != pattern.end() && it->is_string())
            return std::make_shared<Pcre2Regex>(it->get<std::string>(), true);
    } catch (const std::invalid_argument& e) {
        r.fail(path + ".Regex", std::string("a regular expression PCRE2 accepts (") + e.what() + ")");
    }
    r.fail(path, "an object {\"Regex\": \"...\"} or {\"String\": \"...\"}");
}

std::string typeOf(const JsonReader& r, const json& node, const std::string& path)
{
    return r.string(node, "type", path);
}

void parseNormalizer(const JsonReader& r, const json& node, const std::string& path, hf::Normalizer& out)
{
    const std::string type = typeOf(r, node, path);
    hf::NormalizerStep step;
    if (type == "Sequence") {
        const json& list = r.member(node, "normalizers", path);
        if (!list.is_array())
            r.fail(path + ".normalizers", "an array");
        for (std::size_t i = 0; i < list.size(); ++i)
            parseNormalizer(r, list[i], JsonReader::index(path + ".normalizers", i), out);
        return;
    }
    if (type == "NFC")
        step.kind = hf::NormalizerStep::Kind::Nfc;
    else if (type == "NFD")
        step.kind = hf::NormalizerStep::Kind::Nfd;
    else if (type == "NFKC")
        step.kind = hf::NormalizerStep::Kind::Nfkc;
    else if (type == "NFKD")
        step.kind = hf::NormalizerStep::Kind::Nfkd;
    else if (type == "Lowercase")
        step.kind = hf::NormalizerStep::Kind::Lowercase;
    else if (type == "Prepend") {
        step.kind = hf::NormalizerStep::Kind::Prepend;
        step.text = r.string(node, "prepend", path);
    } else if (type == "Replace") {
        step.kind = hf::NormalizerStep::Kind::Replace;
        step.pattern = compilePattern(r, r.member(node, "pattern", path), path + ".pattern");
        step.text = r.string(node, "content", path);
    } else {
        r.fail(path + ".type", "a supported normalizer (NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Sequence), "
                               "not \"" + type + "\"");
    }
    out.add(std::move(step));
}

void parsePreTokenizer(const JsonReader& r, const json& node, const std::string& path, hf::PreTokenizer& out,
                       bool& byteLevel)
{
    const std::string type = typeOf(r, node, path);
    hf::PreTokenizerStep step;
    if (type == "Sequence") {
        const json& list = r.member(node, "pretokenizers", path);
        if (!list.is_array())
            r.fail(path + ".pretokenizers", "an array");
        for (std::size_t i = 0; i < list.size(); ++i)
            parsePreTokenizer(r, list[i], JsonReader::index(path + ".pretokenizers", i), out, byteLevel);
        return;
    }
    if (type == "Split") {
        step.kind = hf::PreTokenizerStep::Kind::Split;
        step.pattern = compilePattern(r, r.member(node, "pattern", path), path + ".pattern");
        const std::string behavior = r.string(node, "behavior", path);
        if (behavior == "Isolated")
            step.behavior = hf::SplitBehavior::Isolated;
        else if (behavior == "Removed")
            step.behavior = hf::SplitBehavior::Removed;
        else if (behavior == "MergedWithPrevious")
            step.behavior = hf::SplitBehavior::MergedWithPrevious;
        else if (behavior == "MergedWithNext")
            step.behavior = hf::SplitBehavior::MergedWithNext;
        else if (behavior == "Contiguous")
            step.behavior = hf::SplitBehavior::Contiguous;
        else
            r.fail(path + ".behavior", "Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous, not \"" +
                                           behavior + "\"");
        step.invert = r.boolOr(node, "invert", path, false);
    } else if (type == "Digits") {
        step.kind = hf::PreTokenizerStep::Kind::Split;
        step.pattern = std::make_shared<Pcre2Regex>(hf::kDigitPattern);
        step.behavior = r.boolOr(node, "individual_digits", path, false) ? hf::SplitBehavior::Isolated
                                                                          : hf::SplitBehavior::Contiguous;
    } else if (type == "ByteLevel") {
        step.kind = hf::PreTokenizerStep::Kind::ByteLevel;
        step.addPrefixSpace = r.boolOr(node, "add_prefix_space", path, true);
        if (r.boolOr(node, "use_regex", path, true))
            step.pattern = std::make_shared<Pcre2Regex>(hf::kGpt2Pattern);
        byteLevel = true;
    } else if (type == "Metaspace") {
        step.kind = hf::PreTokenizerStep::Kind::Metaspace;
        step.replacement = r.stringOr(node, "replacement", path, "\xE2\x96\x81");
        if (step.replacement.empty())
            r.fail(path + ".replacement", "a non-empty replacement character");
        std::string scheme = r.stringOr(node, "prepend_scheme", path, "");
        if (scheme.empty())
            scheme = r.boolOr(node, "add_prefix_space", path, true) ? "always" : "never";
        if (scheme == "always")
            step.prepend = hf::PreTokenizerStep::Prepend::Always;
        else if (scheme == "first")
            step.prepend = hf::PreTokenizerStep::Prepend::First;
        else if (scheme == "never")
            step.prepend = hf::PreTokenizerStep::Prepend::Never;
        else
            r.fail(path + ".prepend_scheme", "\"always\", \"first\" or \"never\", not \"" + scheme + "\"");
        step.split = r.boolOr(node, "split", path, true);
        step.pattern = std::make_shared<Pcre2Regex>(step.replacement, true);
    } else {
        r.fail(path + ".type", "a supported pre-tokenizer (Split, Digits, ByteLevel, Metaspace, Sequence), not \"" + type + "\"");
    }
    out.add(std::move(step));
}

void parseDecoder(const JsonReader& r, const json& node, const std::string& path, HfBpeTokenizer::Impl& m)
{
    const std::string type = typeOf(r, node, path);
    if (type == "Sequence") {
        const json& list = r.member(node, "decoders", path);
        if (!list.is_array())
            r.fail(path + ".decoders", "an array");
        for (std::size_t i = 0; i < list.size(); ++i)
            parseDecoder(r, list[i], JsonReader::index(path + ".decoders", i), m);
    } else if (type == "ByteLevel") {
        m.decodeRules.push_back({DecodeRule::Kind::ByteLevel, nullptr, {}});
    } else if (type == "ByteFallback") {
        m.decodeRules.push_back({DecodeRule::Kind::ByteFallback, nullptr, {}});
    } else if (type == "Replace") {
        m.decodeRules.push_back({DecodeRule::Kind::Replace,
                                 compilePattern(r, r.member(node, "pattern", path), path + ".pattern"),
                                 r.string(node, "content", path)});
    } else if (type == "Fuse") {
        // Joins the tokens into one string: a no-op for per-token decoding.
    } else if (type == "Strip") {
        // After Fuse this strips the start of the whole text; the stop side cannot apply to a stream.
        m.stripContent = r.string(node, "content", path);
        m.stripStart = r.intOr(node, "start", path, 0);
    } else if (type == "Metaspace") {
        const std::string rep = r.stringOr(node, "replacement", path, "\xE2\x96\x81");
        m.decodeRules.push_back({DecodeRule::Kind::Replace, std::make_shared<Pcre2Regex>(rep, true), " "});
        std::string scheme = r.stringOr(node, "prepend_scheme", path, "");
        if (scheme.empty())
            scheme = r.boolOr(node, "add_prefix_space", path, true) ? "always" : "never";
        if (scheme != "never") {
            m.stripContent = " ";
            m.stripStart = 1;
        }
    } else {
        r.fail(path + ".type", "a supported decoder (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
                               "Sequence), not \"" + type + "\"");
    }
}

std::int32_t idOfToken(const HfBpeTokenizer::Impl& m, const std::string& content)
{
    for (const AddedToken& t : m.added)
        if (t.content == content)
            return t.id;
    return m.lookup(content);
}

// bos_token / eos_token in tokenizer_config.json: a string, {"content": ...}, or null.
bool configToken(const JsonReader& r, const json& cfg, const char* key, std::string& content)
{
    auto it = cfg.find(key);
    if (it == cfg.end())
        return false;
    if (it->is_null()) {
        content.clear();
        return true;
    }
    if (it->is_string()) {
        content = it->get<std::string>();
        return true;
    }
    if (it->is_object()) {
        content = r.string(*it, "content", key);
        return true;
    }
    r.fail(key, "a string, an object with \"content\", or null");
}

// The first SpecialToken of a TemplateProcessing "single" template (what the Rust library prepends), or "".
std::string templateBos(const json& post)
{
    if (!post.is_object())
        return {};
    const std::string type = post.value("type", "");
    if (type == "Sequence" && post.contains("processors") && post["processors"].is_array()) {
        for (const json& p : post["processors"])
            if (std::string s = templateBos(p); !s.empty())
                return s;
        return {};
    }
    if (type != "TemplateProcessing" || !post.contains("single") || !post["single"].is_array() ||
        post["single"].empty())
        return {};
    const json& first = post["single"][0];
    if (first.is_object() && first.contains("SpecialToken") && first["SpecialToken"].is_object() &&
        first["SpecialToken"].contains("id") && first["SpecialToken"]["id"].is_string())
        return first["SpecialToken"]["id"].get<std::string>();
    return {};
}

std::string namedPreTokenizer(const hf::PreTokenizer& pre)
{
    // Isolated Splits then ByteLevel without its regex: the pipeline of most GGUF names (deepseek-llm, tekken, ...).
    std::vector<std::string> splits;
    const auto& steps = pre.steps();
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const hf::PreTokenizerStep& s = steps[i];
        const bool isolatedSplit = s.kind == hf::PreTokenizerStep::Kind::Split && s.pattern && !s.pattern->literal() &&
                                   s.behavior == hf::SplitBehavior::Isolated && !s.invert;
        const bool lastByteLevel = s.kind == hf::PreTokenizerStep::Kind::ByteLevel && !s.pattern && i + 1 == steps.size();
        if (isolatedSplit)
            splits.push_back(s.pattern->pattern());
        else if (!lastByteLevel)
            break;
        if (lastByteLevel && !splits.empty())
            if (auto name = ggufPreTokenizerForSplits(splits))
                return *name;
    }
    bool eachDigit = false; // a Digits(individual_digits) step came first: SmolLM's Sequence
    for (const hf::PreTokenizerStep& s : pre.steps()) {
        if (s.kind == hf::PreTokenizerStep::Kind::Split && s.pattern && !s.pattern->literal()) {
            if (s.pattern->pattern() == hf::kDigitPattern && s.behavior == hf::SplitBehavior::Isolated && !s.invert) {
                eachDigit = true;
                continue;
            }
            if (s.pattern->pattern() == hf::kLlama3Pattern)
                return eachDigit ? "default" : "llama-bpe";
            if (s.pattern->pattern() == hf::kQwen2Pattern)
                return eachDigit ? "default" : "qwen2";
            if (s.pattern->pattern() == hf::kGpt2Pattern)
                return eachDigit ? "smollm" : "gpt-2";
            return "default";
        }
        if (s.kind == hf::PreTokenizerStep::Kind::ByteLevel && s.pattern)
            return eachDigit ? "smollm" : "gpt-2";
    }
    return "default";
}

} // namespace

std::shared_ptr<HfBpeTokenizer> HfBpeTokenizer::fromJsonFile(const std::filesystem::path& tokenizerJson)
{
    const json root = parseJsonFile(tokenizerJson);
    const JsonReader r(tokenizerJson.string());
    auto m = std::make_unique<Impl>();
    m->source = tokenizerJson.string();
    if (!root.is_object())
        r.fail("(root)", "a JSON object");
    // Token ids size the tables (one entry per id up to the largest): an id must be below the vocabulary cap
    // and below the file's size in bytes (every id costs the file several bytes).
    const std::int64_t idLimit =
        std::min<std::int64_t>(limits::kMaxVocab, static_cast<std::int64_t>(std::filesystem::file_size(tokenizerJson)));
    const std::string idExpected = "a non-negative integer id below " + std::to_string(idLimit) +
                                   " (the vocabulary cap " + std::to_string(limits::kMaxVocab) +
                                   " and the file size)";

    // model
    const json& model = r.member(root, "model", "");
    if (!model.is_object())
        r.fail("model", "an object");
    const std::string modelType = r.stringOr(model, "type", "model", "BPE");
    if (modelType != "BPE")
        r.fail("model.type", "\"BPE\" (the only model type supported; got \"" + modelType + "\")");
    const json& vocab = r.member(model, "vocab", "model");
    if (!vocab.is_object())
        r.fail("model.vocab", "an object mapping pieces to ids");
    m->vocab.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer() || it.value().get<std::int64_t>() < 0 ||
            it.value().get<std::int64_t>() >= idLimit)
            r.fail("model.vocab[\"" + it.key() + "\"]", idExpected);
        m->vocab.emplace(it.key(), static_cast<std::int32_t>(it.value().get<std::int64_t>()));
    }
    m->byteFallback = r.boolOr(model, "byte_fallback", "model", false);
    m->fuseUnk = r.boolOr(model, "fuse_unk", "model", false);
    m->ignoreMerges = r.boolOr(model, "ignore_merges", "model", false);
    m->continuingPrefix = r.stringOr(model, "continuing_subword_prefix", "model", "");
    m->endOfWordSuffix = r.stringOr(model, "end_of_word_suffix", "model", "");
    if (const std::string unk = r.stringOr(model, "unk_token", "model", ""); !unk.empty()) {
        m->unkId = m->lookup(unk);
        if (m->unkId < 0)
            r.fail("model.unk_token", "a piece present in model.vocab (\"" + unk + "\" is not)");
    }

    const json& merges = r.member(model, "merges", "model");
    if (!merges.is_array())
        r.fail("model.merges", "an array of \"a b\" strings or [a, b] pairs");
    m->merges.reserve(merges.size());
    m->mergeStrings.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
        const json& e = merges[i];
        std::string a, b;
        if (e.is_string()) {
            const std::string s = e.get<std::string>();
            const std::size_t sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                r.fail(JsonReader::index("model.merges", i), "\"a b\" with exactly one space");
            a = s.substr(0, sp);
            b = s.substr(sp + 1);
        } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
            a = e[0].get<std::string>();
            b = e[1].get<std::string>();
        } else {
            r.fail(JsonReader::index("model.merges", i), "an \"a b\" string or an [a, b] pair of strings");
        }
        const std::int32_t ia = m->lookup(a), ib = m->lookup(b);
        if (ia < 0 || ib < 0)
            r.fail(JsonReader::index("model.merges", i), "pieces present in model.vocab (\"" + (ia < 0 ? a : b) +
                                                             "\" is not)");
        std::string joined = a;
        joined += (!m->continuingPrefix.empty() && b.starts_with(m->continuingPrefix))
                      ? b.substr(m->continuingPrefix.size())
                      : b;
        const std::int32_t im = m->lookup(joined);
        if (im < 0)
            r.fail(JsonReader::index("model.merges", i), "a merge whose result is in model.vocab (\"" + joined +
                                                             "\" is not)");
        m->merges.set(ia, ib, static_cast<std::int32_t>(i), im);
        m->mergeStrings.push_back(a + " " + b);
    }

    // added_tokens
    if (auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
        if (!it->is_array())
            r.fail("added_tokens", "an array");
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& t = (*it)[i];
            const std::string path = JsonReader::index("added_tokens", i);
            AddedToken a;
            const std::int64_t id = r.intOr(t, "id", path, -1);
            if (id < 0 || id >= idLimit)
                r.fail(path + ".id", idExpected);
            a.id = static_cast<std::int32_t>(id);
            a.content = r.string(t, "content", path);
            if (a.content.empty())
                r.fail(path + ".content", "a non-empty string");
            a.special = r.boolOr(t, "special", path, false);
            a.lstrip = r.boolOr(t, "lstrip", path, false);
            a.rstrip = r.boolOr(t, "rstrip", path, false);
            a.normalized = r.boolOr(t, "normalized", path, !a.special);
            a.singleWord = r.boolOr(t, "single_word", path, false);
            m->added.push_back(std::move(a));
        }
    }

    // normalizer, pre_tokenizer, decoder
    if (auto it = root.find("normalizer"); it != root.end() && !it->is_null())
        parseNormalizer(r, *it, "normalizer", m->normalizer);
    if (auto it = root.find("pre_tokenizer"); it != root.end() && !it->is_null())
        parsePreTokenizer(r, *it, "pre_tokenizer", m->preTokenizer, m->byteLevel);
    if (auto it = root.find("decoder"); it != root.end() && !it->is_null())
        parseDecoder(r, *it, "decoder", *m);
    if (!m->byteLevel)
        for (const DecodeRule& d : m->decodeRules)
            m->byteLevel = m->byteLevel || d.kind == DecodeRule::Kind::ByteLevel;
    m->preName = m->byteLevel ? namedPreTokenizer(m->preTokenizer) : "default";

    m->finalize(r);

    // tokenizer_config.json: bos/eos, add_bos_token/add_eos_token, chat_template.
    const std::string tplBos = templateBos(root.value("post_processor", json()));
    std::string bosName = tplBos, eosName;
    bool haveBos = !tplBos.empty(), haveEos = false;
    std::optional<bool> addBos, addEos;
    const std::filesystem::path cfgPath = tokenizerJson.parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfgPath)) {
        const json cfg = parseJsonFile(cfgPath);
        const JsonReader cr(cfgPath.string());
        if (!cfg.is_object())
            cr.fail("(root)", "a JSON object");
        haveBos = configToken(cr, cfg, "bos_token", bosName) || haveBos;
        haveEos = configToken(cr, cfg, "eos_token", eosName);
        if (cfg.contains("add_bos_token") && !cfg["add_bos_token"].is_null())
            addBos = cr.boolOr(cfg, "add_bos_token", "", false);
        if (cfg.contains("add_eos_token") && !cfg["add_eos_token"].is_null())
            addEos = cr.boolOr(cfg, "add_eos_token", "", false);
        if (auto it = cfg.find("chat_template"); it != cfg.end()) {
            if (it->is_string()) {
                m->chatTemplate = it->get<std::string>();
            } else if (it->is_array()) { // [{name, template}]: keep "default", else the first
                for (std::size_t i = 0; i < it->size(); ++i) {
                    const json& e = (*it)[i];
                    const std::string path = JsonReader::index("chat_template", i);
                    const std::string tpl = cr.string(e, "template", path);
                    if (m->chatTemplate.empty() || cr.stringOr(e, "name", path, "") == "default")
                        m->chatTemplate = tpl;
                }
            } else if (!it->is_null()) {
                cr.fail("chat_template", "a string or a list of {name, template}");
            }
        }
    }
    if (!haveBos)
        for (const char* name : {"<s>", "<|begin_of_text|>"})
            if (bosName.empty() && idOfToken(*m, name) >= 0)
                bosName = name;
    if (!haveEos)
        for (const char* name : {"</s>", "<|end_of_text|>", "<|endoftext|>"})
            if (eosName.empty() && idOfToken(*m, name) >= 0)
                eosName = name;
    m->bos = bosName.empty() ? -1 : idOfToken(*m, bosName);
    m->eos = eosName.empty() ? -1 : idOfToken(*m, eosName);
    // Without add_bos_token the model gets BOS when the file names one (the post-processor template or
    // bos_token): what transformers' Llama 3 template does and what llama.cpp does for llama-bpe.
    m->addBos = m->bos >= 0 && addBos.value_or(true);
    m->addEos = m->eos >= 0 && addEos.value_or(false);
    m->computeStops();
    return std::shared_ptr<HfBpeTokenizer>(new HfBpeTokenizer(std::move(m)));
}

std::shared_ptr<HfBpeTokenizer> HfBpeTokenizer::fromGguf(std::vector<std::string> tokens,
                                                         std::vector<std::int32_t> types,
                                                         std::vector<std::string> merges, const std::string& pre,
                                                         std::int32_t bosId, std::int32_t eosId, bool addBos,
                                                         const std::string& sourcePath)
{
    const JsonReader r(sourcePath);
    auto m = std::make_unique<Impl>();
    m->source = sourcePath;
    m->byteLevel = true;
    if (!types.empty() && types.size() != tokens.size())
        r.fail("tokenizer.ggml.token_type", "one type per token (" + std::to_string(tokens.size()) + ")");
    const auto n = static_cast<std::int32_t>(tokens.size());
    m->vocab.reserve(tokens.size());
    m->kinds.assign(tokens.size(), TokenKind::Normal);
    for (std::int32_t i = 0; i < n; ++i) {
        const std::string& t = tokens[static_cast<std::size_t>(i)];
        const std::int32_t type = types.empty() ? 1 : types[static_cast<std::size_t>(i)];
        switch (type) {
        case 2:
            m->unkId = i;
            m->vocab.emplace(t, i);
            break;
        case 3:
        case 4:
            if (t.empty())
                r.fail("tokenizer.ggml.tokens[" + std::to_string(i) + "]", "a non-empty special token");
            m->added.push_back({i, t, type == 3, false, false, false, false});
            m->vocab.emplace(t, i);
            break;
        case 5:
            m->kinds[static_cast<std::size_t>(i)] = TokenKind::Unused;
            m->vocab.emplace(t, i);
            break;
        default:
            m->vocab.emplace(t, i); // the first id wins for duplicated pieces
            break;
        }
    }
    const std::optional<GgufPreTokenizer> named = ggufPreTokenizer(pre);
    if (!named)
        r.fail("tokenizer.ggml.pre", "one of " + ggufPreTokenizerNames() + " (got \"" + pre + "\")");
    GgufPipeline pipeline = ggufPipeline(*named);
    m->normalizer = std::move(pipeline.normalizer);
    m->preTokenizer = std::move(pipeline.preTokenizer);
    m->ignoreMerges = named->ignoreMerges;
    m->preName = named->name;
    m->decodeRules.push_back({DecodeRule::Kind::ByteLevel, nullptr, {}});

    m->merges.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
        const std::string& s = merges[i];
        const std::size_t sp = s.find(' ', 1); // a piece may itself begin with a space in odd vocabularies
        if (sp == std::string::npos)
            r.fail("tokenizer.ggml.merges[" + std::to_string(i) + "]", "\"a b\"");
        const std::int32_t ia = m->lookup(std::string_view(s).substr(0, sp));
        const std::int32_t ib = m->lookup(std::string_view(s).substr(sp + 1));
        const std::int32_t im = m->lookup(s.substr(0, sp) + s.substr(sp + 1));
        if (ia < 0 || ib < 0 || im < 0)
            r.fail("tokenizer.ggml.merges[" + std::to_string(i) + "]", "pieces (and their join) in tokenizer.ggml.tokens");
        m->merges.set(ia, ib, static_cast<std::int32_t>(i), im);
    }
    m->mergeStrings = std::move(merges);
    if (bosId >= n || eosId >= n)
        r.fail(bosId >= n ? "tokenizer.ggml.bos_token_id" : "tokenizer.ggml.eos_token_id", "an id below the vocabulary size");
    m->bos = bosId;
    m->eos = eosId;
    m->addBos = addBos && bosId >= 0;
    m->finalize(r);
    m->computeStops();
    return std::shared_ptr<HfBpeTokenizer>(new HfBpeTokenizer(std::move(m)));
}

HfBpeTokenizer::HfBpeTokenizer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
HfBpeTokenizer::~HfBpeTokenizer() = default;

std::vector<std::int32_t> HfBpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const
{
    const Impl& m = *m_impl;
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (options.addBos && m.bos >= 0)
        out.push_back(m.bos);

    std::vector<Segment> segments, inner;
    std::vector<std::string_view> words;
    std::deque<std::string> arena;
    m.splitAdded(text, true, options.parseSpecial, false, segments);
    for (const Segment& seg : segments) {
        if (seg.id >= 0) {
            out.push_back(seg.id);
            continue;
        }
        // Each run between added tokens is normalized on its own, as the Rust AddedVocabulary does.
        std::string normalized;
        std::string_view view = seg.text;
        if (!m.normalizer.empty()) {
            normalized = m.normalizer.run(seg.text);
            view = normalized;
        }
        inner.clear();
        m.splitAdded(view, seg.atStart, options.parseSpecial, true, inner);
        for (const Segment& sub : inner) {
            if (sub.id >= 0) {
                out.push_back(sub.id);
                continue;
            }
            words.clear();
            arena.clear();
            if (m.preTokenizer.empty())
                words.push_back(sub.text); // SentencePiece style: the whole run is one word
            else
                m.preTokenizer.run(sub.text, sub.atStart, words, arena);
            for (std::string_view w : words)
                m.encodeWord(w, out);
        }
    }
    if (options.addEos && m.eos >= 0)
        out.push_back(m.eos);
    return out;
}

std::string HfBpeTokenizer::decodeToken(std::int32_t prev, std::int32_t id, bool includeSpecial) const
{
    const Impl& m = *m_impl;
    if (id < 0 || static_cast<std::size_t>(id) >= m.pieces.size())
        return {};
    const auto i = static_cast<std::size_t>(id);
    if (m.kinds[i] == TokenKind::Control || m.kinds[i] == TokenKind::Unused)
        return includeSpecial ? m.pieces[i] : std::string();
    std::string_view s = m.decoded[i];
    // The Strip decoder (SentencePiece style) drops the leading space the normalizer prepended.
    if (m.stripStart > 0 && !m.stripContent.empty() && (prev < 0 || prev == m.bos)) {
        for (std::int64_t k = 0; k < m.stripStart && s.starts_with(m.stripContent); ++k)
            s.remove_prefix(m.stripContent.size());
    }
    return std::string(s);
}

std::int32_t HfBpeTokenizer::vocabSize() const
{
    return static_cast<std::int32_t>(m_impl->pieces.size());
}

std::string HfBpeTokenizer::piece(std::int32_t id) const
{
    if (id < 0 || static_cast<std::size_t>(id) >= m_impl->pieces.size())
        return {};
    return m_impl->pieces[static_cast<std::size_t>(id)];
}

TokenKind HfBpeTokenizer::kind(std::int32_t id) const
{
    if (id < 0 || static_cast<std::size_t>(id) >= m_impl->kinds.size())
        return TokenKind::Unused;
    return m_impl->kinds[static_cast<std::size_t>(id)];
}

std::int32_t HfBpeTokenizer::bosId() const { return m_impl->bos; }
std::int32_t HfBpeTokenizer::eosId() const { return m_impl->eos; }
std::vector<std::int32_t> HfBpeTokenizer::stopIds() const { return m_impl->stops; }
bool HfBpeTokenizer::addsBosByDefault() const { return m_impl->addBos; }

std::int32_t HfBpeTokenizer::findPiece(std::string_view piece) const
{
    const std::int32_t id = m_impl->lookup(piece);
    if (id >= 0)
        return id;
    for (const AddedToken& t : m_impl->added)
        if (t.content == piece)
            return t.id;
    return -1;
}

std::string HfBpeTokenizer::family() const
{
    return m_impl->byteLevel ? "bpe-byte-level" : "bpe-sentencepiece";
}

const std::vector<std::string>& HfBpeTokenizer::merges() const { return m_impl->mergeStrings; }
std::string HfBpeTokenizer::preTokenizerName() const { return m_impl->preName; }
bool HfBpeTokenizer::isByteLevel() const { return m_impl->byteLevel; }
const std::string& HfBpeTokenizer::chatTemplate() const { return m_impl->chatTemplate; }

} // namespace bq
