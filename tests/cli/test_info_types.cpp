// `bitstudio-cli info`: the type mix (tensors and weights per type) and the true bits per weight, checked against
// values worked out here from the tensor shapes and the block sizes of the formats.
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

using bqtest::runCli;

namespace {

const nlohmann::json* findType(const nlohmann::json& mix, const std::string& type)
{
    for (const auto& row : mix)
        if (row["type"] == type)
            return &row;
    return nullptr;
}

} // namespace

TEST_CASE("info lists the type mix and bits per weight of a Q8_0 GGUF", "[cli][info]")
{
    bqtest::TempDir tmp;
    const auto gguf = tmp / "demo_q8.gguf";
    const auto conv = runCli({"convert", ":demo", gguf.string(), "--to", "gguf", "--dtype", "q8_0"});
    INFO(conv.err);
    REQUIRE(conv.exitCode == 0);
    const auto r = runCli({"info", gguf.string(), "--json"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto j = nlohmann::json::parse(r.out);

    // From the tensor list: a Q8_0 block is 32 weights in 34 bytes, F32 4 bytes a weight.
    std::int64_t weights = 0, q8Weights = 0, matrixWeights = 0;
    int q8Tensors = 0, f32Tensors = 0, matrices = 0;
    std::uint64_t bytes = 0, matrixBytes = 0;
    for (const auto& t : j["tensors"]) {
        std::int64_t n = 1;
        for (const auto& d : t["shape"])
            n *= d.get<std::int64_t>();
        const bool q8 = t["dtype"] == "Q8_0";
        REQUIRE((q8 || t["dtype"] == "F32"));
        const std::uint64_t b = q8 ? std::uint64_t(n / 32 * 34) : std::uint64_t(n * 4);
        weights += n;
        bytes += b;
        (q8 ? q8Tensors : f32Tensors) += 1;
        if (q8)
            q8Weights += n;
        if (t["shape"].size() == 2) {
            ++matrices;
            matrixWeights += n;
            matrixBytes += b;
        }
    }
    REQUIRE(q8Tensors > 0);
    const auto* q8 = findType(j["type_mix"], "Q8_0");
    REQUIRE(q8);
    CHECK((*q8)["tensors"] == q8Tensors);
    CHECK((*q8)["weights"] == q8Weights);
    CHECK((*q8)["bits_per_weight"].get<double>() == 8.5);
    const auto* f32 = findType(j["type_mix"], "F32");
    REQUIRE(f32);
    CHECK((*f32)["tensors"] == f32Tensors);
    CHECK((*f32)["bits_per_weight"].get<double>() == 32.0);
    const auto& bits = j["bits_per_weight"];
    CHECK(bits["tensor_bytes"] == bytes);
    CHECK(bits["all"].get<double>() == Approx(8.0 * double(bytes) / double(weights)).epsilon(1e-12));
    CHECK(bits["matrix_tensors"] == matrices);
    CHECK(bits["matrix_weights"] == matrixWeights);
    CHECK(bits["matrices"].get<double>() == Approx(8.0 * double(matrixBytes) / double(matrixWeights)).epsilon(1e-12));
    const auto fileSize = std::filesystem::file_size(gguf);
    CHECK(bits["file_bytes"] == fileSize);
    CHECK(bits["file"].get<double>() == Approx(8.0 * double(fileSize) / double(weights)).epsilon(1e-12));

    const auto text = runCli({"info", gguf.string()});
    REQUIRE(text.exitCode == 0);
    CHECK(text.out.find("weights by type (bits/weight = 8 · stored bytes / weights):") != std::string::npos);
    CHECK(text.out.find("  Q8_0     ") != std::string::npos);
    CHECK(text.out.find("8.5000 bits/weight") != std::string::npos);
    CHECK(text.out.find("  matrices ") != std::string::npos);
    CHECK(text.out.find("(8 · file size / weights: headers and metadata included)") != std::string::npos);
}

TEST_CASE("info on SmolLM2-135M-Instruct Q4_1: Q4_1 210, F32 61, Q8_0 1 and its bits per weight", "[cli][info]")
{
    if (!bqtest::haveSmolLM2("info on SmolLM2"))
        return;
    const auto path = bqtest::smollm2Path();
    const auto r = runCli({"info", path.string(), "--json"});
    if (r.exitCode != 0 && r.err.find("tokenizer.ggml.pre") != std::string::npos &&
        r.err.find("smollm") != std::string::npos) {
        // The model loader reads the tokenizer too; its "smollm" pre-tokenizer is added separately (issue 11).
        WARN("SKIPPED: this build's tokenizer does not know SmolLM2's pre-tokenizer yet: " + r.err);
        return;
    }
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    const auto j = nlohmann::json::parse(r.out);

    // SmolLM2-135M: 30 blocks, dim 576, FFN 1536, 9 query heads and 3 KV heads of 64, vocabulary 49152, tied
    // embeddings. Per block 7 Q4_1 matrices: q and output 576×576, k and v 576×192, gate, up, down 576×1536;
    // two F32 norms of 576 per block plus output_norm; token_embd 49152×576 in Q8_0.
    const std::int64_t q41 = 30 * (2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536);
    const std::int64_t q80 = 49152 * 576, f32 = 61 * 576;
    const std::uint64_t q41Bytes = std::uint64_t(q41 / 32 * 20), q80Bytes = std::uint64_t(q80 / 32 * 34),
                        f32Bytes = std::uint64_t(f32 * 4);
    struct Expect {
        const char* type;
        int tensors;
        std::int64_t weights;
        double bits;
    };
    for (const Expect& e : {Expect{"F32", 61, f32, 32.0}, Expect{"Q8_0", 1, q80, 8.5}, Expect{"Q4_1", 210, q41, 5.0}}) {
        INFO(e.type);
        const auto* row = findType(j["type_mix"], e.type);
        REQUIRE(row);
        CHECK((*row)["tensors"] == e.tensors);
        CHECK((*row)["weights"] == e.weights);
        CHECK((*row)["bits_per_weight"].get<double>() == e.bits);
    }
    CHECK(j["type_mix"].size() == 3);
    const auto& bits = j["bits_per_weight"];
    const double all = 8.0 * double(q41Bytes + q80Bytes + f32Bytes) / double(q41 + q80 + f32);
    const double matrices = 8.0 * double(q41Bytes + q80Bytes) / double(q41 + q80);
    CHECK(bits["all"].get<double>() == Approx(all).epsilon(1e-12));
    CHECK(bits["matrices"].get<double>() == Approx(matrices).epsilon(1e-12));
    CHECK(bits["matrix_tensors"] == 211);
    const auto fileSize = std::filesystem::file_size(path);
    CHECK(bits["file"].get<double>() == Approx(8.0 * double(fileSize) / double(q41 + q80 + f32)).epsilon(1e-12));
    CHECK(all == Approx(5.7437).margin(1e-4)); // the figure the README quotes
}
