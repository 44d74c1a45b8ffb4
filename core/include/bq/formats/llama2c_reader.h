// llama2.c checkpoints (karpathy/llama2.c export.py, run.c, runq.c). All little-endian.
//
// Config: 7 × int32 = dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len.
// head_size = dim / n_heads, kv_dim = n_kv_heads · head_size. Matrices are [out][in], row-major.
//
// legacy v0 (no magic), fp32:
//   [0]  Config (28 bytes; vocab_size < 0 means the classifier is not shared, |vocab_size| is the vocab)
//   [28] token_embedding [vocab][dim], rms_att ×L [dim], wq ×L [dim][dim], wk ×L [kv_dim][dim],
//        wv ×L [kv_dim][dim], wo ×L [dim][dim], rms_ffn ×L [dim], w1 ×L [hidden][dim], w2 ×L [dim][hidden],
//        w3 ×L [hidden][dim], rms_final [dim], freq_cis_real + freq_cis_imag (2 × seq_len·head_size/2, skipped),
//        wcls [vocab][dim] when not shared
// version 1, fp32:
//   [0] uint32 magic 0x616b3432 ("ak42" read as a little-endian uint32; bytes 32 34 6b 61), [4] int32 version 1,
//   [8] Config, [36] uint8 shared_classifier, zeros up to [256]
//   [256] rms_att ×L, rms_ffn ×L, rms_final, token_embedding, wq ×L, wk ×L, wv ×L, wo ×L, w1 ×L, w2 ×L, w3 ×L,
//         wcls when not shared
// version 2, int8 groups (runq.c):
//   [0] magic, [4] int32 version 2, [8] Config, [36] uint8 shared_classifier, [37] int32 group_size, zeros to 256
//   [256] fp32 rms_att ×L, rms_ffn ×L, rms_final; then for each of token_embedding, wq ×L, wk ×L, wv ×L, wo ×L,
//         w1 ×L, w2 ×L, w3 ×L, wcls (when not shared), tensor by tensor: int8 q[numel] followed by
//         fp32 scale[numel / group_size] (w = q · scale of its group of group_size consecutive flat values).
// The file size must match the header exactly; v0/v1 tensors are zero-copy views into the mapping, v2 tensors
// are dequantized to owned F32 at load.
#pragma once
#include "bq/model/model.h"
#include <filesystem>
#include <memory>

namespace bq {

// True when the file starts with the "ak42" magic (versions 1/2) or is a legacy v0 file whose size matches its
// header exactly. Never throws.
bool looksLikeLlama2c(const std::filesystem::path& path) noexcept;

// The tokenizer a checkpoint uses: tokenizerPath when given (FormatError if it does not exist), else
// "tokenizer.bin" next to the checkpoint, else "tok<vocabSize>.bin" next to it; empty when none exists.
std::filesystem::path findLlama2cTokenizer(const std::filesystem::path& checkpoint,
                                           const std::filesystem::path& tokenizerPath, int vocabSize);

// Loads a v0/v1/v2 checkpoint under canonical tensor names. The tokenizer (llama2.c tokenizer.bin; a
// SentencePiece .model or a tokenizer.json when tokenizerPath ends so) is attached when found; when none is found and
// requireTokenizer is set, throws FormatError. Throws FormatError naming the file, the header field and the
// expected value for a wrong magic/version, absurd header values or a size that does not match the header.
std::shared_ptr<Model> loadLlama2cModel(const std::filesystem::path& checkpoint,
                                        const std::filesystem::path& tokenizerPath = {},
                                        bool requireTokenizer = true);

} // namespace bq
