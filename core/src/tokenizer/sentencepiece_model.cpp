#include "bq/tokenizer/sentencepiece_model.h"
#include "bq/util/errors.h"
#include "bq/util/mapped_file.h"
#include <cstring>

namespace bq {

namespace {

enum WireType : int { Varint = 0, Fixed64 = 1, Bytes = 2, Fixed32 = 5 };

// Bounds-checked protobuf reader over [pos, end) of a buffer; offsets in errors are absolute.
class WireReader {
public:
    WireReader(const unsigned char* base, std::size_t pos, std::size_t end, const std::string& path,
               std::string message)
        : m_base(base), m_pos(pos), m_end(end), m_path(path), m_message(std::move(message))
    {
    }

    bool atEnd() const noexcept { return m_pos >= m_end; }
    std::size_t pos() const noexcept { return m_pos; }

    // Reads a tag; returns the field number and sets wireType.
    std::uint32_t tag(int& wireType)
    {
        const std::size_t at = m_pos;
        const std::uint64_t t = varint("tag");
        wireType = static_cast<int>(t & 7u);
        const std::uint64_t field = t >> 3;
        if (field == 0 || field > 0x1FFFFFFFu)
            fail("tag", "a field number between 1 and 536870911", at);
        if (wireType == 3 || wireType == 4 || wireType > 5)
            fail("field " + std::to_string(field), "a supported wire type (0, 1, 2 or 5), found " +
                                                       std::to_string(wireType), at);
        return static_cast<std::uint32_t>(field);
    }

    std::uint64_t varint(const std::string& field)
    {
        const std::size_t at = m_pos;
        std::uint64_t v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (m_pos >= m_end)
                fail(field, "a complete varint before the end of the message", at);
            const unsigned char b = m_base[m_pos++];
            if (shift == 63 && (b & 0x7Eu))
                fail(field, "a varint of at most 64 bits", at);
            v |= static_cast<std::uint64_t>(b & 0x7Fu) << shift;
            if (!(b & 0x80u))
                return v;
        }
        fail(field, "a varint of at most 10 bytes", at);
    }

    // A length-delimited field: returns [start, end) and skips it.
    std::pair<std::size_t, std::size_t> bytes(const std::string& field)
    {
        const std::size_t at = m_pos;
        const std::uint64_t len = varint(field + " length");
        if (len > m_end - m_pos)
            fail(field, std::to_string(len) + " bytes inside the enclosing message (only " +
                            std::to_string(m_end - m_pos) + " left)", at);
        const std::size_t start = m_pos;
        m_pos += static_cast<std::size_t>(len);
        return {start, m_pos};
    }

    std::uint32_t fixed32(const std::string& field)
    {
        if (m_end - m_pos < 4)
            fail(field, "4 bytes before the end of the message", m_pos);
        std::uint32_t v;
        std::memcpy(&v, m_base + m_pos, 4);
        m_pos += 4;
        return v;
    }

    void skip(int wireType, const std::string& field)
    {
        switch (wireType) {
        case Varint: varint(field); break;
        case Fixed64:
            if (m_end - m_pos < 8)
                fail(field, "8 bytes before the end of the message", m_pos);
            m_pos += 8;
            break;
        case Bytes: bytes(field); break;
        case Fixed32: fixed32(field); break;
        default: fail(field, "a supported wire type", m_pos);
        }
    }

    void expectWire(int wireType, int want, const std::string& field, std::size_t at)
    {
        if (wireType != want)
            fail(field, "wire type " + std::to_string(want) + ", found " + std::to_string(wireType), at);
    }

    [[noreturn]] void fail(const std::string& field, const std::string& expected, std::size_t at) const
    {
        throw FormatError(m_path, m_message + "." + field, expected, static_cast<std::int64_t>(at));
    }

    const unsigned char* base() const noexcept { return m_base; }

private:
    const unsigned char* m_base;
    std::size_t m_pos, m_end;
    const std::string& m_path;
    std::string m_message;
};

SpVocabEntry parsePiece(const unsigned char* base, std::size_t start, std::size_t end, const std::string& path,
                        std::size_t index)
{
    WireReader r(base, start, end, path, "ModelProto.pieces[" + std::to_string(index) + "]");
    SpVocabEntry e;
    bool havePiece = false;
    while (!r.atEnd()) {
        const std::size_t at = r.pos();
        int wt = 0;
        const std::uint32_t field = r.tag(wt);
        if (field == 1) {
            r.expectWire(wt, Bytes, "piece", at);
            const auto [s, t] = r.bytes("piece");
            e.piece.assign(reinterpret_cast<const char*>(base + s), t - s);
            havePiece = true;
        } else if (field == 2) {
            r.expectWire(wt, Fixed32, "score", at);
            const std::uint32_t bits = r.fixed32("score");
            std::memcpy(&e.score, &bits, 4);
        } else if (field == 3) {
            r.expectWire(wt, Varint, "type", at);
            const std::uint64_t type = r.varint("type");
            switch (type) {
            case 1: e.kind = TokenKind::Normal; break;
            case 2: e.kind = TokenKind::Unknown; break;
            case 3: e.kind = TokenKind::Control; break;
            case 4: e.kind = TokenKind::UserDefined; break;
            case 5: e.kind = TokenKind::Unused; break;
            case 6: e.kind = TokenKind::Byte; break;
            default: r.fail("type", "1 (NORMAL) to 6 (BYTE), found " + std::to_string(type), at);
            }
        } else {
            r.skip(wt, "field " + std::to_string(field));
        }
    }
    if (!havePiece || e.piece.empty())
        r.fail("piece", "a non-empty piece string", start);
    return e;
}

void parseTrainerSpec(const unsigned char* base, std::size_t start, std::size_t end, const std::string& path,
                      SentencePieceModelProto& m)
{
    WireReader r(base, start, end, path, "ModelProto.trainer_spec");
    auto asInt32 = [](std::uint64_t v) { return static_cast<std::int64_t>(static_cast<std::int32_t>(v)); };
    while (!r.atEnd()) {
        const std::size_t at = r.pos();
        int wt = 0;
        const std::uint32_t field = r.tag(wt);
        auto readVarint = [&](const char* name) {
            r.expectWire(wt, Varint, name, at);
            return r.varint(name);
        };
        switch (field) {
        case 3: m.modelType = static_cast<int>(asInt32(readVarint("model_type"))); break;
        case 24: m.treatWhitespaceAsSuffix = readVarint("treat_whitespace_as_suffix") != 0; break;
        case 35: m.byteFallback = readVarint("byte_fallback") != 0; break;
        case 40: m.unkId = asInt32(readVarint("unk_id")); break;
        case 41: m.bosId = asInt32(readVarint("bos_id")); break;
        case 42: m.eosId = asInt32(readVarint("eos_id")); break;
        case 43: m.padId = asInt32(readVarint("pad_id")); break;
        default: r.skip(wt, "field " + std::to_string(field)); break;
        }
    }
}

void parseNormalizerSpec(const unsigned char* base, std::size_t start, std::size_t end, const std::string& path,
                         SentencePieceModelProto& m)
{
    WireReader r(base, start, end, path, "ModelProto.normalizer_spec");
    while (!r.atEnd()) {
        const std::size_t at = r.pos();
        int wt = 0;
        const std::uint32_t field = r.tag(wt);
        auto readBool = [&](const char* name) {
            r.expectWire(wt, Varint, name, at);
            return r.varint(name) != 0;
        };
        switch (field) {
        case 1: {
            r.expectWire(wt, Bytes, "name", at);
            const auto [s, t] = r.bytes("name");
            m.normalizerName.assign(reinterpret_cast<const char*>(base + s), t - s);
            break;
        }
        case 2: {
            r.expectWire(wt, Bytes, "precompiled_charsmap", at);
            const auto [s, t] = r.bytes("precompiled_charsmap");
            m.charsmapBytes = t - s;
            break;
        }
        case 3: m.addDummyPrefix = readBool("add_dummy_prefix"); break;
        case 4: m.removeExtraWhitespaces = readBool("remove_extra_whitespaces"); break;
        case 5: m.escapeWhitespaces = readBool("escape_whitespaces"); break;
        default: r.skip(wt, "field " + std::to_string(field)); break;
        }
    }
}

const char* modelTypeName(int t)
{
    switch (t) {
    case 1: return "UNIGRAM";
    case 2: return "BPE";
    case 3: return "WORD";
    case 4: return "CHAR";
    default: return "unknown";
    }
}

} // namespace

SentencePieceModelProto parseSentencePieceModel(std::span<const std::byte> bytes, const std::string& path)
{
    SentencePieceModelProto m;
    const auto* base = reinterpret_cast<const unsigned char*>(bytes.data());
    WireReader r(base, 0, bytes.size(), path, "ModelProto");
    while (!r.atEnd()) {
        const std::size_t at = r.pos();
        int wt = 0;
        const std::uint32_t field = r.tag(wt);
        if (field == 1) {
            r.expectWire(wt, Bytes, "pieces", at);
            const auto [s, e] = r.bytes("pieces[" + std::to_string(m.pieces.size()) + "]");
            m.pieces.push_back(parsePiece(base, s, e, path, m.pieces.size()));
        } else if (field == 2) {
            r.expectWire(wt, Bytes, "trainer_spec", at);
            const auto [s, e] = r.bytes("trainer_spec");
            parseTrainerSpec(base, s, e, path, m);
        } else if (field == 3) {
            r.expectWire(wt, Bytes, "normalizer_spec", at);
            const auto [s, e] = r.bytes("normalizer_spec");
            parseNormalizerSpec(base, s, e, path, m);
        } else {
            r.skip(wt, "field " + std::to_string(field));
        }
    }
    if (m.pieces.empty())
        throw FormatError(path, "ModelProto.pieces", "at least one piece (is this a SentencePiece .model file?)", 0);
    return m;
}

std::shared_ptr<SpBpeTokenizer> makeSentencePieceTokenizer(const SentencePieceModelProto& m, const std::string& path)
{
    if (m.modelType != 2)
        throw UnsupportedModel(path + ": SentencePiece model_type is " + modelTypeName(m.modelType) + " (" +
                               std::to_string(m.modelType) + "); only BPE models (2) are supported");
    // Without a precompiled table the normalizer maps every character to itself, whatever its name says.
    if (m.normalizerName != "identity" && m.charsmapBytes > 0)
        throw UnsupportedModel(path + ": SentencePiece normalizer '" + m.normalizerName + "' (a " +
                               std::to_string(m.charsmapBytes) +
                               "-byte character map) is not supported; only the 'identity' normalizer is");
    if (!m.escapeWhitespaces)
        throw UnsupportedModel(path + ": SentencePiece normalizer_spec.escape_whitespaces = false is not supported");
    if (m.treatWhitespaceAsSuffix)
        throw UnsupportedModel(path + ": SentencePiece trainer_spec.treat_whitespace_as_suffix is not supported");

    const auto n = static_cast<std::int64_t>(m.pieces.size());
    auto inRange = [n](std::int64_t id) { return id >= 0 && id < n ? static_cast<std::int32_t>(id) : -1; };
    SpBpeOptions options;
    options.addDummyPrefix = m.addDummyPrefix;
    options.removeExtraWhitespaces = m.removeExtraWhitespaces;
    options.spacesAsMetaspace = true;
    options.byteFallback = m.byteFallback;
    options.unkId = inRange(m.unkId);
    for (std::size_t i = 0; i < m.pieces.size(); ++i)
        if (m.pieces[i].kind == TokenKind::Unknown) {
            options.unkId = static_cast<std::int32_t>(i); // the UNKNOWN-typed piece is what SentencePiece uses
            break;
        }
    options.bosId = inRange(m.bosId);
    options.eosId = inRange(m.eosId);
    options.addBos = true;
    options.family = "sentencepiece";
    options.runcCompat = false;
    return std::make_shared<SpBpeTokenizer>(m.pieces, std::move(options));
}

std::shared_ptr<SpBpeTokenizer> loadSentencePieceModel(const std::filesystem::path& path)
{
    const auto file = MappedFile::open(path);
    const SentencePieceModelProto m = parseSentencePieceModel(file->bytes(), path.string());
    return makeSentencePieceTokenizer(m, path.string());
}

} // namespace bq
