#include "bq/formats/model_loader.h"
#include "bq/formats/gguf_file.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/hf_loader.h"
#include "bq/formats/llama2c_reader.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/sentencepiece_model.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include <array>
#include <cstring>
#include <fstream>

namespace bq {

namespace {

std::array<char, 4> readMagic(const std::filesystem::path& path)
{
    std::array<char, 4> magic{};
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw FormatError(path.string(), "file", "an existing, readable model file or directory");
    f.read(magic.data(), 4);
    return magic;
}

// llama2.c tokenizer.bin does not store its vocabulary size; count the entries to the end of the file.
int countLlama2cTokens(const std::filesystem::path& path)
{
    std::ifstream f(path, std::ios::binary);
    std::uint32_t maxLen = 0;
    if (!f.read(reinterpret_cast<char*>(&maxLen), 4))
        throw FormatError(path.string(), "max_token_length", "a 4-byte header", 0);
    int count = 0;
    for (;;) {
        float score;
        std::uint32_t len;
        if (!f.read(reinterpret_cast<char*>(&score), 4))
            break;
        if (!f.read(reinterpret_cast<char*>(&len), 4) || len > maxLen + 16u)
            throw FormatError(path.string(), "token " + std::to_string(count) + " length",
                              "at most max_token_length bytes", static_cast<std::int64_t>(f.tellg()));
        f.seekg(len, std::ios::cur);
        if (!f)
            throw FormatError(path.string(), "token " + std::to_string(count), "its bytes before the end of file");
        ++count;
    }
    return count;
}

bool hasExtension(const std::filesystem::path& p, const char* ext)
{
    return p.extension() == ext;
}

} // namespace

std::shared_ptr<const Model> loadModel(const std::filesystem::path& path, const LoadOptions& options)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        if (!std::filesystem::exists(path / "config.json"))
            throw FormatError(path.string(), "config.json", "a Hugging Face model directory with config.json");
        return loadHfDirectory(path);
    }
    if (!std::filesystem::exists(path, ec))
        throw FormatError(path.string(), "file", "an existing model file or directory");
    const auto magic = readMagic(path);
    if (std::memcmp(magic.data(), "GGUF", 4) == 0)
        return loadGgufModel(path);
    return loadLlama2cModel(path, options.tokenizerPath, options.requireTokenizer);
}

std::shared_ptr<const Tokenizer> loadTokenizerFile(const std::filesystem::path& path, int vocabSize)
{
    if (!std::filesystem::exists(path))
        throw FormatError(path.string(), "file", "an existing tokenizer file");
    if (std::filesystem::is_directory(path)) {
        if (std::filesystem::exists(path / "tokenizer.json"))
            return HfBpeTokenizer::fromJsonFile(path / "tokenizer.json");
        if (std::filesystem::exists(path / "tokenizer.model"))
            return loadSentencePieceModel(path / "tokenizer.model");
        throw FormatError(path.string(), "directory", "tokenizer.json or tokenizer.model inside");
    }
    if (hasExtension(path, ".json"))
        return HfBpeTokenizer::fromJsonFile(path);
    if (hasExtension(path, ".model"))
        return loadSentencePieceModel(path);
    const auto magic = readMagic(path);
    if (std::memcmp(magic.data(), "GGUF", 4) == 0) {
        // Only the tokenizer keys are read: vocab-only GGUFs (llama.cpp's models/ggml-vocab-*.gguf) hold no weights.
        auto tok = tokenizerFromGguf(*GgufFile::open(path));
        if (!tok)
            throw FormatError(path.string(), "tokenizer.ggml.model", "an embedded tokenizer");
        return tok;
    }
    if (vocabSize <= 0)
        vocabSize = countLlama2cTokens(path);
    return SpBpeTokenizer::fromLlama2cFile(path, vocabSize);
}

} // namespace bq
