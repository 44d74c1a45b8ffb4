// Writers from any loaded Model to Hugging Face directories (hf_writer.cpp) and GGUF files
// (gguf_model_writer.cpp), and the tensor conversions they share (convert.cpp).
//
// writeHfDirectory: config.json, model.safetensors, tokenizer.json, tokenizer_config.json (and the marker
// .bitstudio-output), written into a temporary sibling directory and swapped into place by
// writeOutputDirectory (util/output_path.h): an existing directory that is not a previous bitstudio output, or a
// file, is refused (OutputRefused) unless options.force; a failed swap restores the original.
// Interleaved-RoPE models (llama2.c, GGUF llama) get their q/k rows
// (and q/k biases and norms) permuted back to HF's rotate-half order per head — HF row i <- row 2i,
// HF row i + hd/2 <- row 2i+1 — so the HF model computes the same function. The tokenizer files are
// synthesized (tokenizer_json_writer.h), or copied from the source directory when it has a byte-level BPE
// tokenizer.json.
//
// writeGguf: architecture, tokenizer and bitstudio keys (gguf_model.h lists what is read back); llama/mistral
// are written as GGUF "llama" with q/k rows in interleaved order (permuted when the model is NeoX), qwen2/qwen3
// in rotate-half order. Matrices are stored as weightType (F32, F16 or Q8_0; Q8_0 falls back to F16 for rows
// whose length is not a multiple of 32), 1-D tensors as F32. A tensor already stored in weightType is copied
// byte for byte. llama3 rope scaling adds llama.cpp's rope_freqs.weight tensor.
#pragma once
#include "bq/formats/gguf_file.h"
#include "bq/model/model.h"
#include "bq/model/tensor.h"
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bq {

struct HfWriteOptions {
    bool force = false; // replace whatever is at dir (never silently: the CLI's --force)
    // More files written into the directory before it is swapped into place (name, contents).
    std::vector<std::pair<std::string, std::string>> extraFiles;
};
// dtype: F32, F16 or BF16 for every tensor.
void writeHfDirectory(const Model& model, const std::filesystem::path& dir, DType dtype = DType::F32,
                      const HfWriteOptions& options = {});

struct GgufWriteOptions {
    std::uint32_t alignment = 64;
    std::string name; // general.name; default: the source file or directory name
    // Exporters (export/export_gguf.h): replaces the default conversion of a tensor. Called for every tensor
    // with its canonical name and, per written row, the source row it comes from (RoPE reordering; empty when
    // the rows keep their order); returns the tensors to write instead, or nullopt for the default conversion.
    std::function<std::optional<std::vector<Tensor>>(const std::string& name,
                                                     const std::vector<std::int64_t>& rowOrder)>
        tensorHook;
    // Keys set after the standard ones (an existing key keeps its position and takes this value).
    std::vector<std::pair<std::string, GgufValue>> extraMetadata;
    // An existing file at the path is replaced (atomically) only when it is a previous bitstudio GGUF
    // (isBitstudioGguf) or with force; a directory never (OutputRefused, util/output_path.h).
    bool force = false;
};
// True when `file` is a GGUF file whose metadata has bitstudio.format_version (every writeGguf output).
bool isBitstudioGguf(const std::filesystem::path& file);
void writeGguf(const Model& model, const std::filesystem::path& file, DType weightType,
               const GgufWriteOptions& options = {});

// What writeGguf(model, file, weightType, options) would write, computed without converting or writing any
// tensor data (the tensorHook is still called; the bytes of what it returns are never read, so it may return
// tensors with data == nullptr and nbytes set): every tensor in file order and the exact file size.
struct GgufLayoutTensor {
    std::string name;   // as written
    std::string source; // the model tensor it stands for (several for a hook that returns several tensors)
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t bytes = 0; // data bytes, without the alignment padding
};
struct GgufLayout {
    std::vector<GgufLayoutTensor> tensors;
    std::uint64_t headerBytes = 0; // header, metadata and tensor infos, padded to the alignment
    std::uint64_t fileBytes = 0;
};
GgufLayout ggufLayout(const Model& model, DType weightType, const GgufWriteOptions& options = {});

// One safetensors file from tensors (names used as given, bytes as stored: F32/F16/BF16/I8/I32), header keys
// and data in name order, the buffer packed without holes (as the reference requires), the header padded
// with spaces to a multiple of 8 bytes, written atomically.
void writeSafetensorsFile(const std::filesystem::path& file, const std::vector<Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata = {});

// Row permutations between RoPE conventions for a [nHeads·hd, ...] tensor (rows = its outermost dimension).
// toNeoX: HF row h·hd + i <- row h·hd + 2i, row h·hd + i + hd/2 <- row h·hd + 2i + 1. The inverse when false.
Tensor permuteRopeRows(const Tensor& t, int nHeads, bool toNeoX);

// Over how many heads the rows of a RoPE-ordered canonical tensor run: nHeads for attn_q (weight and bias),
// nKvHeads for attn_k, 1 for the q/k norms (one head's worth of per-dimension weights), 0 for every other name.
int ropeHeads(const std::string& name, const ModelConfig& c);
// t (named `name`) with its rows in the order RoPE style `target` expects; t itself when c.ropeStyle == target
// or ropeHeads(name, c) == 0.
Tensor reorderForStyle(const Tensor& t, const std::string& name, const ModelConfig& c, RopeStyle target);

// t converted row by row through fp32 to `to` with the reference quantizer of the tensor-type table
// (tensor_types.h: ggml's reference rounding, e.g. fp16/bf16 nearest even, Q8_0 d = amax/127 and
// q = round(x / d) with the fp32 d, stored as fp16); std::invalid_argument for a type without one (I8, I32)
// or a row length that is not a multiple of the block size.
Tensor convertTensor(const Tensor& t, DType to);

} // namespace bq
