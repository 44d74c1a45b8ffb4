// One Llama-family transformer block, the only implementation of it: the fp32 and packed runtimes run it for
// prefill and decode, and the quantization pipeline runs it over its calibration sequences (with a hook on the
// linear inputs). Architecture features are written here once: RMSNorm, q/k/v projections with Qwen2 biases,
// Qwen3 per-head q/k RMSNorm, RoPE (interleaved or NeoX, with Llama 3 scaling; rope.h), grouped-query causal
// attention over a KV cache (fp32 or fp16), SwiGLU feed-forward, residual additions; llama2.c run.c numerics.
//
// Determinism: the projections use kernels whose sums do not depend on the row or token split (kernels_f32.h,
// the packed kernels), and attention runs one head per task, so a block's output does not depend on the pool's
// thread count, on a null pool (one thread), nor on how the tokens are cut into chunks: a pass over T tokens
// equals T one-token passes bit for bit.
#pragma once
#include "bq/model/model_config.h"
#include "bq/runtime/packed_linear.h"
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace bq {

class Rope;
class ThreadPool;

// One projection Y[T][rows] = W X[T][cols]: fp32 row-major weights, or a PackedLinear.
struct Linear {
    const float* w = nullptr;                   // used when `packed` is null
    std::shared_ptr<const PackedLinear> packed;
    bool blockPacked = false; // `packed` is a built-in Q1_0/Q4_0/Q8_0 kernel (packed_linear_q.h)
    int rows = 0, cols = 0;

    void apply(const float* X, int T, float* Y, ThreadPool* pool) const; // pool may be null
    std::uint64_t bytes() const; // weight bytes one token reads
};

// The weights of one block. Pointers and PackedLinears are owned elsewhere; the bias and q/k-norm pointers are
// null when the architecture has none.
struct BlockWeights {
    const float* attnNorm = nullptr;
    Linear wq, wk, wv, wo;
    const float* bq = nullptr;
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* qNorm = nullptr;
    const float* kNorm = nullptr;
    const float* ffnNorm = nullptr;
    Linear gate, up, down;

    // The projection of a canonical part name ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
    // "ffn_up", "ffn_down"); std::invalid_argument for anything else.
    Linear& linear(std::string_view part);
    const Linear& linear(std::string_view part) const;
};

// The four distinct inputs of a block's linear layers: q/k/v read AttnIn, gate/up read FfnIn.
enum class BlockSite : std::uint8_t { AttnIn = 0, AttnOut = 1, FfnIn = 2, FfnMid = 3 };
inline constexpr int kBlockSiteCount = 4;

// Sees the T × m row-major input of each site (valid during the call only). Returning false ends the pass
// right after that site: the block output is then not computed and x holds no valid result.
using BlockSiteHook = std::function<bool(BlockSite site, const float* x, int T, int m)>;

// One layer of a KV cache, rows of kvDim values: fp32 in keys/values, or fp16 in keys16/values16 when keys is
// null. `cached` rows are filled; the pass stores the keys and values of its T tokens at rows cached..cached+T−1
// (the caller makes room) and rotates them at absolute positions position..position+T−1 (after a sliding-window
// drop the two differ).
struct BlockKv {
    float* keys = nullptr;
    float* values = nullptr;
    std::uint16_t* keys16 = nullptr;
    std::uint16_t* values16 = nullptr;
    int cached = 0;
    std::int64_t position = 0;
};

// Work buffers of a pass, grown on first use; one per thread that runs blocks.
struct BlockScratch {
    std::vector<float> xb, q, k, v, att, hb, hb2, scores, cosv, sinv;
};

// Runs block `w` on the hidden states x (T × config.dim row-major), replaced by the block output. The pool (may be
// null) splits the projections and the attention heads. `hook`, when set, sees every site's input in order.
void forwardBlock(const ModelConfig& config, const Rope& rope, const BlockWeights& w, float* x, int T,
                  const BlockKv& kv, BlockScratch& scratch, ThreadPool* pool, const BlockSiteHook& hook = {});

// RMSNorm of T hidden states (T × dim row-major) with `weights` (attn_norm, ffn_norm, or output_norm for the
// head's input), run.c numerics. out may alias x.
void rmsnormTokens(const ModelConfig& config, const float* weights, const float* x, int T, float* out);

} // namespace bq
