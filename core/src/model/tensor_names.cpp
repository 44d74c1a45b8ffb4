#include "bq/model/tensor_names.h"
#include <array>
#include <cstdio>
#include <iterator>
#include <tuple>
#include <utility>

namespace bq {

std::string blockTensorName(int layer, const char* part)
{
    return "blk." + std::to_string(layer) + "." + part + ".weight";
}

namespace {
// HF suffix after "model.layers.N." -> canonical part after "blk.N."
constexpr std::array<std::pair<const char*, const char*>, 16> kLayerParts{{
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"mlp.down_proj.bias", "ffn_down.bias"},
}};
constexpr std::array<std::pair<const char*, const char*>, 3> kGlobal{{
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
}};

// (group, block, part, rest) sorting in tensorOrderLess's order.
std::tuple<int, int, int, std::string> orderKey(const std::string& name)
{
    static const char* const parts[] = {"attn_norm", "attn_q_norm", "attn_k_norm", "attn_q", "attn_k", "attn_v",
                                        "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    if (name.rfind("token_embd.", 0) == 0)
        return {0, 0, 0, name};
    if (name.rfind("blk.", 0) == 0) {
        const auto dot = name.find('.', 4);
        int block = 0;
        try {
            block = std::stoi(name.substr(4, dot - 4));
        } catch (...) {
            return {2, 0, 0, name};
        }
        const std::string rest = dot == std::string::npos ? std::string() : name.substr(dot + 1);
        int part = int(std::size(parts));
        for (int i = 0; i < int(std::size(parts)); ++i) {
            const std::string p = parts[i];
            if (rest.rfind(p + ".", 0) == 0) {
                part = i;
                break;
            }
        }
        return {1, block, part, rest};
    }
    if (name.rfind("output_norm.", 0) == 0)
        return {3, 0, 0, name};
    if (name.rfind("output.", 0) == 0)
        return {4, 0, 0, name};
    return {2, 0, 0, name};
}

bool parseLayer(const std::string& s, const std::string& prefix, int& layer, std::string& rest)
{
    if (s.compare(0, prefix.size(), prefix) != 0)
        return false;
    std::size_t i = prefix.size(), j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9')
        ++j;
    if (j == i || j >= s.size() || s[j] != '.')
        return false;
    layer = std::stoi(s.substr(i, j - i));
    rest = s.substr(j + 1);
    return true;
}
} // namespace

std::optional<std::string> canonicalFromHf(const std::string& hfName)
{
    for (auto [hf, canon] : kGlobal)
        if (hfName == hf)
            return std::string(canon);
    int layer;
    std::string rest;
    if (!parseLayer(hfName, "model.layers.", layer, rest))
        return std::nullopt;
    for (auto [hf, canon] : kLayerParts)
        if (rest == hf)
            return "blk." + std::to_string(layer) + "." + canon;
    return std::nullopt;
}

std::optional<std::string> hfFromCanonical(const std::string& canonical)
{
    for (auto [hf, canon] : kGlobal)
        if (canonical == canon)
            return std::string(hf);
    int layer;
    std::string rest;
    if (!parseLayer(canonical, "blk.", layer, rest))
        return std::nullopt;
    for (auto [hf, canon] : kLayerParts)
        if (rest == canon)
            return "model.layers." + std::to_string(layer) + "." + hf;
    return std::nullopt;
}

bool tensorOrderLess(const std::string& a, const std::string& b) { return orderKey(a) < orderKey(b); }

} // namespace bq
