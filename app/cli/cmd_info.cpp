// `bitstudio-cli info MODEL [--json]`: architecture, dimensions, tokenizer, metadata and the tensor table.
#include "bq/chat/chat_template.h"
#include "bq/formats/model_loader.h"
#include "bq/model/model_stats.h"
#include "bq/tokenizer/tokenizer.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cstdio>
#include <filesystem>
#include <optional>

namespace bqcli {

namespace {

const char* ropeStyleName(bq::RopeStyle s) { return s == bq::RopeStyle::Interleaved ? "interleaved" : "neox"; }

// The size of the file a model was read from (nullopt for a directory, the demo model or a run file's base).
std::optional<std::uint64_t> sourceFileSize(const bq::Model& m)
{
    std::error_code ec;
    if (m.sourcePath.empty() || !std::filesystem::is_regular_file(m.sourcePath, ec))
        return std::nullopt;
    const auto size = std::filesystem::file_size(m.sourcePath, ec);
    return ec ? std::nullopt : std::optional<std::uint64_t>(size);
}

double bitsPer(std::uint64_t bytes, std::int64_t weights)
{
    return weights > 0 ? 8.0 * double(bytes) / double(weights) : 0.0;
}

nlohmann::json infoJson(const bq::Model& m)
{
    const auto& c = m.config;
    nlohmann::json j;
    j["path"] = m.sourcePath;
    j["format"] = m.sourceFormat;
    j["architecture"] = c.arch;
    j["parameters"] = m.parameterCount();
    j["dim"] = c.dim;
    j["hidden_dim"] = c.hiddenDim;
    j["layers"] = c.nLayers;
    j["heads"] = c.nHeads;
    j["kv_heads"] = c.nKvHeads;
    j["head_dim"] = c.headDim;
    j["vocab_size"] = c.vocabSize;
    j["context_length"] = c.maxSeqLen;
    j["norm_eps"] = c.normEps;
    j["rope_theta"] = c.ropeTheta;
    j["rope_style"] = ropeStyleName(c.ropeStyle);
    if (c.ropeScaling)
        j["rope_scaling"] = {{"type", "llama3"},
                             {"factor", c.ropeScaling->factor},
                             {"low_freq_factor", c.ropeScaling->lowFreqFactor},
                             {"high_freq_factor", c.ropeScaling->highFreqFactor},
                             {"original_max_position_embeddings", c.ropeScaling->originalMaxPositions}};
    j["tied_embeddings"] = c.tiedEmbeddings;
    j["qkv_bias"] = c.qkvBias;
    j["qk_norm"] = c.qkNorm;
    if (m.tokenizer) {
        j["tokenizer"] = {{"family", m.tokenizer->family()},
                          {"vocab_size", m.tokenizer->vocabSize()},
                          {"bos_id", m.tokenizer->bosId()},
                          {"eos_id", m.tokenizer->eosId()}};
    } else {
        j["tokenizer"] = nullptr;
    {
        const bq::ChatTemplate chat = bq::chatTemplateForModel(m.chatTemplate);
        j["chat_template"] = {{"kind", chat.name()}, {"default_system", chat.defaultSystem()}};
    }
    }
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& [name, t] : m.tensors)
        tensors.push_back({{"name", name}, {"shape", t.shape}, {"dtype", bq::dtypeName(t.dtype)}, {"bytes", t.nbytes}});
    j["tensors"] = tensors;
    nlohmann::json dtypeParameters = nlohmann::json::object(); // keys sorted by name
    for (const bq::TypeUsage& u : bq::modelStats(m).byType)
        dtypeParameters[bq::dtypeName(u.type)] = u.parameters;
    j["dtype_parameters"] = dtypeParameters;
    // The type mix and the true storage cost: bits per weight = 8 · stored bytes / weights.
    const bq::ModelStats stats = bq::modelStats(m);
    nlohmann::json mix = nlohmann::json::array(); // DType order
    for (const bq::TypeUsage& u : stats.byType)
        mix.push_back({{"type", bq::dtypeName(u.type)},
                       {"tensors", u.tensors},
                       {"weights", u.parameters},
                       {"bytes", u.bytes},
                       {"bits_per_weight", u.bitsPerWeight()}});
    j["type_mix"] = mix;
    nlohmann::json bits = {{"all", stats.bitsPerWeight()},
                           {"matrices", stats.matrixBitsPerWeight()},
                           {"matrix_tensors", stats.matrixTensors},
                           {"matrix_weights", stats.matrixParameters},
                           {"tensor_bytes", stats.bytes},
                           {"matrix_bytes", stats.matrixBytes}};
    if (const auto size = sourceFileSize(m)) {
        bits["file"] = bitsPer(*size, stats.parameters);
        bits["file_bytes"] = *size;
    } else {
        bits["file"] = nullptr;
    }
    j["bits_per_weight"] = bits;
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : m.metadata)
        meta[k] = v;
    j["metadata"] = meta;
    return j;
}

// Tensors and weights per type, and bits per weight (8 · stored bytes / weights) per type, overall, over the
// 2-D tensors and over the whole file (metadata and tokenizer included).
void printTypeMix(const bq::Model& m)
{
    const bq::ModelStats s = bq::modelStats(m);
    std::printf("weights by type (bits/weight = 8 · stored bytes / weights):\n");
    for (const bq::TypeUsage& u : s.byType)
        std::printf("  %-8s %5d tensors %13lld weights %13llu bytes %8.4f bits/weight\n", bq::dtypeName(u.type),
                    u.tensors, static_cast<long long>(u.parameters), static_cast<unsigned long long>(u.bytes),
                    u.bitsPerWeight());
    std::printf("  %-8s %5d tensors %13lld weights %13llu bytes %8.4f bits/weight\n", "all", s.tensors,
                static_cast<long long>(s.parameters), static_cast<unsigned long long>(s.bytes), s.bitsPerWeight());
    std::printf("  %-8s %5d tensors %13lld weights %13llu bytes %8.4f bits/weight (2-D tensors)\n", "matrices",
                s.matrixTensors, static_cast<long long>(s.matrixParameters),
                static_cast<unsigned long long>(s.matrixBytes), s.matrixBitsPerWeight());
    if (const auto size = sourceFileSize(m))
        std::printf("  %-8s %35s %13llu bytes %8.4f bits/weight "
                    "(8 · file size / weights: headers and metadata included)\n",
                    "file", "", static_cast<unsigned long long>(*size), bitsPer(*size, s.parameters));
}

void printInfo(const bq::Model& m)
{
    const auto& c = m.config;
    std::printf("model:        %s\n", m.sourcePath.c_str());
    std::printf("format:       %s\n", m.sourceFormat.c_str());
    std::printf("architecture: %s\n", c.arch.c_str());
    std::printf("parameters:   %lld\n", static_cast<long long>(m.parameterCount()));
    std::printf("dims:         dim %d, hidden %d, layers %d, heads %d/%d (head dim %d)\n", c.dim, c.hiddenDim,
                c.nLayers, c.nHeads, c.nKvHeads, c.headDim);
    std::printf("vocab:        %d, context %d\n", c.vocabSize, c.maxSeqLen);
    std::printf("rope:         %s, theta %g%s\n", ropeStyleName(c.ropeStyle), double(c.ropeTheta),
                c.ropeScaling ? ", llama3 scaling" : "");
    std::printf("norm eps:     %g; tied embeddings: %s; qkv bias: %s; qk norm: %s\n", double(c.normEps),
                c.tiedEmbeddings ? "yes" : "no", c.qkvBias ? "yes" : "no", c.qkNorm ? "yes" : "no");
    if (m.tokenizer)
        std::printf("tokenizer:    %s, %d tokens, bos %d, eos %d\n", m.tokenizer->family().c_str(),
                    m.tokenizer->vocabSize(), m.tokenizer->bosId(), m.tokenizer->eosId());
    else
        std::printf("tokenizer:    none (pass --tokenizer FILE)\n");
    const bq::ChatTemplate chat = bq::chatTemplateForModel(m.chatTemplate);
    if (m.chatTemplate.empty())
        std::printf("chat:         %s (the model has no chat template)\n", chat.name());
    else if (chat.defaultSystem().empty())
        std::printf("chat:         template %s\n", chat.name());
    else
        std::printf("chat:         template %s, default system prompt \"%s\"\n", chat.name(), chat.defaultSystem().c_str());
    printTypeMix(m);
    if (!m.metadata.empty()) {
        std::printf("metadata:\n");
        for (const auto& [k, v] : m.metadata)
            std::printf("  %s = %s\n", k.c_str(), v.size() > 100 ? (v.substr(0, 97) + "...").c_str() : v.c_str());
    }
    std::printf("tensors (%zu):\n", m.tensors.size());
    for (const auto& [name, t] : m.tensors)
        std::printf("  %-32s %-6s %-16s %zu bytes\n", name.c_str(), bq::dtypeName(t.dtype), t.shapeString().c_str(),
                    t.nbytes);
}

} // namespace

void registerInfo(CLI::App& app)
{
    struct Opts {
        std::string model;
        ModelOptions modelOptions;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("info", "Show a model's architecture, tokenizer, metadata and tensors");
    cmd->add_option("MODEL", o->model, "Model file, Hugging Face directory, or :demo")->required();
    cmd->add_option("--tokenizer", o->modelOptions.tokenizer, "Tokenizer file for llama2.c checkpoints");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        // A run file shows its fake-quantized model (openModel reopens the base model it names).
        bq::workflow::OpenOptions open = openOptions(o->modelOptions);
        open.requireTokenizer = bq::workflow::isRunFileSpec(o->model);
        auto model = bq::workflow::openModel(o->model, open);
        if (o->json)
            printJson(infoJson(*model));
        else
            printInfo(*model);
    });
}

} // namespace bqcli
