// Model statistics (the type mix shown by `info`, the summary and the overview) and the canonical tensor order.
#include "bq/model/model.h"
#include "bq/model/model_stats.h"
#include "bq/model/tensor_names.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

using namespace bq;

TEST_CASE("model statistics count tensors, parameters and bytes per type", "[model_stats]")
{
    Model m;
    m.tensors["token_embd.weight"] = makeF32Tensor("token_embd.weight", {4, 128}, std::vector<float>(512));
    m.tensors["blk.0.attn_norm.weight"] = makeF32Tensor("blk.0.attn_norm.weight", {128}, std::vector<float>(128));
    // Q1_0 [2, 256]: 4 blocks of 18 bytes.
    m.tensors["blk.0.attn_q.weight"] =
        makeOwnedTensor("blk.0.attn_q.weight", DType::Q1_0, {2, 256}, std::vector<std::byte>(72));

    const ModelStats s = modelStats(m);
    REQUIRE(s.byType.size() == 2);
    CHECK(s.byType[0].type == DType::F32); // DType order
    CHECK(s.byType[0].tensors == 2);
    CHECK(s.byType[0].parameters == 640);
    CHECK(s.byType[0].bytes == 2560);
    CHECK(s.byType[0].bitsPerWeight() == 32.0);
    CHECK(s.byType[1].type == DType::Q1_0);
    CHECK(s.byType[1].tensors == 1);
    CHECK(s.byType[1].parameters == 512);
    CHECK(s.byType[1].bytes == 72);
    CHECK(s.byType[1].bitsPerWeight() == 1.125);
    CHECK(s.tensors == 3);
    CHECK(s.parameters == 1152);
    CHECK(s.parameters == m.parameterCount());
    CHECK(s.bytes == 2632);
    CHECK(s.bitsPerWeight() == 8.0 * 2632.0 / 1152.0);
    // The matrices: token_embd (512 F32 weights, 2048 bytes) and attn_q (512 Q1_0 weights, 72 bytes).
    CHECK(s.matrixTensors == 2);
    CHECK(s.matrixParameters == 1024);
    CHECK(s.matrixBytes == 2120);
    CHECK(s.matrixBitsPerWeight() == 8.0 * 2120.0 / 1024.0);

    const ModelStats empty = modelStats(Model{});
    CHECK(empty.byType.empty());
    CHECK(empty.tensors == 0);
    CHECK(empty.bitsPerWeight() == 0.0);
    CHECK(empty.matrixBitsPerWeight() == 0.0);
}

TEST_CASE("tensorOrderLess sorts canonical names in model order", "[model_stats]")
{
    const std::vector<std::string> expected = {
        "token_embd.weight",
        "blk.2.attn_norm.weight",
        "blk.2.attn_q_norm.weight",
        "blk.2.attn_q.bias",
        "blk.2.attn_q.weight",
        "blk.2.attn_k.weight",
        "blk.2.attn_v.weight",
        "blk.2.attn_output.weight",
        "blk.2.ffn_norm.weight",
        "blk.2.ffn_gate.weight",
        "blk.2.ffn_up.weight",
        "blk.2.ffn_down.weight",
        "blk.2.zz_extra.weight", // unknown parts after the known ones
        "blk.10.attn_norm.weight", // by number: 10 after 2
        "blk.x.weight",            // no block number: with the other tensors, by name
        "rope_freqs.weight",
        "output_norm.weight",
        "output.weight",
    };
    std::vector<std::string> names = expected;
    std::mt19937 rng(3);
    for (int trial = 0; trial < 5; ++trial) {
        std::shuffle(names.begin(), names.end(), rng);
        std::sort(names.begin(), names.end(), tensorOrderLess);
        CHECK(names == expected);
    }
    CHECK_FALSE(tensorOrderLess("blk.1.attn_q.weight", "blk.1.attn_q.weight"));
}
