// Hostile files (issue 10): each case generates a file whose header claims something absurd (a zero dimension,
// 10^6 levels of JSON nesting, a huge matrix in a tiny file, an overflowing head count ...) and opens it through
// the public loader — in a forked child, or through bitstudio-cli for the cases that used to crash the process.
// Every case must end in a clean error naming the file and the field, in under 2 s, with under 512 MB of peak RSS
// growth (ru_maxrss). The readers refuse before allocating, so this also passes under AddressSanitizer.
#include "support/test_support.h"
#include "support/le_bytes.h"
#include <catch2/catch.hpp>

#include "bq/formats/bitstudio_gguf.h"
#include "bq/formats/gguf_file.h"
#include "bq/formats/gguf_model.h"
#include "bq/formats/hf_config.h"
#include "bq/formats/model_loader.h"
#include "bq/formats/safetensors_reader.h"
#include "bq/model/tensor.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/quant/run/run_file.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/sentencepiece_model.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include "bq/util/errors.h"
#include "bq/util/limits.h"

#include <hdf5.h>

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace bq;
namespace fs = std::filesystem;

namespace {

constexpr double kMaxSeconds = 2.0;
constexpr long kMaxRssGrowthKb = 512L * 1024;

void writeBytes(const fs::path& p, const std::string& bytes)
{
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

long maxRssKb()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct Outcome {
    bool threw = false;       // in-process: an exception came out of the loader
    bool crashed = false;     // the child died of a signal or exited oddly
    int exitCode = -1;        // CLI runs
    std::string message;      // what() or the CLI's stderr
    double seconds = 0;       // the load itself
    long rssGrowthKb = 0;     // peak RSS growth of the child (ru_maxrss after - before)
};

// Runs fn in a forked child: the child measures its own ru_maxrss (RUSAGE_SELF) before and after, and the time,
// and sends them with what() back through a pipe. A crash in fn fails the test instead of killing the runner.
Outcome inChild(const std::function<void()>& fn)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        const long before = maxRssKb();
        const auto t0 = std::chrono::steady_clock::now();
        std::string msg;
        char threw = '0';
        try {
            fn();
        } catch (const std::exception& e) {
            threw = '1';
            msg = e.what();
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const long growth = maxRssKb() - before;
        const std::string out = std::string(1, threw) + " " + std::to_string(s) + " " + std::to_string(growth) + "\n" + msg;
        std::size_t done = 0;
        while (done < out.size()) {
            const ssize_t w = write(fds[1], out.data() + done, out.size() - done);
            if (w <= 0)
                break;
            done += static_cast<std::size_t>(w);
        }
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    Outcome o;
    o.crashed = !WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty();
    if (!o.crashed) {
        const auto nl = text.find('\n');
        std::istringstream head(text.substr(0, nl));
        char threw = '0';
        head >> threw >> o.seconds >> o.rssGrowthKb;
        o.threw = threw == '1';
        o.message = text.substr(nl + 1);
    }
    return o;
}

// Runs bitstudio-cli with stdout/stderr to files; wait4 gives that child's own peak RSS (ru_maxrss).
Outcome runCliMeasured(const std::vector<std::string>& args, const bqtest::TempDir& tmp, rlim_t addressSpace = 0)
{
    const fs::path outFile = tmp / "cli.out", errFile = tmp / "cli.err";
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int o = open(outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        if (addressSpace) {
            const rlimit lim{addressSpace, addressSpace};
            setrlimit(RLIMIT_AS, &lim);
        }
        std::vector<std::string> copy = args;
        std::string exe = bqtest::cliPath().string();
        std::vector<char*> argv{exe.data()};
        for (auto& a : copy)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    Outcome r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.crashed = !WIFEXITED(status);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.rssGrowthKb = ru.ru_maxrss; // the whole CLI process, an upper bound of its growth
    r.message = bqtest::readFile(errFile);
    return r;
}

// The outcome every hostile file must have: a clean error naming the file and every fragment (field, limit).
void requireCleanRefusal(const Outcome& o, const fs::path& file, const std::vector<std::string>& fragments)
{
    INFO("message: " << o.message);
    INFO("seconds: " << o.seconds << ", peak RSS growth: " << o.rssGrowthKb << " KB");
    REQUIRE_FALSE(o.crashed);
    if (o.exitCode >= 0) {
        CHECK(o.exitCode == 1);
    } else {
        CHECK(o.threw);
    }
    CHECK(o.message.find(file.filename().string()) != std::string::npos);
    for (const auto& f : fragments)
        CHECK(o.message.find(f) != std::string::npos);
    CHECK(o.message.find("bad_alloc") == std::string::npos);
    CHECK(o.seconds < kMaxSeconds);
    CHECK(o.rssGrowthKb < kMaxRssGrowthKb);
    WARN("hostile " << file.filename().string() << ": " << o.seconds << " s, peak RSS growth " << o.rssGrowthKb
                    << " KB");
}

using G = bqtest::LeBytes;

// GGUF with general.architecture llama, valid small dimensions except what `extra` sets, and one tensor.
std::string llamaGguf(const std::vector<std::pair<std::string, std::uint32_t>>& dims, const std::string& tensor,
                      std::vector<std::uint64_t> ne)
{
    G g;
    g.header(1, 1 + dims.size());
    g.kvStr("general.architecture", "llama");
    for (const auto& [k, v] : dims)
        g.kvU32(k, v);
    g.str(tensor).u32(static_cast<std::uint32_t>(ne.size()));
    std::uint64_t n = 1;
    for (auto d : ne) {
        g.u64(d);
        n *= d;
    }
    g.u32(0).u64(0); // F32 at data offset 0
    g.pad();
    g.b.append(static_cast<std::size_t>(n * 4), '\0');
    return g.b;
}

std::string nested(char open, char close, std::size_t depth, const std::string& inner = "")
{
    return std::string(depth, open) + inner + std::string(depth, close);
}

// A tokenizer.json with a two-piece vocabulary and the given extra top-level member.
std::string tokenizerJson(const std::string& extra)
{
    return R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})" + extra + "}";
}

} // namespace

// ---- 1. zero dimensions: the division by zero ----

TEST_CASE("a GGUF tensor with a zero dimension is refused, not a SIGFPE", "[hostile][gguf]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "zero-dim.gguf";
    writeBytes(p, llamaGguf({{"llama.embedding_length", 8}, {"llama.attention.head_count", 2}}, "rope_freqs.weight",
                            {0, 5}));
    CHECK(fs::file_size(p) < 400);
    // What used to kill `info` and `convert --to gguf --dtype q8_0` with SIGFPE.
    requireCleanRefusal(runCliMeasured({"info", p.string()}, tmp), p, {"rope_freqs.weight", "ne[0]", "positive"});
    requireCleanRefusal(runCliMeasured({"convert", p.string(), (tmp / "out.gguf").string(), "--to", "gguf",
                                        "--dtype", "q8_0"}, tmp),
                        p, {"rope_freqs.weight", "ne[0]"});
    requireCleanRefusal(inChild([&] { GgufFile::open(p); }), p, {"tensor 'rope_freqs.weight' ne[0]"});
    // The second dimension too.
    writeBytes(p, llamaGguf({}, "w", {32, 0}));
    requireCleanRefusal(inChild([&] { GgufFile::open(p); }), p, {"tensor 'w' ne[1]", "positive"});
}

TEST_CASE("Tensor::rows is safe on a zero last dimension", "[hostile][tensor]")
{
    Tensor t;
    t.shape = {5, 0};
    CHECK(t.rows() == 0);
    CHECK(t.cols() == 0);
    t.shape = {0, 5};
    CHECK(t.rows() == 0);
    t.shape = {3, 5};
    CHECK(t.rows() == 3);
}

TEST_CASE("zero dimensions in safetensors, config.json and llama2.c headers are refused", "[hostile][zero]")
{
    bqtest::TempDir tmp;
    // safetensors: shape [4, 0]
    const fs::path st = tmp / "zero.safetensors";
    {
        const std::string header = R"({"w":{"dtype":"F32","shape":[4,0],"data_offsets":[0,0]}})";
        std::string bytes(8, '\0');
        const std::uint64_t n = header.size();
        std::memcpy(bytes.data(), &n, 8);
        writeBytes(st, bytes + header);
    }
    requireCleanRefusal(inChild([&] { SafetensorsFile::open(st); }), st, {"tensor 'w' shape[1]", "positive"});

    // config.json: hidden_size 0
    const fs::path dir = tmp / "hf";
    fs::create_directories(dir);
    const fs::path cfg = dir / "config.json";
    writeBytes(cfg, R"({"architectures":["LlamaForCausalLM"],"hidden_size":0,"intermediate_size":8,)"
                    R"("num_hidden_layers":1,"num_attention_heads":2,"vocab_size":4})");
    requireCleanRefusal(inChild([&] { loadModel(dir); }), cfg, {"hidden_size", "positive"});
    writeBytes(cfg, R"({"architectures":["LlamaForCausalLM"],"hidden_size":8,"intermediate_size":8,)"
                    R"("num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":0,"vocab_size":4})");
    requireCleanRefusal(inChild([&] { loadModel(dir); }), cfg, {"num_key_value_heads", "positive"});

    // llama2.c: n_layers 0 in the 28-byte config
    const fs::path l2 = tmp / "zero-layers.bin";
    const std::int32_t hdr[7] = {8, 8, 0, 2, 2, 4, 4};
    writeBytes(l2, std::string(reinterpret_cast<const char*>(hdr), sizeof hdr) + std::string(4096, '\0'));
    requireCleanRefusal(inChild([&] { loadModel(l2); }), l2, {"n_layers", "positive"});
}

// ---- 2. JSON nesting: the stack overflow ----

TEST_CASE("tokenizer.json nested 10^6 levels is refused by the depth limit, not a SIGSEGV", "[hostile][json]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "tokenizer.json";
    writeBytes(p, tokenizerJson(R"(,"post_processor":)" + nested('[', ']', 1000000)));
    const fs::path text = tmp / "text.txt";
    writeBytes(text, "ab ab\n");
    requireCleanRefusal(runCliMeasured({"tokenize", "--tokenizer", p.string(), "--text", text.string()}, tmp), p,
                        {"depth limit", "64"});
    requireCleanRefusal(inChild([&] { HfBpeTokenizer::fromJsonFile(p); }), p, {"nested at most 64"});

    // Normalizer / pre-tokenizer / decoder sequences nested 20,000 levels (the 4.9 GB path strings).
    std::string seq = R"({"type":"Lowercase"})";
    std::string deep;
    for (int i = 0; i < 20000; ++i)
        deep += R"({"type":"Sequence","normalizers":[)";
    deep += seq;
    for (int i = 0; i < 20000; ++i)
        deep += "]}";
    for (const char* member : {"normalizer", "pre_tokenizer", "decoder"}) {
        writeBytes(p, tokenizerJson(std::string(",\"") + member + "\":" + deep));
        requireCleanRefusal(inChild([&] { HfBpeTokenizer::fromJsonFile(p); }), p, {"depth limit"});
    }
    // A depth just inside the limit still loads (the check counts brackets correctly, strings excluded).
    writeBytes(p, tokenizerJson(R"(,"post_processor":null,"x":)" + nested('[', ']', 60, R"("[[[[[[[[[[")")));
    const Outcome ok = inChild([&] { HfBpeTokenizer::fromJsonFile(p); });
    INFO(ok.message);
    CHECK_FALSE(ok.crashed);
    CHECK_FALSE(ok.threw);
}

TEST_CASE("config.json, tokenizer_config.json, recipe JSON and safetensors headers have the depth limit",
          "[hostile][json]")
{
    bqtest::TempDir tmp;
    const fs::path dir = tmp / "hf";
    fs::create_directories(dir);
    const fs::path cfg = dir / "config.json";
    writeBytes(cfg, R"({"architectures":["LlamaForCausalLM"],"x":)" + nested('{', '}', 500000, "") + "}");
    // (unbalanced on purpose: the depth scan fires before the parser would notice)
    requireCleanRefusal(inChild([&] { loadModel(dir); }), cfg, {"depth limit"});
    requireCleanRefusal(inChild([&] { parseHfConfig(bqtest::readFile(cfg), cfg.string()); }), cfg, {"depth limit"});

    const fs::path recipe = tmp / "deep.recipe.json";
    writeBytes(recipe, R"({"schema":"bitstudio.recipe/1","defaults":)" + nested('[', ']', 200000) + "}");
    requireCleanRefusal(inChild([&] { quant::loadRecipeFile(recipe.string()); }), recipe, {"recipe", "depth limit"});

    // safetensors header of '[' (15 MiB, under the 16 MiB header cap): refused by depth, not parsed.
    const fs::path st = tmp / "deep.safetensors";
    {
        const std::uint64_t n = 15ull << 20;
        std::string bytes(8, '\0');
        std::memcpy(bytes.data(), &n, 8);
        bytes.append(static_cast<std::size_t>(n), '[');
        writeBytes(st, bytes);
    }
    requireCleanRefusal(inChild([&] { SafetensorsFile::open(st); }), st, {"header", "depth limit"});
    // The reported 99 MB header of '[': refused by the header cap before anything is read.
    {
        const std::uint64_t n = 99ull * 1000 * 1000;
        std::ofstream f(st, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(&n), 8);
        const std::string chunk(1 << 20, '[');
        for (std::uint64_t left = n; left > 0;) {
            const auto k = std::min<std::uint64_t>(left, chunk.size());
            f.write(chunk.data(), static_cast<std::streamsize>(k));
            left -= k;
        }
    }
    requireCleanRefusal(inChild([&] { SafetensorsFile::open(st); }), st, {"header length", "16 MiB"});
}

// ---- 3. allocations driven by a header ----

TEST_CASE("a 17 KB GGUF claiming a 2^15 x 2^17 bitstudio layer is refused before allocating", "[hostile][gguf]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "huge-layer.gguf";
    const std::string name = "blk.0.attn_q.weight";
    auto layerFile = [&](std::int64_t rows, std::int64_t cols, int planes) {
        std::string planeList;
        for (int k = 0; k < planes; ++k)
            planeList += std::string(k ? "," : "") + R"({"group":0,"mask":"all","colscale":false,"mean":false})";
        const std::string desc = R"({"method":"sign","rows":)" + std::to_string(rows) + R"(,"cols":)" +
                                 std::to_string(cols) + R"(,"planes":[)" + planeList + R"(],"codes":null})";
        G g;
        g.header(0, 3);
        g.str(kBitstudioTensorsKey).u32(9).u32(8).u64(1).str(name);
        g.kvStr(std::string(kBitstudioTensorKeyPrefix) + name, desc);
        g.kvStr("padding", std::string(17000, 'x'));
        return g.b;
    };
    writeBytes(p, layerFile(1 << 15, 1 << 17, 1));
    CHECK(fs::file_size(p) < 18000);
    requireCleanRefusal(inChild([&] { loadBitstudioLayers(p); }), p,
                        {"bitstudio.tensor." + name, "rows x cols", "32768 x 131072"});
    // Below the 2^24 per-dimension check but 64 planes: the budget counts every plane.
    writeBytes(p, layerFile(1 << 12, 1 << 12, 64));
    requireCleanRefusal(inChild([&] { loadBitstudioLayers(p); }), p, {"rows x cols", "x 64)"});
    // Within the budget, the missing sign tensor is reported (nothing was allocated for it first).
    writeBytes(p, layerFile(64, 64, 1));
    requireCleanRefusal(inChild([&] { loadBitstudioLayers(p); }), p, {"tensor blk.0.attn_q.p0.signs"});
}

TEST_CASE("a 67-byte tokenizer.json with vocabulary id 0x7FFFFFF is refused", "[hostile][tokenizer]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "tokenizer.json";
    writeBytes(p, R"({"model":{"type":"BPE","vocab":{"a":134217727},"merges":[]}})");
    CHECK(fs::file_size(p) <= 67);
    requireCleanRefusal(inChild([&] { HfBpeTokenizer::fromJsonFile(p); }), p, {"model.vocab[\"a\"]", "below"});
    // The same through added_tokens.
    writeBytes(p, R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},)"
                  R"("added_tokens":[{"id":4000000,"content":"<x>","special":true}]})");
    requireCleanRefusal(inChild([&] { HfBpeTokenizer::fromJsonFile(p); }), p, {"added_tokens[0].id"});
}

TEST_CASE("a llama2.c vocabulary of 2^24 with a 13-byte tokenizer.bin is refused before allocating",
          "[hostile][llama2c]")
{
    bqtest::TempDir tmp;
    const fs::path tok = tmp / "tokenizer.bin";
    writeBytes(tok, std::string("\x10\0\0\0", 4) + std::string(9, '\0'));
    REQUIRE(fs::file_size(tok) == 13);
    requireCleanRefusal(inChild([&] { SpBpeTokenizer::fromLlama2cFile(tok, 1 << 24); }), tok, {"vocab_size"});

    // Through the model loader: a valid tiny v0 checkpoint (vocab 4) next to a tokenizer too short for it.
    const fs::path ckpt = tmp / "model.bin";
    {
        const std::int32_t hdr[7] = {8, 8, 1, 2, 2, 4, 4}; // dim, hidden, layers, heads, kv heads, vocab, seq
        // floats: emb 4x8, att norm 8, q/k/v/o 4x64, ffn norm 8, w1/w2/w3 3x64, final norm 8, freq_cis 4x4
        const std::size_t floats = 32 + 8 + 256 + 8 + 192 + 8 + 16;
        writeBytes(ckpt, std::string(reinterpret_cast<const char*>(hdr), sizeof hdr) + std::string(floats * 4, '\0'));
    }
    LoadOptions o;
    o.tokenizerPath = tok;
    requireCleanRefusal(inChild([&] { loadModel(ckpt, o); }), tok, {"vocab_size"});
    // A checkpoint header claiming a vocabulary of 2^30: refused by the file-size check, before any tensor.
    const std::int32_t big[7] = {8, 8, 1, 2, 2, 1 << 30, 4};
    writeBytes(ckpt, std::string(reinterpret_cast<const char*>(big), sizeof big) + std::string(2048, '\0'));
    requireCleanRefusal(inChild([&] { loadModel(ckpt, o); }), ckpt, {"file size", "vocab_size 1073741824"});
}

TEST_CASE("GGUF arrays of arrays are charged against the metadata memory budget", "[hostile][gguf]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "arrays.gguf";
    // 10^6 empty nested arrays: 12 bytes each in the file, a whole GgufValue each in memory.
    const std::uint64_t count = 1000000;
    G g;
    g.header(0, 1);
    g.str("x.nested").u32(9).u32(9).u64(count);
    for (std::uint64_t k = 0; k < count; ++k)
        g.u32(4).u64(0);
    writeBytes(p, g.b);
    REQUIRE(sizeof(GgufValue) * count > limits::kGgufMetadataBytesPerFileByte * g.b.size() + (1u << 20));
    requireCleanRefusal(inChild([&] { GgufFile::open(p); }), p, {"'x.nested' count", "bytes of memory per byte"});
    // The same amount of plain scalars is fine (8 bytes in memory per 4 in the file).
    G ok;
    ok.header(0, 1);
    ok.str("x.flat").u32(9).u32(4).u64(count);
    for (std::uint64_t k = 0; k < count; ++k)
        ok.u32(static_cast<std::uint32_t>(k));
    writeBytes(p, ok.b);
    const Outcome o = inChild([&] {
        if (GgufFile::open(p)->find("x.flat")->arraySize() != count)
            throw std::runtime_error("wrong size");
    });
    INFO(o.message);
    CHECK_FALSE(o.crashed);
    CHECK_FALSE(o.threw);
}

TEST_CASE("a SentencePiece .model with an absurd length field is refused", "[hostile][sp]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "tokenizer.model";
    // field 1 (pieces), wire type 2, length varint 2^40, then nothing.
    std::string b = "\x0a";
    std::uint64_t len = 1ull << 40;
    while (len >= 0x80) {
        b += static_cast<char>((len & 0x7F) | 0x80);
        len >>= 7;
    }
    b += static_cast<char>(len);
    writeBytes(p, b);
    requireCleanRefusal(inChild([&] { loadSentencePieceModel(p); }), p, {"ModelProto"});
}

// ---- 4. overflow ----

TEST_CASE("head_count = key_length = 65536 is refused by the config caps", "[hostile][gguf]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "heads.gguf";
    writeBytes(p, llamaGguf({{"llama.embedding_length", 64},
                             {"llama.feed_forward_length", 64},
                             {"llama.block_count", 1},
                             {"llama.attention.head_count", 65536},
                             {"llama.attention.key_length", 65536},
                             {"llama.vocab_size", 4}},
                            "output_norm.weight", {64}));
    requireCleanRefusal(inChild([&] { loadModel(p); }), p, {"n_heads (head_count)", "4096"});
    requireCleanRefusal(runCliMeasured({"info", p.string()}, tmp), p, {"head_count"});
    // Within the head cap, the product n_heads * head_dim still overflows the dimension cap.
    writeBytes(p, llamaGguf({{"llama.embedding_length", 64},
                             {"llama.feed_forward_length", 64},
                             {"llama.block_count", 1},
                             {"llama.attention.head_count", 4096},
                             {"llama.attention.key_length", 65536},
                             {"llama.vocab_size", 4}},
                            "output_norm.weight", {64}));
    requireCleanRefusal(inChild([&] { loadModel(p); }), p, {"n_heads * head_dim", "4096 * 65536"});

    // config.json: the same numbers.
    const fs::path dir = tmp / "hf";
    fs::create_directories(dir);
    const fs::path cfg = dir / "config.json";
    writeBytes(cfg, R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":64,)"
                    R"("num_hidden_layers":1,"num_attention_heads":65536,"head_dim":65536,"vocab_size":4})");
    requireCleanRefusal(inChild([&] { loadModel(dir); }), cfg, {"n_heads (head_count)"});
}

// A valid run file of one block with a one-key recipe, just created (status running, no layers).
void writeTinyRunFile(const fs::path& p)
{
    {
        quant::RunHeader h;
        h.recipe = {{"schema", "bitstudio.recipe/1"}};
        h.modelPath = ":demo";
        h.calibration = {{"source", "demo"}};
        h.calibrationTokens.samples = 1;
        h.calibrationTokens.seqLen = 2;
        h.calibrationTokens.ids = {1, 2};
        h.blockCount = 1;
        auto w = quant::RunFileWriter::create(p, h);
    }
    REQUIRE_NOTHROW(quant::RunFileReader{p});
}

TEST_CASE("an HDF5 run file whose chunked dataset claims 2^40 elements is refused", "[hostile][run_file]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "run.h5";
    writeTinyRunFile(p);
    // Replace /calib/tokens by a chunked dataset of 2^20 x 2^20 int32 with no chunk written (a few KB of file).
    {
        const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        REQUIRE(H5Ldelete(f, "/calib/tokens", H5P_DEFAULT) >= 0);
        const hsize_t dims[2] = {1u << 20, 1u << 20}, chunk[2] = {1, 1024};
        const hid_t space = H5Screate_simple(2, dims, nullptr);
        const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        const hid_t d = H5Dcreate2(f, "/calib/tokens", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        REQUIRE(d >= 0);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(space);
        H5Fclose(f);
    }
    CHECK(fs::file_size(p) < 1000000);
    requireCleanRefusal(inChild([&] { quant::RunFileReader r(p); }), p,
                        {"/calib/tokens dimensions", "1048576 x 1048576", "stored"});
    // A run file whose stored recipe JSON nests past the depth limit.
    {
        const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        REQUIRE(H5Ldelete(f, "/calib/tokens", H5P_DEFAULT) >= 0);
        const hsize_t dims[2] = {1, 2};
        const hid_t space = H5Screate_simple(2, dims, nullptr);
        const hid_t d = H5Dcreate2(f, "/calib/tokens", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const std::int32_t ids[2] = {1, 2};
        REQUIRE(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) >= 0);
        H5Dclose(d);
        H5Sclose(space);
        REQUIRE(H5Ldelete(f, "/meta/recipe", H5P_DEFAULT) >= 0);
        const hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        const hid_t s = H5Screate(H5S_SCALAR);
        const hid_t r = H5Dcreate2(f, "/meta/recipe", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const std::string deep = nested('[', ']', 100000);
        const char* text = deep.c_str();
        REQUIRE(H5Dwrite(r, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
        H5Dclose(r);
        H5Sclose(s);
        H5Tclose(t);
        H5Fclose(f);
    }
    requireCleanRefusal(inChild([&] { quant::RunFileReader r(p); }), p, {"/meta/recipe", "depth limit"});
}

TEST_CASE("a run file whose HDF5 global heap would send libhdf5 into an endless loop is refused, not a hang",
          "[hostile][run_file]")
{
    // Found by fuzz_run_file: libhdf5 1.10 decodes a global heap collection ("GCOL") by moving on by each
    // object's size, so a free-space object (index 0) of size 0, or a size that wraps the pointer, loops forever
    // in every H5Aread of a string.
    bqtest::TempDir tmp;
    const fs::path p = tmp / "gcol.h5";
    writeTinyRunFile(p);
    const std::string original = bqtest::readFile(p);
    std::string bytes = original;
    const auto le64 = [&](std::size_t at) {
        std::uint64_t v = 0;
        std::memcpy(&v, bytes.data() + at, 8);
        return v;
    };
    const std::size_t gcol = bytes.find("GCOL");
    REQUIRE(gcol != std::string::npos);
    // Walk the collection to its free-space object and set that object's size to 0.
    std::size_t at = gcol + 16;
    const std::size_t end = gcol + le64(gcol + 8);
    while (at + 16 <= end && (bytes[at] != 0 || bytes[at + 1] != 0))
        at += 16 + ((le64(at + 8) + 7) & ~std::uint64_t(7));
    REQUIRE(at + 16 <= end);
    std::memset(bytes.data() + at + 8, 0, 8);
    writeBytes(p, bytes);
    requireCleanRefusal(inChild([&] { quant::RunFileReader r(p); }), p, {"global heap collection", "loop forever"});
    // An object size near 2^64 wraps HDF5's pointer backwards: the same endless loop.
    std::string wrap = original;
    const std::uint64_t huge = ~std::uint64_t(0) - 747;
    std::memcpy(wrap.data() + gcol + 16 + 8, &huge, 8);
    writeBytes(p, wrap);
    requireCleanRefusal(inChild([&] { quant::RunFileReader r(p); }), p, {"global heap collection", "loop forever"});
}

// libhdf5's own metadata checksum (Bob Jenkins' lookup3), exported by the Debian 12 library: a test that edits an
// object header must re-seal it, or HDF5 refuses the header before the check under test is reached.
extern "C" std::uint32_t H5_checksum_lookup3(const void* key, std::size_t length, std::uint32_t initval);

TEST_CASE("a run file whose string descriptor disagrees with its heap object is refused before libhdf5 allocates",
          "[hostile][run_file]")
{
    // Found by fuzz_run_file: libhdf5 1.10 allocates a variable-length string's length field (up to 4 GiB) before
    // it reads the heap object, and copies the object's whole size into that buffer when the length is smaller.
    bqtest::TempDir tmp;
    const fs::path p = tmp / "vlen.h5";
    writeTinyRunFile(p);
    const std::string original = bqtest::readFile(p);
    const auto le = [](const std::string& b, std::size_t at, int bytes) {
        std::uint64_t v = 0;
        std::memcpy(&v, b.data() + at, std::size_t(bytes));
        return v;
    };
    // The descriptor (length, collection address, index) of the heap object that holds `text`.
    const std::size_t gcol = original.find("GCOL");
    REQUIRE(gcol != std::string::npos);
    const auto descriptorOf = [&](const std::string& text) {
        std::size_t at = gcol + 16;
        std::uint64_t index = 0;
        while (at + 16 <= gcol + le(original, gcol + 8, 8)) {
            const std::uint64_t size = le(original, at + 8, 8);
            if (original.compare(at + 16, size, text) == 0 && size == text.size()) index = le(original, at, 2);
            at += 16 + ((size + 7) & ~std::uint64_t(7));
        }
        REQUIRE(index > 0);
        std::string pattern(16, '\0');
        const std::uint32_t length = std::uint32_t(text.size()), idx = std::uint32_t(index);
        const std::uint64_t address = gcol;
        std::memcpy(pattern.data(), &length, 4);
        std::memcpy(pattern.data() + 4, &address, 8);
        std::memcpy(pattern.data() + 12, &idx, 4);
        const std::size_t found = original.find(pattern);
        REQUIRE(found != std::string::npos);
        CHECK(original.find(pattern, found + 1) == std::string::npos);
        return found;
    };
    const auto withLength = [&](std::size_t descriptor, std::uint32_t length) {
        std::string bytes = original;
        std::memcpy(bytes.data() + descriptor, &length, 4);
        return bytes;
    };

    // The stored recipe: a contiguous string dataset, its descriptor in raw data that no checksum covers.
    const std::size_t recipe = descriptorOf(nlohmann::json{{"schema", "bitstudio.recipe/1"}}.dump(2));
    for (const std::uint32_t length : {0x7FFFFFF0u, 1u}) {
        writeBytes(p, withLength(recipe, length));
        const Outcome o = inChild([&] { quant::RunFileReader r(p); });
        requireCleanRefusal(o, p, {"/meta/recipe (string descriptor)", "a length equal to its heap object's size"});
        CHECK(o.rssGrowthKb < 200 * 1024);
    }
    std::string badIndex = original;
    badIndex[recipe + 12] = char(0x7F);
    writeBytes(p, badIndex);
    requireCleanRefusal(inChild([&] { quant::RunFileReader r(p); }), p,
                        {"/meta/recipe (string descriptor)", "is not there"});

    // The schema attribute: its descriptor sits in an object header chunk sealed by a checksum, which a hostile
    // writer recomputes. Find the chunk (a signature before the descriptor whose stored checksum matches).
    const std::size_t schema = descriptorOf(quant::kRunFileSchema);
    std::size_t chunk = std::string::npos, sealed = 0;
    for (std::size_t s = schema; s-- > 0 && chunk == std::string::npos;) {
        if (original.compare(s, 4, "OHDR") != 0 && original.compare(s, 4, "OCHK") != 0) continue;
        for (std::size_t end = schema + 16; end + 4 <= original.size() && end < s + 65536; ++end)
            if (H5_checksum_lookup3(original.data() + s, end - s, 0) == std::uint32_t(le(original, end, 4))) {
                chunk = s;
                sealed = end;
                break;
            }
    }
    REQUIRE(chunk != std::string::npos);
    std::string bytes = withLength(schema, 0x7FFFFFF0u);
    const std::uint32_t sum = H5_checksum_lookup3(bytes.data() + chunk, sealed - chunk, 0);
    std::memcpy(bytes.data() + sealed, &sum, 4);
    writeBytes(p, bytes);
    const Outcome o = inChild([&] { quant::RunFileReader r(p); });
    requireCleanRefusal(o, p, {"/@schema (string descriptor)", "a length equal to its heap object's size"});
    CHECK(o.rssGrowthKb < 200 * 1024);
}

// ---- 5. errors that name the file ----

TEST_CASE("a GGUF-embedded tokenizer names the GGUF file in its errors", "[hostile][gguf][tokenizer]")
{
    bqtest::TempDir tmp;
    const fs::path p = tmp / "tok.gguf";
    G g;
    g.header(0, 4);
    g.kvStr("tokenizer.ggml.model", "gpt2");
    g.kvStr("tokenizer.ggml.pre", "no-such-pre");
    g.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("b");
    g.str("tokenizer.ggml.token_type").u32(9).u32(5).u64(2).u32(1).u32(1);
    writeBytes(p, g.b);
    const Outcome o = inChild([&] { tokenizerFromGguf(*GgufFile::open(p)); });
    requireCleanRefusal(o, p, {"tokenizer.ggml.pre", "no-such-pre"});
    CHECK(o.message.rfind("GGUF:", 0) != 0);
}

#if defined(__SANITIZE_ADDRESS__)
#define BQ_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BQ_TEST_ASAN 1
#endif
#endif

TEST_CASE("the CLI turns std::bad_alloc into a message naming the file being read", "[hostile][cli]")
{
#ifdef BQ_TEST_ASAN
    WARN("SKIPPED: an address-space limit cannot be combined with AddressSanitizer's shadow memory");
#else
    if (!bqtest::haveShared("ts5m"))
        return;
    bqtest::TempDir tmp;
    const fs::path model = bqtest::sharedPath("models/ts5m/ts5m.bin");
    const fs::path tok = bqtest::sharedPath("models/stories260K/tok512.bin");
    // Lower the address-space limit until the conversion runs out of memory: one run must end in the named
    // message, and no run may print a bare bad_alloc.
    int named = 0;
    // (The window is narrow: about 52-55 MB for the release build, where lower limits fail the file's mmap first.)
    for (rlim_t mb = 128; mb >= 32 && named == 0; mb -= 2) {
        fs::remove(tmp / "out.gguf");
        const Outcome o = runCliMeasured({"convert", model.string(), (tmp / "out.gguf").string(), "--to", "gguf",
                                          "--dtype", "q8_0", "--tokenizer", tok.string()},
                                         tmp, mb << 20);
        INFO("limit " << mb << " MB: exit " << o.exitCode << ": " << o.message);
        CHECK_FALSE(o.crashed);
        CHECK(o.message.find("std::bad_alloc") == std::string::npos);
        if (o.message.find("out of memory while reading") != std::string::npos) {
            CHECK(o.message.find("ts5m.bin") != std::string::npos);
            CHECK(o.exitCode == 1);
            ++named;
            CHECK(o.message.find("out.gguf") == std::string::npos); // outputs are not being read
            WARN("out of memory at an address-space limit of " << mb << " MB: " << o.message);
        }
    }
    CHECK(named == 1);
#endif
}
