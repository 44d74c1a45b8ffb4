// The built-in demo model: deterministic bytes, valid tensors, a tokenizer that round-trips the demo text,
// and weights that actually predict the demo stories (greedy continuation, per-story perplexity).
#include <catch2/catch.hpp>
#include "bq/demo/demo_model.h"
#include "bq/eval/perplexity.h"
#include "bq/tokenizer/documents.h"
#include "bq/model/model.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/inference.h"
#include "bq/tokenizer/tokenizer.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>

namespace {

std::set<std::string> wordsOf(const std::string& text)
{
    std::set<std::string> words;
    std::string w;
    for (char c : text + " ") {
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '\'') {
            w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!w.empty()) {
            words.insert(w);
            w.clear();
        }
    }
    return words;
}

std::vector<std::string> wordList(const std::string& text)
{
    std::vector<std::string> words;
    std::string w;
    for (char c : text + " ") {
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '\'') {
            w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!w.empty()) {
            words.push_back(w);
            w.clear();
        }
    }
    return words;
}

// 1-bit sign quantization with one mean-|w| scale per row (the simplest 1-bit scheme), for the check that
// the transformer blocks matter.
std::shared_ptr<const std::vector<float>> signQuantized(const bq::Tensor& t)
{
    auto out = std::make_shared<std::vector<float>>(t.toFloat());
    const std::int64_t rows = t.rows(), cols = t.cols();
    for (std::int64_t r = 0; r < rows; ++r) {
        float* row = out->data() + r * cols;
        double mean = 0;
        for (std::int64_t c = 0; c < cols; ++c)
            mean += std::fabs(row[c]);
        mean /= double(cols);
        for (std::int64_t c = 0; c < cols; ++c)
            row[c] = row[c] >= 0 ? float(mean) : -float(mean);
    }
    return out;
}

double docsPerplexity(const bq::InferenceModel& model)
{
    bq::PerplexityRequest request;
    request.text = bq::demoText();
    request.mode = bq::PerplexityMode::Docs;
    bq::PerplexityResult result;
    bq::NullSink sink;
    bq::CancelToken cancel;
    const bq::JobResult job = bq::evaluatePerplexity(model, request, result, sink, cancel);
    REQUIRE(job.status == bq::JobStatus::Completed);
    REQUIRE(result.sequences == 25);
    return result.ppl;
}

// Mean KL(p‖q) in nats over every position of the first five stories.
double meanKl(const bq::InferenceModel& p, const bq::InferenceModel& q)
{
    const auto docs = bq::splitDocuments(bq::demoText());
    const int vocab = p.config().vocabSize;
    double total = 0;
    std::int64_t positions = 0;
    for (int d = 0; d < 5; ++d) {
        auto ids = p.tokenizer().encode(docs[std::size_t(d)], {.addBos = true});
        ids.resize(std::min<std::size_t>(ids.size(), 256));
        std::vector<float> lp, lq;
        p.newContext()->forward(ids, true, lp);
        q.newContext()->forward(ids, true, lq);
        for (std::size_t pos = 0; pos < ids.size(); ++pos) {
            const float* x = lp.data() + pos * std::size_t(vocab);
            const float* y = lq.data() + pos * std::size_t(vocab);
            const double mx = *std::max_element(x, x + vocab), my = *std::max_element(y, y + vocab);
            double zx = 0, zy = 0;
            for (int k = 0; k < vocab; ++k) {
                zx += std::exp(double(x[k]) - mx);
                zy += std::exp(double(y[k]) - my);
            }
            double kl = 0;
            for (int k = 0; k < vocab; ++k) {
                const double logPx = double(x[k]) - mx - std::log(zx), logPy = double(y[k]) - my - std::log(zy);
                kl += std::exp(logPx) * (logPx - logPy);
            }
            total += kl;
            ++positions;
        }
    }
    return total / double(positions);
}

} // namespace

TEST_CASE("demo model: shape, config and valid tensors", "[demo]")
{
    const auto start = std::chrono::steady_clock::now();
    const auto model = bq::makeDemoModel();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::cout << "demo model built in " << ms << " ms\n";
    const bq::ModelConfig& c = model->config;
    CHECK(c.arch == "llama");
    CHECK(c.ropeStyle == bq::RopeStyle::Interleaved);
    CHECK(c.dim == 128);
    CHECK(c.hiddenDim == 384);
    CHECK(c.nLayers == 4);
    CHECK(c.nHeads == 4);
    CHECK(c.nKvHeads == 2);
    CHECK(c.headDim == 32);
    CHECK(c.maxSeqLen == 256);
    CHECK(c.vocabSize == 512);
    CHECK_FALSE(c.tiedEmbeddings);
    CHECK(c.dim % 128 == 0);
    CHECK(c.hiddenDim % 128 == 0);
    CHECK(c.qDim() % 128 == 0);
    CHECK(model->sourceFormat == "demo");
    REQUIRE_NOTHROW(model->validateTensors());
    CHECK(model->tensors.size() == 3 + 9 * 4);
    CHECK(model->find("output.weight") != nullptr);
    REQUIRE(model->tokenizer);
    CHECK(model->tokenizer->vocabSize() == c.vocabSize);
    for (const auto& [name, t] : model->tensors) {
        INFO(name);
        CHECK(t.dtype == bq::DType::F32);
        const auto values = t.f32();
        CHECK(std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); }));
    }
    // Embedding rows have RMS 1; block weights are small (std ≈ 0.03).
    const auto emb = model->tensor("token_embd.weight").f32();
    double ss = 0;
    for (int k = 0; k < 128; ++k)
        ss += double(emb[7 * 128 + k]) * emb[7 * 128 + k];
    CHECK(std::sqrt(ss / 128.0) == Approx(1.0).epsilon(1e-4));
    const auto wq = model->tensor("blk.2.attn_q.weight").f32();
    double sq = 0;
    for (float v : wq)
        sq += double(v) * v;
    CHECK(std::sqrt(sq / double(wq.size())) == Approx(0.03).epsilon(0.05));
}

TEST_CASE("demo model: two builds give identical bytes", "[demo]")
{
    const auto a = bq::makeDemoModel();
    const auto b = bq::makeDemoModel();
    REQUIRE(a->tensors.size() == b->tensors.size());
    for (const auto& [name, ta] : a->tensors) {
        INFO(name);
        const bq::Tensor& tb = b->tensor(name);
        REQUIRE(ta.shape == tb.shape);
        REQUIRE(ta.nbytes == tb.nbytes);
        CHECK(std::memcmp(ta.data, tb.data, ta.nbytes) == 0);
    }
    CHECK(a->metadata == b->metadata);
    for (int id = 0; id < a->tokenizer->vocabSize(); ++id) {
        REQUIRE(a->tokenizer->piece(id) == b->tokenizer->piece(id));
        REQUIRE(a->tokenizer->score(id) == b->tokenizer->score(id));
    }
}

TEST_CASE("demo tokenizer: layout, learned pieces and round trip", "[demo][tokenizer]")
{
    const auto tok = bq::makeDemoTokenizer();
    REQUIRE(tok->vocabSize() == 512);
    CHECK(tok->piece(0) == "<unk>");
    CHECK(tok->kind(0) == bq::TokenKind::Unknown);
    CHECK(tok->piece(1) == "<s>");
    CHECK(tok->piece(2) == "</s>");
    CHECK(tok->kind(1) == bq::TokenKind::Control);
    CHECK(tok->bosId() == 1);
    CHECK(tok->eosId() == 2);
    CHECK(tok->piece(3) == "<0x00>");
    CHECK(tok->piece(3 + 0x0A) == "<0x0A>");
    CHECK(tok->piece(258) == "<0xFF>");
    CHECK(tok->kind(258) == bq::TokenKind::Byte);
    // BPE merges: scores are minus the merge rank, so they fall strictly after the byte pieces.
    CHECK(tok->score(259) == 0.0f);
    for (int id = 260; id < 512; ++id)
        REQUIRE(tok->score(id) == -float(id - 259));
    // Frequent words of the stories became single pieces, stored with "▁" for the space.
    for (const char* piece : {"\xE2\x96\x81the", "\xE2\x96\x81was", "\xE2\x96\x81Once", "\xE2\x96\x81upon"})
        CHECK(tok->findPiece(piece) >= 259);
    const auto ids = tok->encode("Once upon a time");
    CHECK(ids.size() == 4);
    CHECK(tok->piece(ids[0]) == "\xE2\x96\x81Once");

    // Round trip of every story and of the whole text (blank lines go through <0x0A> byte pieces).
    const std::string& text = bq::demoText();
    std::size_t tokens = 0;
    const auto docs = bq::splitDocuments(text);
    REQUIRE(docs.size() == 25);
    for (const std::string& doc : docs) {
        const auto d = tok->encode(doc);
        tokens += d.size();
        REQUIRE(tok->decode(d) == doc);
    }
    CHECK(tok->decode(tok->encode(text)) == text);
    const double charsPerToken = double(text.size()) / double(tokens);
    std::cout << "demo text: " << text.size() << " bytes, " << wordList(text).size() << " words, " << tokens
              << " tokens (" << charsPerToken << " chars/token)\n";
    CHECK(charsPerToken > 2.2); // bytes/characters alone would give 1.0
    CHECK(wordList(text).size() > 3000);
}

TEST_CASE("demo model predicts its stories: greedy continuation and perplexity", "[demo][runtime]")
{
    const auto model = bq::makeDemoModel();
    const auto fp = bq::makeFp32Model(model, 1);
    const bq::Tokenizer& tok = *model->tokenizer;

    // Greedy continuation of "Once upon a time".
    std::vector<std::int32_t> ids = tok.encode("Once upon a time", {.addBos = true});
    auto ctx = fp->newContext();
    std::vector<float> logits;
    ctx->forward(ids, false, logits);
    std::vector<std::int32_t> generated;
    for (int step = 0; step < 40; ++step) {
        const auto next = std::int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        if (next == tok.eosId())
            break;
        generated.push_back(next);
        ctx->forward(std::span<const std::int32_t>(&generated.back(), 1), false, logits);
    }
    std::vector<std::int32_t> all = ids;
    all.insert(all.end(), generated.begin(), generated.end());
    const std::string continuation = tok.decode(all);
    std::cout << "greedy: " << continuation << "\n";
    const auto known = wordsOf(bq::demoText());
    const auto words = wordList(tok.decode(generated));
    REQUIRE(words.size() >= 8);
    std::size_t inText = 0;
    for (const auto& w : words)
        inText += known.count(w);
    CHECK(double(inText) / double(words.size()) >= 0.9); // English words of the stories, not byte soup
    CHECK(std::set<std::string>(words.begin(), words.end()).size() >= 5);
    CHECK(continuation.rfind("Once upon a time,", 0) == 0); // the stories' own next token

    // Per-story perplexity far below the uniform vocabulary size.
    const double ppl = docsPerplexity(*fp);
    std::cout << "demo perplexity (docs, fp32): " << ppl << " (uniform: " << model->config.vocabSize << ")\n";
    CHECK(ppl < model->config.vocabSize / 8.0);

    // The transformer blocks matter: 1-bit sign quantization of their matrices changes the predictions
    // measurably (KL against fp32), without destroying them.
    bq::WeightOverrides overrides;
    for (const auto& [name, t] : model->tensors)
        if (name.rfind("blk.", 0) == 0 && t.shape.size() == 2)
            overrides[name] = signQuantized(t);
    const auto quantized = bq::makeFp32Model(model, 1, overrides);
    const double qppl = docsPerplexity(*quantized);
    const double kl = meanKl(*fp, *quantized);
    std::cout << "demo perplexity (docs, blocks sign-quantized): " << qppl << ", mean KL vs fp32 " << kl << " nats\n";
    CHECK(kl > 1e-3);
    CHECK(kl < 0.1);
    CHECK(qppl < model->config.vocabSize / 8.0);
}
