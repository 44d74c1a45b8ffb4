// SentencePiece .model files (sentencepiece_model.proto, protobuf wire format), parsed by hand:
//   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
//   SentencePiece   1 piece (string), 2 score (float, fixed32), 3 type (enum: 1 NORMAL, 2 UNKNOWN, 3 CONTROL,
//                   4 USER_DEFINED, 5 UNUSED, 6 BYTE; default NORMAL)
//   TrainerSpec     3 model_type (1 UNIGRAM default, 2 BPE, 3 WORD, 4 CHAR), 24 treat_whitespace_as_suffix,
//                   35 byte_fallback, 40 unk_id (default 0), 41 bos_id (1), 42 eos_id (2), 43 pad_id (-1)
//   NormalizerSpec  1 name, 2 precompiled_charsmap (bytes), 3 add_dummy_prefix (default true),
//                   4 remove_extra_whitespaces (default true), 5 escape_whitespaces (default true)
// Wire: tag = varint (field << 3 | wire type); wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
// Unknown fields are skipped. Only BPE models with an identity normalizer become a tokenizer.
#pragma once
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bq {

struct SentencePieceModelProto {
    std::vector<SpVocabEntry> pieces;
    // TrainerSpec
    int modelType = 1; // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
    bool byteFallback = false;
    bool treatWhitespaceAsSuffix = false;
    std::int64_t unkId = 0, bosId = 1, eosId = 2, padId = -1;
    // NormalizerSpec
    std::string normalizerName = "nmt_nfkc";
    std::size_t charsmapBytes = 0; // size of precompiled_charsmap (0: no normalization table)
    bool addDummyPrefix = true;
    bool removeExtraWhitespaces = true;
    bool escapeWhitespaces = true;
};

// Parses the protobuf; throws FormatError(path, "<message>.<field>", expected, offset) on malformed or truncated
// input (never reads out of bounds).
SentencePieceModelProto parseSentencePieceModel(std::span<const std::byte> bytes, const std::string& path);

// A tokenizer from a parsed model; throws UnsupportedModel (naming the file) for non-BPE models, normalizers
// other than identity, treat_whitespace_as_suffix or escape_whitespaces = false.
std::shared_ptr<SpBpeTokenizer> makeSentencePieceTokenizer(const SentencePieceModelProto& model,
                                                           const std::string& path);

// Reads and parses a .model file (family "sentencepiece", SentencePiece's own encoding rules).
std::shared_ptr<SpBpeTokenizer> loadSentencePieceModel(const std::filesystem::path& path);

} // namespace bq
