// tokenizer.json synthesis for the Hugging Face writer (and the SentencePiece-form vocabulary the GGUF writer
// shares with it).
//
// SentencePiece-style vocabularies (llama2.c, SentencePiece, GGUF "llama") become a tokenizer.json BPE model
// with byte_fallback, normalizer Prepend("▁") + Replace(" " -> "▁"), decoder Replace/ByteFallback/Fuse/Strip,
// and merges derived from the scores as HF's SentencePieceExtractor does: every split of a piece into two
// in-vocabulary pieces, ordered by the merged piece's score (highest first, ties in vocabulary order).
// Byte-level BPE vocabularies are written with their merges and pre-tokenizer (Llama 3 and Qwen2 split regexes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bq {

class Tokenizer;
struct Model;

// llama2c, sentencepiece and bpe-sentencepiece families: pieces use "▁" for spaces and have scores.
bool isSentencePieceStyle(const Tokenizer& tok);
// Every piece in SentencePiece form (llama2.c's ' ' as "▁", bytes as "<0xAB>", control pieces trimmed).
std::vector<std::string> spPieces(const Tokenizer& tok);

// The text of tokenizer.json and tokenizer_config.json (model supplies the context length and chat template).
std::string tokenizerJson(const Tokenizer& tok);
std::string tokenizerConfigJson(const Tokenizer& tok, const Model& model);

// The score-derived merges of a SentencePiece-style vocabulary (pieces in "▁" form), as "left right".
std::vector<std::string> mergesFromScores(const std::vector<std::string>& pieces, const std::vector<float>& scores);

} // namespace bq
