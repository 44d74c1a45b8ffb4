// Perplexity and model comparison, checked against bigram mock models whose exact perplexity and KL follow
// from their probability tables, and (when ../shared and the llama2.c loader are present) against the
// stories260K golden figures.
#include "bq/eval/compare.h"
#include "bq/eval/perplexity.h"
#include "bq/tokenizer/documents.h"
#include "bq/runtime/inference.h"
#include "bq/tokenizer/tokenizer.h"
#include "support/test_support.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "bq/formats/llama2c_reader.h"
#include "bq/runtime/fp32_model.h"

namespace {

// id 0 = BOS, id i + 1 = alphabet[i]; characters outside the alphabet are dropped.
class CharTokenizer final : public bq::Tokenizer {
public:
    explicit CharTokenizer(std::string alphabet) : m_alphabet(std::move(alphabet)) {}
    std::vector<std::int32_t> encode(std::string_view text, const bq::EncodeOptions& o = {}) const override
    {
        std::vector<std::int32_t> ids;
        if (o.addBos)
            ids.push_back(0);
        for (char c : text)
            if (auto p = m_alphabet.find(c); p != std::string::npos)
                ids.push_back(static_cast<std::int32_t>(p + 1));
        return ids;
    }
    std::string decodeToken(std::int32_t, std::int32_t id, bool) const override { return piece(id); }
    std::int32_t vocabSize() const override { return static_cast<std::int32_t>(m_alphabet.size() + 1); }
    std::string piece(std::int32_t id) const override
    {
        return id <= 0 ? std::string() : std::string(1, m_alphabet[static_cast<std::size_t>(id - 1)]);
    }
    std::int32_t bosId() const override { return 0; }
    std::int32_t eosId() const override { return -1; }
    std::int32_t findPiece(std::string_view p) const override
    {
        return p.size() == 1 && m_alphabet.find(p[0]) != std::string::npos
                   ? static_cast<std::int32_t>(m_alphabet.find(p[0]) + 1)
                   : -1;
    }
    std::string family() const override { return "test-chars"; }

private:
    std::string m_alphabet;
};

using Table = std::vector<std::vector<double>>; // P[prev][next], rows sum to 1

struct FeedLog {
    std::vector<std::vector<std::int32_t>> sequences; // tokens fed, one entry per sequence started at position 0
    int forwards = 0;
};

// Next-token distribution depends only on the current token: logits = log P[t] + a per-row offset (which a
// correct log-softmax ignores).
class BigramModel final : public bq::InferenceModel {
public:
    BigramModel(std::string alphabet, const Table& p, int maxSeq)
        : m_tok(std::move(alphabet)), m_log(std::make_shared<FeedLog>())
    {
        m_cfg.dim = 8;
        m_cfg.nLayers = 1;
        m_cfg.nHeads = m_cfg.nKvHeads = 1;
        m_cfg.headDim = 8;
        m_cfg.vocabSize = m_tok.vocabSize();
        m_cfg.maxSeqLen = maxSeq;
        REQUIRE(p.size() == static_cast<std::size_t>(m_cfg.vocabSize));
        for (std::size_t r = 0; r < p.size(); ++r) {
            REQUIRE(p[r].size() == p.size());
            std::vector<float> row;
            for (double v : p[r])
                row.push_back(static_cast<float>(std::log(v) + 3.0 * static_cast<double>(r)));
            m_logits.push_back(row);
        }
    }
    const bq::ModelConfig& config() const override { return m_cfg; }
    const bq::Tokenizer& tokenizer() const override { return m_tok; }
    std::unique_ptr<bq::InferenceContext> newContext(int maxTokens) const override
    {
        return std::make_unique<Context>(*this, maxTokens > 0 ? std::min(maxTokens, m_cfg.maxSeqLen) : m_cfg.maxSeqLen);
    }
    std::string backendName() const override { return "bigram"; }
    int threads() const override { return 1; }
    std::uint64_t weightBytesPerToken() const override { return 0; }
    FeedLog& log() const { return *m_log; }

private:
    class Context final : public bq::InferenceContext {
    public:
        Context(const BigramModel& m, int cap) : m_model(m), m_cap(cap) {}
        void forward(std::span<const std::int32_t> tokens, bool allPositions, std::vector<float>& logits) override
        {
            if (m_pos + static_cast<int>(tokens.size()) > m_cap)
                throw std::length_error("mock context full");
            auto& log = *m_model.m_log;
            ++log.forwards;
            if (m_pos == 0)
                log.sequences.emplace_back();
            log.sequences.back().insert(log.sequences.back().end(), tokens.begin(), tokens.end());
            logits.clear();
            for (std::size_t i = allPositions ? 0 : tokens.size() - 1; i < tokens.size(); ++i) {
                const auto& row = m_model.m_logits[static_cast<std::size_t>(tokens[i])];
                logits.insert(logits.end(), row.begin(), row.end());
            }
            m_pos += static_cast<int>(tokens.size());
        }
        int position() const override { return m_pos; }
        int capacity() const override { return m_cap; }
        void reset() override { m_pos = 0; }

    private:
        const BigramModel& m_model;
        int m_cap, m_pos = 0;
    };

    CharTokenizer m_tok;
    bq::ModelConfig m_cfg;
    std::vector<std::vector<float>> m_logits;
    std::shared_ptr<FeedLog> m_log;
};

// A table whose rows are all `row` (so every prediction uses the same distribution).
Table constantRows(const std::vector<double>& row)
{
    return Table(row.size(), row);
}

// A deterministic pseudo-random table with full support.
Table randomTable(int v, unsigned seed)
{
    Table t(static_cast<std::size_t>(v), std::vector<double>(static_cast<std::size_t>(v)));
    unsigned s = seed;
    for (auto& row : t) {
        double sum = 0;
        for (auto& x : row) {
            s = s * 1664525u + 1013904223u;
            x = 0.05 + static_cast<double>(s >> 8) / static_cast<double>(1u << 24);
            sum += x;
        }
        for (auto& x : row)
            x /= sum;
    }
    return t;
}

class RecordingSink final : public bq::EventSink {
public:
    void progress(const bq::ProgressEvent& e) override
    {
        events.push_back(e);
        if (cancelOnProgress)
            cancel->request();
    }
    void layerDone(const bq::LayerResult&) override {}
    void log(bq::LogLevel, std::string_view) override {}
    std::vector<bq::ProgressEvent> events;
    bool cancelOnProgress = false;
    bq::CancelToken* cancel = nullptr;
};

std::string repeatedText(const std::string& pattern, std::size_t n)
{
    std::string s;
    unsigned x = 7;
    while (s.size() < n) {
        x = x * 1103515245u + 12345u;
        s += pattern[(x >> 16) % pattern.size()];
    }
    return s;
}

} // namespace

TEST_CASE("splitDocuments separates on blank or whitespace-only lines and trims", "[eval]")
{
    using V = std::vector<std::string>;
    CHECK(bq::splitDocuments("") == V{});
    CHECK(bq::splitDocuments("\n \n\t\n") == V{});
    CHECK(bq::splitDocuments("one") == V{"one"});
    CHECK(bq::splitDocuments("  a\nb \n\n\n c\n \t\n\nd  \n") == V{"a\nb", "c", "d"});
    CHECK(bq::splitDocuments("x\r\n\r\ny z\r\nw\r\n") == V{"x", "y z\r\nw"});
    CHECK(bq::splitDocuments("\n\nfirst line\nsecond line\n\n\n\nthird") == V{"first line\nsecond line", "third"});
}

TEST_CASE("logSumExp is stable for large and tiny logits", "[eval]")
{
    const std::vector<float> big{1000.0f, 1000.0f};
    CHECK(bq::logSumExp(big) == Approx(1000.0 + std::log(2.0)).epsilon(1e-12));
    const std::vector<float> small{-1000.0f, -1000.0f - static_cast<float>(std::log(3.0))};
    CHECK(bq::logSumExp(small) == Approx(-1000.0 + std::log(4.0 / 3.0)).epsilon(1e-7));
}

TEST_CASE("windows perplexity matches hand-computed bigram values", "[eval]")
{
    bq::NullSink sink;
    bq::CancelToken cancel;

    SECTION("uniform model: perplexity equals the vocabulary size")
    {
        BigramModel m("abcd", constantRows({0.2, 0.2, 0.2, 0.2, 0.2}), 64);
        bq::PerplexityRequest req;
        req.text = repeatedText("abcd", 100);
        req.ctx = 16;
        bq::PerplexityResult r;
        REQUIRE(bq::evaluatePerplexity(m, req, r, sink, cancel).status == bq::JobStatus::Completed);
        CHECK(r.sequences == 101 / 16);
        CHECK(r.tokens == 6 * 15);
        CHECK(r.ppl == Approx(5.0).epsilon(1e-6));
    }

    SECTION("two predictions: P(a|BOS) = 1/2, P(b|a) = 1/4 give 2^1.5")
    {
        // ids: 0 BOS, 1 a, 2 b
        const Table p{{0.25, 0.5, 0.25}, {0.5, 0.25, 0.25}, {1 / 3.0, 1 / 3.0, 1 / 3.0}};
        BigramModel m("ab", p, 64);
        bq::PerplexityRequest req;
        req.text = "ab";
        req.ctx = 3;
        bq::PerplexityResult r;
        REQUIRE(bq::evaluatePerplexity(m, req, r, sink, cancel).status == bq::JobStatus::Completed);
        CHECK(r.tokens == 2);
        CHECK(r.sequences == 1);
        CHECK(r.meanNll == Approx(1.5 * std::log(2.0)).epsilon(1e-6));
        CHECK(r.ppl == Approx(std::pow(2.0, 1.5)).epsilon(1e-6));

        req.addBos = false; // tokens [a, b] only: one window of 2, one prediction -log(1/4)
        req.ctx = 2;
        REQUIRE(bq::evaluatePerplexity(m, req, r, sink, cancel).status == bq::JobStatus::Completed);
        CHECK(r.tokens == 1);
        CHECK(r.ppl == Approx(4.0).epsilon(1e-6));
    }

    SECTION("long windows are prefilled in chunks, fresh per window, tail dropped")
    {
        const Table p = randomTable(4, 11);
        BigramModel m("abc", p, 2048);
        bq::PerplexityRequest req;
        req.text = repeatedText("abc", 2000); // 2001 tokens with BOS: 3 windows of 600, 201 dropped
        req.ctx = 600;
        bq::PerplexityResult r;
        REQUIRE(bq::evaluatePerplexity(m, req, r, sink, cancel).status == bq::JobStatus::Completed);

        std::vector<std::int32_t> toks{0};
        for (char c : req.text)
            toks.push_back(static_cast<std::int32_t>(std::string("abc").find(c) + 1));
        double nll = 0;
        for (int w = 0; w < 3; ++w)
            for (int j = 0; j < 599; ++j)
                nll -= std::log(p[static_cast<std::size_t>(toks[static_cast<std::size_t>(w * 600 + j)])]
                                 [static_cast<std::size_t>(toks[static_cast<std::size_t>(w * 600 + j + 1)])]);
        CHECK(r.sequences == 3);
        CHECK(r.tokens == 3 * 599);
        CHECK(r.meanNll == Approx(nll / (3 * 599)).epsilon(1e-6));
        CHECK(r.ppl == Approx(std::exp(nll / (3 * 599))).epsilon(1e-6));

        // Each window starts a new sequence at position 0 with exactly its own tokens (the last one is only
        // a target), fed in more than one forward call.
        const auto& log = m.log();
        REQUIRE(log.sequences.size() == 3);
        for (int w = 0; w < 3; ++w) {
            const std::vector<std::int32_t> expect(toks.begin() + w * 600, toks.begin() + w * 600 + 599);
            CHECK(log.sequences[static_cast<std::size_t>(w)] == expect);
        }
        CHECK(log.forwards > 3);

        // A window range scores exactly those windows of the same cut.
        req.windowBegin = 1;
        req.windowEnd = 3;
        BigramModel m2("abc", p, 2048);
        REQUIRE(bq::evaluatePerplexity(m2, req, r, sink, cancel).status == bq::JobStatus::Completed);
        double nll12 = 0;
        for (int w = 1; w < 3; ++w)
            for (int j = 0; j < 599; ++j)
                nll12 -= std::log(p[static_cast<std::size_t>(toks[static_cast<std::size_t>(w * 600 + j)])]
                                   [static_cast<std::size_t>(toks[static_cast<std::size_t>(w * 600 + j + 1)])]);
        CHECK(r.sequences == 2);
        CHECK(r.meanNll == Approx(nll12 / (2 * 599)).epsilon(1e-6));
        REQUIRE(m2.log().sequences.size() == 2);
        CHECK(m2.log().sequences[0] == std::vector<std::int32_t>(toks.begin() + 600, toks.begin() + 1199));
        req.windowBegin = 3; // past the last window
        req.windowEnd = -1;
        const bq::JobResult empty = bq::evaluatePerplexity(m2, req, r, sink, cancel);
        CHECK(empty.status == bq::JobStatus::Failed);
        CHECK_THAT(empty.message, Catch::Contains("window range 3: is empty: the text has 3 windows of 600 tokens"));
    }
}

TEST_CASE("docs perplexity is token-weighted over the selected documents", "[eval]")
{
    bq::NullSink sink;
    bq::CancelToken cancel;
    const Table p = randomTable(5, 3);
    BigramModel m("abc ", p, 6);
    auto nllOf = [&](const std::vector<std::int32_t>& s) {
        double n = 0;
        for (std::size_t i = 0; i + 1 < s.size(); ++i)
            n -= std::log(p[static_cast<std::size_t>(s[i])][static_cast<std::size_t>(s[i + 1])]);
        return n;
    };
    bq::PerplexityRequest req;
    req.mode = bq::PerplexityMode::Docs;
    req.text = "ab\n\n  ba c\n\n\n\ncab\n \nabcabcabc\n\nc";
    req.docBegin = 1;
    req.docEnd = 4;
    bq::PerplexityResult r;
    REQUIRE(bq::evaluatePerplexity(m, req, r, sink, cancel).status == bq::JobStatus::Completed);
    // docs 1..3: "ba c" -> [0,2,1,4,3]; "cab" -> [0,3,1,2]; "abcabcabc" truncated to ctx 6 -> [0,1,2,3,1,2]
    const double nll = nllOf({0, 2, 1, 4, 3}) + nllOf({0, 3, 1, 2}) + nllOf({0, 1, 2, 3, 1, 2});
    CHECK(r.sequences == 3);
    CHECK(r.tokens == 4 + 3 + 5);
    CHECK(r.meanNll == Approx(nll / 12).epsilon(1e-6));

    SECTION("the whole range and a hand value")
    {
        const Table u{{0.5, 0.5, 0, 0}, {0.25, 0.25, 0.25, 0.25}, {0.25, 0.25, 0.25, 0.25}, {1, 0, 0, 0}};
        // Zero probabilities give -inf logits that are never targets: log-sum-exp must still be finite.
        BigramModel h("abc", u, 512);
        bq::PerplexityRequest all;
        all.mode = bq::PerplexityMode::Docs;
        all.text = "a\n\nab"; // [0,1]: -log 1/2 ; [0,1,2]: -log 1/2 - log 1/4  => mean = (1+1+2) ln2 / 3
        REQUIRE(bq::evaluatePerplexity(h, all, r, sink, cancel).status == bq::JobStatus::Completed);
        CHECK(r.tokens == 3);
        CHECK(r.sequences == 2);
        CHECK(r.ppl == Approx(std::pow(2.0, 4.0 / 3.0)).epsilon(1e-6));
    }
}

TEST_CASE("perplexity fails clearly and honours cancel", "[eval]")
{
    BigramModel m("abc", randomTable(4, 5), 256);
    bq::CancelToken cancel;
    bq::NullSink null;
    bq::PerplexityResult r;
    bq::PerplexityRequest req;
    req.text = repeatedText("abc", 99);
    req.ctx = 128;
    auto res = bq::evaluatePerplexity(m, req, r, null, cancel);
    CHECK(res.status == bq::JobStatus::Failed);
    CHECK(res.message == "text has 100 tokens, fewer than one window of 128");

    req.ctx = 300; // longer than the model holds
    req.text = repeatedText("abc", 700);
    res = bq::evaluatePerplexity(m, req, r, null, cancel);
    CHECK(res.status == bq::JobStatus::Failed);
    CHECK(res.message.find("256") != std::string::npos);

    bq::PerplexityRequest docs;
    docs.mode = bq::PerplexityMode::Docs;
    docs.text = "ab\n\nbc";
    docs.docBegin = 5;
    res = bq::evaluatePerplexity(m, docs, r, null, cancel);
    CHECK(res.status == bq::JobStatus::Failed);
    CHECK(res.message.find("2 documents") != std::string::npos);

    // Progress per window, last event complete; cancel from the sink stops after the first window.
    req.ctx = 50;
    req.text = repeatedText("abc", 499); // 10 windows
    RecordingSink rec;
    REQUIRE(bq::evaluatePerplexity(m, req, r, rec, cancel).status == bq::JobStatus::Completed);
    REQUIRE(!rec.events.empty());
    CHECK(rec.events.front().stage == bq::Stage::Evaluate);
    CHECK(rec.events.back().step == 10);
    CHECK(rec.events.back().stepCount == 10);

    RecordingSink stopper;
    stopper.cancelOnProgress = true;
    stopper.cancel = &cancel;
    res = bq::evaluatePerplexity(m, req, r, stopper, cancel);
    CHECK(res.status == bq::JobStatus::Cancelled);
    CHECK(stopper.events.size() == 1);
    cancel.reset();

    cancel.request();
    CHECK(bq::evaluatePerplexity(m, req, r, null, cancel).status == bq::JobStatus::Cancelled);
}

TEST_CASE("compareModels: KL, top-1 agreement and both perplexities", "[eval]")
{
    bq::NullSink sink;
    bq::CancelToken cancel;
    bq::PerplexityRequest req;
    req.text = repeatedText("ab", 300);
    req.ctx = 100; // 301 tokens -> 3 windows of 100, 297 predictions
    bq::CompareResult c;

    SECTION("a model against itself")
    {
        BigramModel m("ab", randomTable(3, 9), 512);
        REQUIRE(bq::compareModels(m, m, req, c, sink, cancel).status == bq::JobStatus::Completed);
        CHECK(c.kl == 0.0);
        CHECK(c.top1Agreement == 1.0);
        bq::PerplexityResult r;
        REQUIRE(bq::evaluatePerplexity(m, req, r, sink, cancel).status == bq::JobStatus::Completed);
        CHECK(c.a.ppl == Approx(r.ppl).epsilon(1e-12));
        CHECK(c.b.ppl == Approx(r.ppl).epsilon(1e-12));
        CHECK(c.a.tokens == 297);
        CHECK(c.a.sequences == 3);
    }

    SECTION("two constant distributions: KL = 0.6 ln 2 + 0.4 ln(4/7) + 0 ln(...)")
    {
        BigramModel a("ab", constantRows({0.0001, 0.6, 0.3999}), 512);
        BigramModel b("ab", constantRows({0.0001, 0.3, 0.6999}), 512);
        REQUIRE(bq::compareModels(a, b, req, c, sink, cancel).status == bq::JobStatus::Completed);
        const double kl = 0.6 * std::log(2.0) + 0.3999 * std::log(0.3999 / 0.6999);
        CHECK(c.kl == Approx(kl).epsilon(1e-5));
        CHECK(c.top1Agreement == 0.0);
    }

    SECTION("row-dependent distributions: mean KL and agreement over the actual positions")
    {
        const Table pa = randomTable(3, 21), pb = randomTable(3, 22);
        BigramModel a("ab", pa, 512), b("ab", pb, 512);
        REQUIRE(bq::compareModels(a, b, req, c, sink, cancel).status == bq::JobStatus::Completed);
        std::vector<std::int32_t> toks{0};
        for (char ch : req.text)
            toks.push_back(ch == 'a' ? 1 : 2);
        double kl = 0, nllA = 0, nllB = 0;
        int agree = 0;
        auto amax = [](const std::vector<double>& v) {
            return std::max_element(v.begin(), v.end()) - v.begin();
        };
        for (int w = 0; w < 3; ++w)
            for (int j = 0; j < 99; ++j) {
                const auto t = static_cast<std::size_t>(toks[static_cast<std::size_t>(w * 100 + j)]);
                const auto u = static_cast<std::size_t>(toks[static_cast<std::size_t>(w * 100 + j + 1)]);
                for (std::size_t i = 0; i < 3; ++i)
                    kl += pa[t][i] * std::log(pa[t][i] / pb[t][i]);
                nllA -= std::log(pa[t][u]);
                nllB -= std::log(pb[t][u]);
                agree += amax(pa[t]) == amax(pb[t]);
            }
        CHECK(c.kl == Approx(kl / 297).epsilon(1e-5));
        CHECK(c.kl > 0.001);
        CHECK(c.top1Agreement == Approx(agree / 297.0).epsilon(1e-12));
        CHECK(c.a.meanNll == Approx(nllA / 297).epsilon(1e-6));
        CHECK(c.b.meanNll == Approx(nllB / 297).epsilon(1e-6));
    }

    SECTION("mismatched tokenizers fail with the reason")
    {
        BigramModel a("ab", randomTable(3, 1), 512);
        BigramModel wider("abc", randomTable(4, 1), 512);
        auto res = bq::compareModels(a, wider, req, c, sink, cancel);
        CHECK(res.status == bq::JobStatus::Failed);
        CHECK(res.message.find("vocabulary") != std::string::npos);
        BigramModel swapped("ba", randomTable(3, 1), 512);
        res = bq::compareModels(a, swapped, req, c, sink, cancel);
        CHECK(res.status == bq::JobStatus::Failed);
        CHECK(res.message.find("different token ids") != std::string::npos);
    }

    SECTION("cancel")
    {
        BigramModel m("ab", randomTable(3, 9), 512);
        cancel.request();
        CHECK(bq::compareModels(m, m, req, c, sink, cancel).status == bq::JobStatus::Cancelled);
    }
}

TEST_CASE("stories260K docs 0:200 perplexity golden", "[eval][shared]")
{
    if (!bqtest::haveShared("stories260K golden perplexity"))
        return;
    auto model = bq::loadLlama2cModel(bqtest::sharedPath("models/stories260K/stories260K.bin"),
                                      bqtest::sharedPath("models/stories260K/tok512.bin"), true);
    auto inference = bq::makeFp32Model(model, 1);
    bq::PerplexityRequest req;
    req.text = bqtest::readFile(bqtest::sharedPath("data/tinystories/tinystories_val.txt"));
    req.mode = bq::PerplexityMode::Docs;
    req.docBegin = 0;
    req.docEnd = 200;
    bq::PerplexityResult r;
    bq::NullSink sink;
    bq::CancelToken cancel;
    const auto res = bq::evaluatePerplexity(*inference, req, r, sink, cancel);
    INFO(res.message);
    REQUIRE(res.status == bq::JobStatus::Completed);
    CHECK(r.sequences == 200);
    CHECK(r.tokens == 19380);
    CHECK(r.meanNll == Approx(1.43881).margin(2e-4));
    CHECK(r.ppl == Approx(4.2157).margin(1e-3));

    // A model compared with itself on the same documents: zero KL, full agreement, same perplexity.
    req.docEnd = 20;
    bq::CompareResult c;
    REQUIRE(bq::compareModels(*inference, *inference, req, c, sink, cancel).status == bq::JobStatus::Completed);
    CHECK(c.kl == Approx(0.0).margin(1e-9));
    CHECK(c.top1Agreement == 1.0);
}
