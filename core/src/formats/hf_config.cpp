#include "bq/formats/hf_config.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"
#include "bq/util/mapped_file.h"
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

namespace bq {

namespace {

using nlohmann::json;

struct Reader {
    const json& j;
    const std::string& path;

    bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }

    int integer(const json& obj, const std::string& field, const char* key) const
    {
        const json& v = obj[key];
        if (!v.is_number_integer())
            throw FormatError(path, field, "an integer");
        const auto x = v.get<std::int64_t>();
        if (x < 0 || x > (1ll << 31) - 1)
            throw FormatError(path, field, "a non-negative 32-bit integer (found " + std::to_string(x) + ")");
        return static_cast<int>(x);
    }
    int requireInt(const char* key) const
    {
        if (!has(key))
            throw FormatError(path, key, "an integer (the field is missing)");
        return integer(j, key, key);
    }
    int optInt(const char* key, int fallback) const { return has(key) ? integer(j, key, key) : fallback; }
    // A dimension: a positive integer (0 would size nothing and divide by zero later).
    int requireDim(const char* key) const
    {
        const int v = requireInt(key);
        if (v <= 0)
            throw FormatError(path, key, "a positive integer (found " + std::to_string(v) + ")");
        return v;
    }
    int optDim(const char* key, int fallback) const
    {
        if (!has(key))
            return fallback;
        const int v = integer(j, key, key);
        if (v <= 0)
            throw FormatError(path, key, "a positive integer (found " + std::to_string(v) + ")");
        return v;
    }
    double number(const json& obj, const std::string& field, const char* key) const
    {
        const json& v = obj[key];
        if (!v.is_number())
            throw FormatError(path, field, "a number");
        return v.get<double>();
    }
    double optNumber(const char* key, double fallback) const { return has(key) ? number(j, key, key) : fallback; }
    bool optBool(const char* key, bool fallback) const
    {
        if (!has(key))
            return fallback;
        if (!j[key].is_boolean())
            throw FormatError(path, key, "true or false");
        return j[key].get<bool>();
    }
};

// The shortest decimal that reads back as the same float (1e-5f is written 1e-05, not 9.99999974e-06).
double cleanFloat(float v)
{
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

std::string fmt(double v)
{
    std::ostringstream s;
    s << v;
    return s.str();
}

} // namespace

HfConfig parseHfConfig(std::string_view jsonText, const std::string& sourcePath)
{
    checkJsonDepth(jsonText, sourcePath, "file");
    json j;
    try {
        j = json::parse(jsonText.begin(), jsonText.end());
    } catch (const json::exception& e) {
        throw FormatError(sourcePath, "file", std::string("a JSON object (") + e.what() + ")");
    }
    if (!j.is_object())
        throw FormatError(sourcePath, "file", "a JSON object");
    Reader r{j, sourcePath};
    HfConfig out;
    ModelConfig& c = out.config;

    // Architecture: "architectures"[0] first, "model_type" as the fallback.
    std::string archName, modelType;
    if (r.has("architectures")) {
        if (!j["architectures"].is_array() || j["architectures"].empty() || !j["architectures"][0].is_string())
            throw FormatError(sourcePath, "architectures", "a non-empty array of strings");
        archName = j["architectures"][0].get<std::string>();
    }
    if (r.has("model_type")) {
        if (!j["model_type"].is_string())
            throw FormatError(sourcePath, "model_type", "a string");
        modelType = j["model_type"].get<std::string>();
    }
    if (archName.empty() && modelType.empty())
        throw FormatError(sourcePath, "architectures", "an architecture name (architectures or model_type)");
    static const std::pair<const char*, const char*> kArchs[] = {{"LlamaForCausalLM", "llama"},
                                                                 {"MistralForCausalLM", "mistral"},
                                                                 {"Qwen2ForCausalLM", "qwen2"},
                                                                 {"Qwen3ForCausalLM", "qwen3"}};
    c.arch.clear();
    for (auto [hf, ours] : kArchs)
        if (archName == hf || (archName.empty() && modelType == ours))
            c.arch = ours;
    if (c.arch.empty())
        throw UnsupportedModel(sourcePath + ": architectures: '" + (archName.empty() ? modelType : archName) +
                               "' is not supported (expected LlamaForCausalLM, MistralForCausalLM, "
                               "Qwen2ForCausalLM or Qwen3ForCausalLM)");

    c.dim = r.requireDim("hidden_size");
    c.hiddenDim = r.requireDim("intermediate_size");
    c.nLayers = r.requireDim("num_hidden_layers");
    c.nHeads = r.requireDim("num_attention_heads");
    c.vocabSize = r.requireDim("vocab_size");
    c.nKvHeads = r.optDim("num_key_value_heads", c.nHeads);
    c.headDim = r.optDim("head_dim", c.dim / c.nHeads);
    c.maxSeqLen = r.optDim("max_position_embeddings", c.arch == "llama" ? 2048 : 32768);
    c.checkCaps(sourcePath);
    c.normEps = static_cast<float>(r.optNumber("rms_norm_eps", 1e-6));
    c.ropeTheta = static_cast<float>(r.optNumber("rope_theta", 10000.0));
    c.tiedEmbeddings = r.optBool("tie_word_embeddings", false);
    c.ropeStyle = RopeStyle::NeoX; // HF checkpoints rotate halves
    c.qkvBias = c.arch == "qwen2";
    c.qkNorm = c.arch == "qwen3";
    if ((c.arch == "llama" || c.arch == "mistral" || c.arch == "qwen3") && r.optBool("attention_bias", false))
        throw UnsupportedModel(sourcePath + ": attention_bias: true is not supported for " + c.arch +
                               " (q/k/v/o biases)");
    if (r.optBool("mlp_bias", false))
        throw UnsupportedModel(sourcePath + ": mlp_bias: true is not supported");
    if (r.has("hidden_act")) {
        if (!j["hidden_act"].is_string())
            throw FormatError(sourcePath, "hidden_act", "a string");
        const auto act = j["hidden_act"].get<std::string>();
        if (act != "silu" && act != "swish")
            throw UnsupportedModel(sourcePath + ": hidden_act: '" + act + "' is not supported (expected silu)");
    }
    if (r.has("sliding_window")) {
        const bool used = c.arch == "mistral" || r.optBool("use_sliding_window", false);
        if (used)
            c.slidingWindow = r.integer(j, "sliding_window", "sliding_window");
    }

    if (r.has("rope_scaling")) {
        const json& rs = j["rope_scaling"];
        if (!rs.is_object())
            throw FormatError(sourcePath, "rope_scaling", "an object or null");
        std::string type;
        const char* typeKey = rs.contains("rope_type") ? "rope_type" : "type";
        if (rs.contains(typeKey)) {
            if (!rs[typeKey].is_string())
                throw FormatError(sourcePath, std::string("rope_scaling.") + typeKey, "a string");
            type = rs[typeKey].get<std::string>();
        }
        if (type == "llama3") {
            RopeScaling s;
            auto num = [&](const char* key, double fallback) {
                if (!rs.contains(key) || rs[key].is_null())
                    return fallback;
                return r.number(rs, std::string("rope_scaling.") + key, key);
            };
            s.factor = static_cast<float>(num("factor", s.factor));
            s.lowFreqFactor = static_cast<float>(num("low_freq_factor", s.lowFreqFactor));
            s.highFreqFactor = static_cast<float>(num("high_freq_factor", s.highFreqFactor));
            if (rs.contains("original_max_position_embeddings") && !rs["original_max_position_embeddings"].is_null())
                s.originalMaxPositions = r.integer(rs, "rope_scaling.original_max_position_embeddings",
                                                   "original_max_position_embeddings");
            if (!(s.factor > 0) || !(s.highFreqFactor > s.lowFreqFactor) || s.originalMaxPositions <= 0)
                throw FormatError(sourcePath, "rope_scaling",
                                  "factor > 0, high_freq_factor > low_freq_factor, original_max_position_embeddings > 0");
            c.ropeScaling = s;
        } else if (!type.empty() && type != "default") {
            throw UnsupportedModel(sourcePath + ": rope_scaling." + typeKey + ": '" + type +
                                   "' is not supported (only \"llama3\" frequency scaling)");
        } else if (type.empty()) {
            throw FormatError(sourcePath, "rope_scaling.rope_type", "a scaling type (\"llama3\")");
        }
    }

    if (r.has("bos_token_id"))
        out.bosId = r.integer(j, "bos_token_id", "bos_token_id");
    if (r.has("eos_token_id")) {
        const json& e = j["eos_token_id"];
        if (e.is_array()) {
            for (const auto& x : e) {
                if (!x.is_number_integer())
                    throw FormatError(sourcePath, "eos_token_id", "an integer or a list of integers");
                out.eosIds.push_back(x.get<std::int32_t>());
            }
        } else {
            out.eosIds.push_back(r.integer(j, "eos_token_id", "eos_token_id"));
        }
    }
    if (r.has("torch_dtype") && j["torch_dtype"].is_string())
        out.torchDtype = j["torch_dtype"].get<std::string>();

    auto& md = out.metadata;
    md.emplace_back("architecture", archName.empty() ? modelType : archName);
    md.emplace_back("hidden_size", std::to_string(c.dim));
    md.emplace_back("intermediate_size", std::to_string(c.hiddenDim));
    md.emplace_back("num_hidden_layers", std::to_string(c.nLayers));
    md.emplace_back("num_attention_heads", std::to_string(c.nHeads));
    md.emplace_back("num_key_value_heads", std::to_string(c.nKvHeads));
    md.emplace_back("head_dim", std::to_string(c.headDim));
    md.emplace_back("vocab_size", std::to_string(c.vocabSize));
    md.emplace_back("max_position_embeddings", std::to_string(c.maxSeqLen));
    md.emplace_back("rms_norm_eps", fmt(c.normEps));
    md.emplace_back("rope_theta", fmt(c.ropeTheta));
    if (c.ropeScaling)
        md.emplace_back("rope_scaling", "llama3 factor " + fmt(c.ropeScaling->factor) + ", low " +
                                            fmt(c.ropeScaling->lowFreqFactor) + ", high " +
                                            fmt(c.ropeScaling->highFreqFactor) + ", original " +
                                            std::to_string(c.ropeScaling->originalMaxPositions));
    md.emplace_back("tie_word_embeddings", c.tiedEmbeddings ? "true" : "false");
    if (c.slidingWindow)
        md.emplace_back("sliding_window", std::to_string(c.slidingWindow));
    if (!out.torchDtype.empty())
        md.emplace_back("torch_dtype", out.torchDtype);
    return out;
}

HfConfig readHfConfig(const std::filesystem::path& configJson)
{
    auto f = MappedFile::open(configJson);
    return parseHfConfig(std::string_view(reinterpret_cast<const char*>(f->data()), f->size()), configJson.string());
}

std::string hfConfigJson(const ModelConfig& c, const std::string& torchDtype, std::int32_t bosId, std::int32_t eosId)
{
    // nlohmann::ordered_json keeps this insertion order, so the file is deterministic and readable.
    nlohmann::ordered_json j;
    const char* archName = c.arch == "mistral" ? "MistralForCausalLM"
                           : c.arch == "qwen2" ? "Qwen2ForCausalLM"
                           : c.arch == "qwen3" ? "Qwen3ForCausalLM"
                                               : "LlamaForCausalLM";
    j["architectures"] = {archName};
    j["model_type"] = c.arch;
    j["hidden_size"] = c.dim;
    j["intermediate_size"] = c.hiddenDim;
    j["num_hidden_layers"] = c.nLayers;
    j["num_attention_heads"] = c.nHeads;
    j["num_key_value_heads"] = c.nKvHeads;
    j["head_dim"] = c.headDim;
    j["hidden_act"] = "silu";
    j["max_position_embeddings"] = c.maxSeqLen;
    j["rms_norm_eps"] = cleanFloat(c.normEps);
    j["rope_theta"] = cleanFloat(c.ropeTheta);
    if (c.ropeScaling) {
        nlohmann::ordered_json rs;
        rs["rope_type"] = "llama3";
        rs["factor"] = cleanFloat(c.ropeScaling->factor);
        rs["low_freq_factor"] = cleanFloat(c.ropeScaling->lowFreqFactor);
        rs["high_freq_factor"] = cleanFloat(c.ropeScaling->highFreqFactor);
        rs["original_max_position_embeddings"] = c.ropeScaling->originalMaxPositions;
        j["rope_scaling"] = rs;
    } else {
        j["rope_scaling"] = nullptr;
    }
    j["vocab_size"] = c.vocabSize;
    j["tie_word_embeddings"] = c.tiedEmbeddings;
    if (c.arch != "qwen2") {
        j["attention_bias"] = false;
        j["mlp_bias"] = false;
    }
    if (c.arch == "mistral")
        j["sliding_window"] = c.slidingWindow > 0 ? nlohmann::ordered_json(c.slidingWindow) : nlohmann::ordered_json();
    if (bosId >= 0)
        j["bos_token_id"] = bosId;
    if (eosId >= 0)
        j["eos_token_id"] = eosId;
    j["torch_dtype"] = torchDtype;
    return j.dump(2) + "\n";
}

} // namespace bq
