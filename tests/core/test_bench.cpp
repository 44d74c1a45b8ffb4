// The benchmark engine on a mock model whose forward pass takes a known minimum time, and the bandwidth probe.
#include "bq/bench/bandwidth.h"
#include "bq/bench/bench.h"
#include "bq/runtime/inference.h"
#include "bq/tokenizer/tokenizer.h"
#include "support/test_support.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "bq/formats/llama2c_reader.h"
#include "bq/runtime/fp32_model.h"

namespace {

class NoTokenizer final : public bq::Tokenizer {
public:
    std::vector<std::int32_t> encode(std::string_view, const bq::EncodeOptions& = {}) const override { return {}; }
    std::string decodeToken(std::int32_t, std::int32_t, bool) const override { return {}; }
    std::int32_t vocabSize() const override { return 1000; }
    std::string piece(std::int32_t) const override { return {}; }
    std::int32_t bosId() const override { return -1; }
    std::int32_t eosId() const override { return -1; }
    std::int32_t findPiece(std::string_view) const override { return -1; }
    std::string family() const override { return "none"; }
};

struct Calls {
    std::vector<int> sizes;      // tokens per forward call
    std::vector<bool> all;       // allPositions per call
    std::vector<std::int32_t> fed;
    int resets = 0;
};

// Every forward call sleeps `delay`, so tok/s has a hard upper bound; records what it is asked to run.
class SleepyModel final : public bq::InferenceModel {
public:
    SleepyModel(std::chrono::microseconds delay, int maxSeq) : m_delay(delay), m_calls(std::make_shared<Calls>())
    {
        m_cfg.dim = 32;
        m_cfg.nLayers = 2;
        m_cfg.nHeads = 4;
        m_cfg.nKvHeads = 2;
        m_cfg.headDim = 8; // kvDim 16 -> fp32 KV 2·2·16·4 = 256 bytes per position
        m_cfg.vocabSize = 1000;
        m_cfg.maxSeqLen = maxSeq;
    }
    const bq::ModelConfig& config() const override { return m_cfg; }
    const bq::Tokenizer& tokenizer() const override { return m_tok; }
    std::unique_ptr<bq::InferenceContext> newContext(int maxTokens) const override
    {
        return std::make_unique<Ctx>(*this, maxTokens > 0 ? std::min(maxTokens, m_cfg.maxSeqLen) : m_cfg.maxSeqLen);
    }
    std::string backendName() const override { return "sleepy"; }
    int threads() const override { return 1; }
    std::uint64_t weightBytesPerToken() const override { return 1'000'000; }
    Calls& calls() const { return *m_calls; }

private:
    class Ctx final : public bq::InferenceContext {
    public:
        Ctx(const SleepyModel& m, int cap) : m_model(m), m_cap(cap) {}
        void forward(std::span<const std::int32_t> tokens, bool allPositions, std::vector<float>& logits) override
        {
            if (m_pos + static_cast<int>(tokens.size()) > m_cap)
                throw std::length_error("full");
            auto& c = *m_model.m_calls;
            c.sizes.push_back(static_cast<int>(tokens.size()));
            c.all.push_back(allPositions);
            c.fed.insert(c.fed.end(), tokens.begin(), tokens.end());
            std::this_thread::sleep_for(m_model.m_delay);
            logits.assign(static_cast<std::size_t>(allPositions ? tokens.size() * 1000 : 1000), 0.0f);
            m_pos += static_cast<int>(tokens.size());
        }
        int position() const override { return m_pos; }
        int capacity() const override { return m_cap; }
        void reset() override
        {
            m_pos = 0;
            ++m_model.m_calls->resets;
        }

    private:
        const SleepyModel& m_model;
        int m_cap, m_pos = 0;
    };

    std::chrono::microseconds m_delay;
    NoTokenizer m_tok;
    bq::ModelConfig m_cfg;
    std::shared_ptr<Calls> m_calls;
};

class CancellingSink final : public bq::EventSink {
public:
    explicit CancellingSink(bq::CancelToken& c) : m_cancel(c) {}
    void progress(const bq::ProgressEvent& e) override
    {
        ++events;
        CHECK(e.stage == bq::Stage::Bench);
        m_cancel.request();
    }
    void layerDone(const bq::LayerResult&) override {}
    void log(bq::LogLevel, std::string_view) override {}
    int events = 0;

private:
    bq::CancelToken& m_cancel;
};

} // namespace

TEST_CASE("bench runs prefill and decode, computes the roofline share", "[bench]")
{
    auto model = std::make_shared<SleepyModel>(std::chrono::milliseconds(1), 64);
    bq::BenchRequest req;
    req.models = {model};
    req.promptTokens = 8;
    req.decodeTokens = 4;
    req.repeats = 3;
    req.measureBandwidth = false;
    req.bandwidthGBs = 10.0;
    bq::BenchReport rep;
    bq::NullSink sink;
    bq::CancelToken cancel;
    const auto res = bq::runBench(req, rep, sink, cancel);
    INFO(res.message);
    REQUIRE(res.status == bq::JobStatus::Completed);
    REQUIRE(rep.rows.size() == 1);
    const auto& row = rep.rows[0];

    // Calls: one warm-up token, then per repeat one 8-token prefill (last logits only) and 4 single tokens.
    const auto& c = model->calls();
    REQUIRE(c.sizes.size() == 1 + 3 * (1 + 4));
    CHECK(c.sizes[0] == 1);
    for (int r = 0; r < 3; ++r) {
        CHECK(c.sizes[static_cast<std::size_t>(1 + r * 5)] == 8);
        for (int i = 0; i < 4; ++i)
            CHECK(c.sizes[static_cast<std::size_t>(2 + r * 5 + i)] == 1);
    }
    CHECK(std::none_of(c.all.begin(), c.all.end(), [](bool b) { return b; }));
    CHECK(c.resets >= 3);
    // Deterministic ids inside the vocabulary; every repeat feeds the same ones.
    for (auto id : c.fed)
        CHECK((id > 0 && id < 1000));
    CHECK(std::equal(c.fed.begin() + 1, c.fed.begin() + 13, c.fed.begin() + 13));

    // Each call sleeps >= 1 ms: decode <= 1000 tok/s, prefill <= 8000 tok/s.
    CHECK(row.decodeTokS > 0);
    CHECK(row.decodeTokS <= 1000.0);
    CHECK(row.prefillTokS > 0);
    CHECK(row.prefillTokS <= 8000.0);

    // KV read per decoded token: 256 B per position × mean attended context 8 + (4 + 1) / 2 = 10.5.
    CHECK(bq::kvBytesPerPosition(model->config(), 4) == 256);
    CHECK(row.weightBytesPerToken == 1'000'000);
    CHECK(row.kvBytesPerToken == 2688);
    CHECK(row.rooflineTokS == Approx(10e9 / 1'002'688.0).epsilon(1e-12));
    CHECK(row.rooflineShare == Approx(row.decodeTokS / row.rooflineTokS).epsilon(1e-12));
    CHECK(row.backend == "sleepy");
    CHECK(row.peakRss > 0);
    CHECK(rep.threads == 1);
    CHECK(rep.bandwidthGBs == 10.0);

    const auto j = nlohmann::json::parse(bq::benchReportJson(rep));
    CHECK(j["bandwidth_gbs"].get<double>() == 10.0);
    CHECK(j["rows"].size() == 1);
    CHECK(j["rows"][0]["backend"] == "sleepy");
    CHECK(j["rows"][0]["kv_bytes_per_token"].get<std::uint64_t>() == 2688);
    CHECK(j["rows"][0]["roofline_share"].get<double>() == Approx(row.rooflineShare));
    const std::string table = bq::formatBenchTable(rep);
    CHECK(table.find("sleepy") != std::string::npos);
    CHECK(table.find("10.0 GB/s") != std::string::npos);
}

TEST_CASE("bench fails clearly and honours cancel", "[bench]")
{
    bq::NullSink sink;
    bq::CancelToken cancel;
    bq::BenchReport rep;
    bq::BenchRequest req;
    req.measureBandwidth = false;
    CHECK(bq::runBench(req, rep, sink, cancel).status == bq::JobStatus::Failed); // no model

    req.models = {std::make_shared<SleepyModel>(std::chrono::microseconds(0), 16)};
    req.promptTokens = 16;
    req.decodeTokens = 8;
    auto res = bq::runBench(req, rep, sink, cancel);
    CHECK(res.status == bq::JobStatus::Failed);
    CHECK(res.message.find("need 24") != std::string::npos);

    // A sink that cancels at the first progress event: stops after the first repeat.
    auto model = std::make_shared<SleepyModel>(std::chrono::microseconds(0), 64);
    req.models = {model, model};
    req.promptTokens = 4;
    req.decodeTokens = 2;
    req.repeats = 5;
    CancellingSink stopper(cancel);
    CHECK(bq::runBench(req, rep, stopper, cancel).status == bq::JobStatus::Cancelled);
    CHECK(stopper.events == 1);
    CHECK(model->calls().sizes.size() == 1 + 1 + 2);
    cancel.reset();

    cancel.request();
    CHECK(bq::runBench(req, rep, sink, cancel).status == bq::JobStatus::Cancelled);
}

TEST_CASE("read bandwidth probe returns a plausible figure", "[bench]")
{
    const double one = bq::measureReadBandwidthGBs(1, std::size_t(64) << 20, 3);
    INFO("1 thread, 64 MiB: " << one << " GB/s");
    CHECK(one > 0.5);
    CHECK(one < 5000.0);
    const double two = bq::measureReadBandwidthGBs(2, std::size_t(64) << 20, 2);
    INFO("2 threads: " << two << " GB/s");
    CHECK(two > 0.5);
    CHECK(bq::measureReadBandwidthGBs(1, 100, 1) > 0); // tiny and odd sizes still work
}

TEST_CASE("bench on stories260K with the fp32 runtime", "[bench][shared]")
{
    if (!bqtest::haveShared("stories260K bench"))
        return;
    auto model = bq::loadLlama2cModel(bqtest::sharedPath("models/stories260K/stories260K.bin"),
                                      bqtest::sharedPath("models/stories260K/tok512.bin"), true);
    bq::BenchRequest req;
    req.models = {bq::makeFp32Model(model, 1)};
    req.promptTokens = 32;
    req.decodeTokens = 16;
    req.repeats = 1;
    req.bandwidthBytes = std::size_t(32) << 20;
    bq::BenchReport rep;
    bq::NullSink sink;
    bq::CancelToken cancel;
    const auto res = bq::runBench(req, rep, sink, cancel);
    INFO(res.message);
    REQUIRE(res.status == bq::JobStatus::Completed);
    INFO(bq::formatBenchTable(rep));
    REQUIRE(rep.rows.size() == 1);
    const auto& row = rep.rows[0];
    CHECK(row.backend == "fp32");
    CHECK(row.prefillTokS > 0);
    CHECK(row.decodeTokS > 0);
    CHECK(row.weightBytesPerToken > 0);
    // 5 layers × kvDim 32 × fp32 × K and V = 1280 bytes per position, × mean context 32 + 17/2.
    CHECK(row.kvBytesPerToken == static_cast<std::uint64_t>(1280 * 40.5));
    CHECK(rep.bandwidthGBs > 0);
    CHECK(row.rooflineTokS == Approx(rep.bandwidthGBs * 1e9 /
                                     static_cast<double>(row.weightBytesPerToken + row.kvBytesPerToken)));
}
