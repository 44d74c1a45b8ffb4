#include "bq/formats/hf_loader.h"
#include "bq/formats/hf_config.h"
#include "bq/formats/safetensors_reader.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include "bq/util/mapped_file.h"
#include <nlohmann/json.hpp>
#if __has_include("bq/tokenizer/sentencepiece_model.h")
#include "bq/tokenizer/sentencepiece_model.h"
#define BQ_HAVE_SP_MODEL 1
#endif

namespace bq {

namespace {

// chat_template is a string, or a list of {"name", "template"} (the "default" entry wins).
std::string readChatTemplate(const std::filesystem::path& tokenizerConfig)
{
    auto f = MappedFile::open(tokenizerConfig);
    checkJsonDepth(std::string_view(reinterpret_cast<const char*>(f->data()), f->size()), tokenizerConfig.string(),
                   "file");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(reinterpret_cast<const char*>(f->data()),
                                  reinterpret_cast<const char*>(f->data()) + f->size());
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(tokenizerConfig.string(), "file", std::string("a JSON object (") + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("chat_template"))
        return {};
    const auto& t = j["chat_template"];
    if (t.is_string())
        return t.get<std::string>();
    if (t.is_array()) {
        std::string first;
        for (const auto& e : t) {
            if (!e.is_object() || !e.contains("template") || !e["template"].is_string())
                continue;
            if (first.empty())
                first = e["template"].get<std::string>();
            if (e.contains("name") && e["name"] == "default")
                return e["template"].get<std::string>();
        }
        return first;
    }
    return {};
}

} // namespace

std::shared_ptr<Model> loadHfDirectory(const std::filesystem::path& dir)
{
    namespace fs = std::filesystem;
    const fs::path configPath = dir / "config.json";
    if (!fs::exists(configPath))
        throw FormatError(dir.string(), "config.json", "a Hugging Face model directory with config.json");
    HfConfig hf = readHfConfig(configPath);

    auto model = std::make_shared<Model>();
    model->config = hf.config;
    model->sourcePath = dir.string();
    model->sourceFormat = "hf-safetensors";
    model->metadata = hf.metadata;

    const SafetensorsCheckpoint ck = openSafetensorsDirectory(dir);
    std::vector<std::string> skipped;
    for (const auto& [hfName, file] : ck.byTensor) {
        const auto canonical = canonicalFromHf(hfName);
        if (!canonical) {
            skipped.push_back(hfName);
            continue;
        }
        model->tensors.emplace(*canonical, file->tensor(hfName, *canonical));
    }
    // Some checkpoints keep lm_head even when tied; the runtime reads token_embd then.
    if (model->config.tiedEmbeddings)
        model->tensors.erase("output.weight");
    model->metadata.emplace_back("safetensors files", std::to_string(ck.files.size()));
    if (!skipped.empty()) {
        std::string list;
        for (std::size_t i = 0; i < skipped.size() && i < 8; ++i)
            list += (i ? ", " : "") + skipped[i];
        if (skipped.size() > 8)
            list += ", ... (" + std::to_string(skipped.size()) + " in all)";
        model->metadata.emplace_back("ignored tensors", list);
    }

    model->config.validate(configPath.string());
    model->validateTensors();

    if (fs::exists(dir / "tokenizer.json")) {
        model->tokenizer = HfBpeTokenizer::fromJsonFile(dir / "tokenizer.json");
        model->metadata.emplace_back("tokenizer", "tokenizer.json");
    } else if (fs::exists(dir / "tokenizer.model")) {
#ifdef BQ_HAVE_SP_MODEL
        model->tokenizer = loadSentencePieceModel(dir / "tokenizer.model");
        model->metadata.emplace_back("tokenizer", "tokenizer.model");
#else
        model->metadata.emplace_back("tokenizer", "tokenizer.model (not supported by this build)");
#endif
    } else {
        model->metadata.emplace_back("tokenizer", "none (no tokenizer.json or tokenizer.model)");
    }
    if (fs::exists(dir / "tokenizer_config.json"))
        model->chatTemplate = readChatTemplate(dir / "tokenizer_config.json");
    return model;
}

} // namespace bq
