// Canonical tensor names (GGUF style) and the mappings to Hugging Face names.
//   token_embd.weight, output_norm.weight, output.weight
//   blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm, attn_k_norm, ffn_norm, ffn_gate,
//          ffn_up, ffn_down}.weight, blk.N.attn_{q,k,v}.bias (Qwen2)
#pragma once
#include <optional>
#include <string>

namespace bq {

std::string blockTensorName(int layer, const char* part); // ("attn_q") -> "blk.3.attn_q.weight"
// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; nullopt for unknown names.
std::optional<std::string> canonicalFromHf(const std::string& hfName);
// Inverse of canonicalFromHf.
std::optional<std::string> hfFromCanonical(const std::string& canonical);

// Model order of canonical names (a strict weak order): token_embd, then blk.0 … blk.N-1 by number with each
// block's parts in forward order (attn_norm, attn_q_norm, attn_k_norm, attn_q, attn_k, attn_v, attn_output,
// ffn_norm, ffn_gate, ffn_up, ffn_down, then other parts by name), other tensors by name, output_norm, output
// last. Plain string order would put blk.10 before blk.2.
bool tensorOrderLess(const std::string& a, const std::string& b);

} // namespace bq
