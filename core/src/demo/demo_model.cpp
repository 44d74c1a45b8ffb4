#include "bq/demo/demo_model.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/sp_bpe_tokenizer.h"
#include <Eigen/Dense>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace bq {

namespace {

constexpr int kVocab = 512;
constexpr int kDim = 128;
constexpr int kHidden = 384;
constexpr int kLayers = 4;
constexpr int kHeads = 4;
constexpr int kKvHeads = 2;
constexpr int kHeadDim = kDim / kHeads;
constexpr int kContext = 256;
constexpr std::uint64_t kSeed = 0x6269747374756469ull; // "bitstudi"

// Smoothing of the bigram counts: p(b|a) = (C[a][b] + kPrior·u[b]) / (C[a] + kPrior), with u the add-k
// smoothed unigram distribution, so tokens never seen as a predecessor predict the unigram distribution.
constexpr double kUnigramAddK = 0.1;
constexpr double kPrior = 0.5;
// Fit log(p + kLogFloor) instead of log p: the unlikely tail flattens out and the rank goes to the likely
// continuations (costs at most kVocab · kLogFloor ≈ 5 % of probability mass).
constexpr double kLogFloor = 1e-4;
// Embedding noise relative to the RMS of the spectral embedding: keeps unused tokens (byte pieces) distinct.
constexpr double kEmbeddingNoise = 0.15;
// Standard deviations of the transformer block weights: each block moves the residual stream by a few percent.
// Measured on the demo stories (fp32 runtime): perplexity 12.44 without the blocks, 12.59 with them; 1-bit
// sign quantization of the block matrices gives a mean KL of ~0.007 nats against fp32 — small but measurable.
constexpr double kAttentionStd = 0.03;
constexpr double kFfnStd = 0.03;

const char* const kMetaspace = "\xE2\x96\x81"; // "▁"

// SplitMix64 plus Box-Muller: fully specified here, so the weights do not depend on the standard library's
// distribution implementations.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next()
    {
        std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (double(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); } // (0, 1)
    double normal()
    {
        if (m_haveSpare) {
            m_haveSpare = false;
            return m_spare;
        }
        const double r = std::sqrt(-2.0 * std::log(uniform()));
        const double a = 6.283185307179586 * uniform();
        m_spare = r * std::sin(a);
        m_haveSpare = true;
        return r * std::cos(a);
    }

private:
    std::uint64_t m_state;
    double m_spare = 0;
    bool m_haveSpare = false;
};

bool isWordChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' ||
           (static_cast<unsigned char>(c) & 0x80u);
}

// Splits a UTF-8 string into code points.
std::vector<std::string> codePoints(std::string_view s)
{
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
        n = std::min(n, s.size() - i);
        out.emplace_back(s.substr(i, n));
        i += n;
    }
    return out;
}

std::vector<std::string> splitStories(const std::string& text)
{
    std::vector<std::string> docs;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find("\n\n", pos);
        if (end == std::string::npos)
            end = text.size();
        std::string doc = text.substr(pos, end - pos);
        while (!doc.empty() && (doc.back() == '\n' || doc.back() == ' '))
            doc.pop_back();
        while (!doc.empty() && (doc.front() == '\n' || doc.front() == ' '))
            doc.erase(doc.begin());
        if (!doc.empty())
            docs.push_back(std::move(doc));
        pos = end + 2;
    }
    return docs;
}

// BPE training units: every whitespace-separated word gets the "▁" the encoder will see before it, and is
// cut where letters meet punctuation, so learned pieces never glue a word to its comma or quote.
std::map<std::string, long> trainingUnits(const std::string& text)
{
    std::map<std::string, long> units;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\n'))
            ++i;
        std::size_t end = i;
        while (end < text.size() && text[end] != ' ' && text[end] != '\n')
            ++end;
        if (end == i)
            break;
        const std::string_view word(text.data() + i, end - i);
        std::string unit = kMetaspace;
        for (std::size_t k = 0; k < word.size(); ++k) {
            if (k > 0 && isWordChar(word[k]) != isWordChar(word[k - 1])) {
                ++units[unit];
                unit.clear();
            }
            unit += word[k];
        }
        ++units[unit];
        i = end;
    }
    return units;
}

std::vector<SpVocabEntry> trainVocabulary()
{
    // Symbols are interned as ints; a unit is a symbol sequence with its count.
    std::vector<std::string> symbols;
    std::map<std::string, int> symbolIds;
    auto intern = [&](const std::string& s) {
        auto [it, fresh] = symbolIds.emplace(s, int(symbols.size()));
        if (fresh)
            symbols.push_back(s);
        return it->second;
    };
    struct Unit {
        std::vector<int> symbols;
        long count;
    };
    std::vector<Unit> units;
    std::set<std::string> chars;
    for (const auto& [text, count] : trainingUnits(demoText())) {
        Unit u{{}, count};
        for (const std::string& cp : codePoints(text)) {
            chars.insert(cp);
            u.symbols.push_back(intern(cp));
        }
        units.push_back(std::move(u));
    }
    std::set<std::string> known(chars.begin(), chars.end());
    const int mergeTarget = kVocab - 3 - 256 - static_cast<int>(chars.size());

    std::vector<std::string> merges;
    std::unordered_map<std::uint64_t, long> pairs;
    auto key = [](int a, int b) { return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b); };
    while (static_cast<int>(merges.size()) < mergeTarget) {
        pairs.clear();
        for (const Unit& u : units)
            for (std::size_t k = 0; k + 1 < u.symbols.size(); ++k)
                pairs[key(u.symbols[k], u.symbols[k + 1])] += u.count;
        // The most frequent pair; ties go to the lexicographically first (left, right) strings.
        int bestLeft = -1, bestRight = -1;
        long bestCount = 0;
        for (const auto& [k, count] : pairs) {
            const int l = int(k >> 32), r = int(k & 0xffffffffu);
            if (count > bestCount ||
                (count == bestCount && std::tie(symbols[std::size_t(l)], symbols[std::size_t(r)]) <
                                           std::tie(symbols[std::size_t(bestLeft)], symbols[std::size_t(bestRight)]))) {
                bestLeft = l;
                bestRight = r;
                bestCount = count;
            }
        }
        if (bestCount == 0)
            break;
        const std::string mergedText = symbols[std::size_t(bestLeft)] + symbols[std::size_t(bestRight)];
        const int merged = intern(mergedText);
        for (Unit& u : units) {
            std::size_t out = 0;
            for (std::size_t k = 0; k < u.symbols.size(); ++k) {
                if (k + 1 < u.symbols.size() && u.symbols[k] == bestLeft && u.symbols[k + 1] == bestRight) {
                    u.symbols[out++] = merged;
                    ++k;
                } else {
                    u.symbols[out++] = u.symbols[k];
                }
            }
            u.symbols.resize(out);
        }
        if (known.insert(mergedText).second)
            merges.push_back(mergedText);
    }

    std::vector<SpVocabEntry> vocab;
    vocab.reserve(kVocab);
    vocab.push_back({"<unk>", 0.0f, TokenKind::Unknown});
    vocab.push_back({"<s>", 0.0f, TokenKind::Control});
    vocab.push_back({"</s>", 0.0f, TokenKind::Control});
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        vocab.push_back({name, 0.0f, TokenKind::Byte});
    }
    for (std::size_t r = 0; r < merges.size(); ++r)
        vocab.push_back({merges[r], -static_cast<float>(r), TokenKind::Normal});
    int rank = static_cast<int>(merges.size());
    for (const std::string& c : chars)
        vocab.push_back({c, -static_cast<float>(rank++), TokenKind::Normal});
    // Only if the text ran out of pairs: pad with unused pieces so the vocabulary size stays fixed.
    for (int k = 0; static_cast<int>(vocab.size()) < kVocab; ++k)
        vocab.push_back({"<unused" + std::to_string(k) + ">", -1e9f, TokenKind::Unused});
    return vocab;
}

std::shared_ptr<const SpBpeTokenizer> buildTokenizer()
{
    SpBpeOptions options;
    options.addDummyPrefix = true;
    options.spacesAsMetaspace = true;
    options.byteFallback = true;
    options.unkId = 0;
    options.bosId = 1;
    options.eosId = 2;
    options.addBos = true;
    options.family = "sentencepiece";
    return std::make_shared<SpBpeTokenizer>(trainVocabulary(), options);
}

struct BigramFit {
    Eigen::MatrixXd targets;      // rows: centred log(p(.|a) + floor) for each distinct predecessor class
    Eigen::VectorXd weights;      // how often each class occurs as a predecessor (+1)
    std::vector<int> classOfToken; // token id -> row of targets
};

// The smoothed bigram model of the stories (each with BOS, ending with EOS). Tokens never seen as a
// predecessor share one class (their rows are all the unigram distribution).
BigramFit bigramTargets(const Tokenizer& tokenizer)
{
    Eigen::MatrixXd counts = Eigen::MatrixXd::Zero(kVocab, kVocab);
    for (const std::string& doc : splitStories(demoText())) {
        std::vector<std::int32_t> ids = tokenizer.encode(doc);
        ids.insert(ids.begin(), tokenizer.bosId());
        ids.push_back(tokenizer.eosId());
        for (std::size_t k = 0; k + 1 < ids.size(); ++k)
            counts(ids[k], ids[k + 1]) += 1.0;
    }
    Eigen::VectorXd unigram = counts.colwise().sum().transpose();
    unigram.array() += kUnigramAddK;
    unigram /= unigram.sum();
    const Eigen::VectorXd rowTotals = counts.rowwise().sum();

    BigramFit fit;
    fit.classOfToken.assign(kVocab, -1);
    std::vector<int> seen;
    for (int a = 0; a < kVocab; ++a)
        if (rowTotals(a) > 0)
            seen.push_back(a);
    const int classes = int(seen.size()) + 1;
    fit.targets.resize(classes, kVocab);
    fit.weights.resize(classes);
    for (int r = 0; r < classes; ++r) {
        const bool rest = r == int(seen.size());
        const double total = (rest ? 0.0 : rowTotals(seen[std::size_t(r)])) + kPrior;
        for (int b = 0; b < kVocab; ++b) {
            const double c = rest ? 0.0 : counts(seen[std::size_t(r)], b);
            fit.targets(r, b) = std::log((c + kPrior * unigram(b)) / total + kLogFloor);
        }
        fit.targets.row(r).array() -= fit.targets.row(r).mean();
        fit.weights(r) = (rest ? 0.0 : total - kPrior) + 1.0;
    }
    for (int a = 0; a < kVocab; ++a)
        fit.classOfToken[std::size_t(a)] = classes - 1;
    for (std::size_t r = 0; r < seen.size(); ++r)
        fit.classOfToken[std::size_t(seen[r])] = int(r);
    return fit;
}

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Tensor toTensor(const std::string& name, const RowMatrix& m)
{
    std::vector<float> values(static_cast<std::size_t>(m.size()));
    for (Eigen::Index k = 0; k < m.size(); ++k)
        values[static_cast<std::size_t>(k)] = static_cast<float>(m.data()[k]);
    return makeF32Tensor(name, {m.rows(), m.cols()}, std::move(values));
}

Tensor randomMatrix(const std::string& name, std::int64_t rows, std::int64_t cols, double stddev, Rng& rng)
{
    std::vector<float> values(static_cast<std::size_t>(rows * cols));
    for (float& v : values)
        v = static_cast<float>(stddev * rng.normal());
    return makeF32Tensor(name, {rows, cols}, std::move(values));
}

Tensor ones(const std::string& name, std::int64_t n)
{
    return makeF32Tensor(name, {n}, std::vector<float>(static_cast<std::size_t>(n), 1.0f));
}

} // namespace

std::shared_ptr<const Tokenizer> makeDemoTokenizer()
{
    return buildTokenizer();
}

std::shared_ptr<const Model> makeDemoModel()
{
    auto model = std::make_shared<Model>();
    ModelConfig& c = model->config;
    c.arch = "llama";
    c.dim = kDim;
    c.hiddenDim = kHidden;
    c.nLayers = kLayers;
    c.nHeads = kHeads;
    c.nKvHeads = kKvHeads;
    c.headDim = kHeadDim;
    c.vocabSize = kVocab;
    c.maxSeqLen = kContext;
    c.normEps = 1e-5f;
    c.ropeTheta = 10000.0f;
    c.ropeStyle = RopeStyle::Interleaved;
    c.tiedEmbeddings = false;
    model->sourcePath = ":demo";
    model->sourceFormat = "demo";
    c.validate(model->sourcePath);

    auto tokenizer = buildTokenizer();
    model->tokenizer = tokenizer;

    Rng rng(kSeed);
    // Embeddings: each predecessor class gets the row of the frequency-weighted rank-128 factorization of
    // the bigram targets (the weights make frequent tokens fit best), rotated so no coordinate is special.
    const BigramFit fit = bigramTargets(*tokenizer);
    const Eigen::VectorXd sqrtW = fit.weights.array().sqrt();
    Eigen::BDCSVD<Eigen::MatrixXd> svd(sqrtW.asDiagonal() * fit.targets, Eigen::ComputeThinU);
    Eigen::MatrixXd gauss(kDim, kDim);
    for (Eigen::Index k = 0; k < gauss.size(); ++k)
        gauss.data()[k] = rng.normal();
    const Eigen::MatrixXd rotation = Eigen::HouseholderQR<Eigen::MatrixXd>(gauss).householderQ();
    const Eigen::MatrixXd classEmbed =
        sqrtW.cwiseInverse().asDiagonal() * (svd.matrixU().leftCols(kDim) * rotation);
    Eigen::MatrixXd embed(kVocab, kDim);
    for (int t = 0; t < kVocab; ++t)
        embed.row(t) = classEmbed.row(fit.classOfToken[std::size_t(t)]).normalized();
    const double embedRms = 1.0 / std::sqrt(double(kDim));
    for (Eigen::Index k = 0; k < embed.size(); ++k)
        embed.data()[k] += kEmbeddingNoise * embedRms * rng.normal();
    for (int t = 0; t < kVocab; ++t)
        embed.row(t) *= std::sqrt(double(kDim)) / embed.row(t).norm(); // RMS 1 per row

    // Output head: weighted least squares head · rmsnorm(E[t]) ≈ targets[class(t)] (output_norm is 1).
    std::vector<int> classSize(std::size_t(fit.targets.rows()), 0);
    for (int r : fit.classOfToken)
        ++classSize[std::size_t(r)];
    Eigen::VectorXd tokenWeights(kVocab);
    Eigen::MatrixXd tokenTargets(kVocab, kVocab);
    for (int t = 0; t < kVocab; ++t) {
        const int r = fit.classOfToken[std::size_t(t)];
        tokenWeights(t) = fit.weights(r) / double(classSize[std::size_t(r)]); // a class's weight is shared
        tokenTargets.row(t) = fit.targets.row(r);
    }
    const Eigen::MatrixXd features = embed / std::sqrt(1.0 + double(c.normEps));
    const Eigen::MatrixXd weighted = tokenWeights.asDiagonal() * features;
    Eigen::MatrixXd gram = features.transpose() * weighted;
    const Eigen::MatrixXd rhs = weighted.transpose() * tokenTargets;
    gram.diagonal().array() += 1e-6 * gram.diagonal().mean();
    const Eigen::MatrixXd head = gram.ldlt().solve(rhs).transpose();

    auto add = [&](Tensor t) { model->tensors.emplace(t.name, std::move(t)); };
    add(toTensor("token_embd.weight", embed));
    add(toTensor("output.weight", head));
    add(ones("output_norm.weight", kDim));
    for (int l = 0; l < kLayers; ++l) {
        add(ones(blockTensorName(l, "attn_norm"), kDim));
        add(randomMatrix(blockTensorName(l, "attn_q"), c.qDim(), kDim, kAttentionStd, rng));
        add(randomMatrix(blockTensorName(l, "attn_k"), c.kvDim(), kDim, kAttentionStd, rng));
        add(randomMatrix(blockTensorName(l, "attn_v"), c.kvDim(), kDim, kAttentionStd, rng));
        add(randomMatrix(blockTensorName(l, "attn_output"), kDim, c.qDim(), kAttentionStd, rng));
        add(ones(blockTensorName(l, "ffn_norm"), kDim));
        add(randomMatrix(blockTensorName(l, "ffn_gate"), kHidden, kDim, kFfnStd, rng));
        add(randomMatrix(blockTensorName(l, "ffn_up"), kHidden, kDim, kFfnStd, rng));
        add(randomMatrix(blockTensorName(l, "ffn_down"), kDim, kHidden, kFfnStd, rng));
    }

    auto meta = [&](std::string key, std::string value) { model->metadata.emplace_back(std::move(key), std::move(value)); };
    meta("general.architecture", "llama");
    meta("general.name", "bitstudio demo");
    meta("general.description",
         "Built-in demo model: bigram-fitted embeddings and output head, small random transformer blocks");
    meta("general.source", "generated in code (bq::makeDemoModel), deterministic");
    meta("general.file_type", "F32");
    meta("llama.context_length", std::to_string(kContext));
    meta("llama.embedding_length", std::to_string(kDim));
    meta("llama.feed_forward_length", std::to_string(kHidden));
    meta("llama.block_count", std::to_string(kLayers));
    meta("llama.attention.head_count", std::to_string(kHeads));
    meta("llama.attention.head_count_kv", std::to_string(kKvHeads));
    meta("llama.attention.layer_norm_rms_epsilon", "1e-05");
    meta("llama.rope.dimension_count", std::to_string(kHeadDim));
    meta("llama.rope.freq_base", "10000");
    meta("llama.vocab_size", std::to_string(kVocab));
    meta("tokenizer.ggml.model", "llama");
    meta("tokenizer.ggml.tokens", std::to_string(tokenizer->vocabSize()) + " pieces");
    meta("tokenizer.ggml.unknown_token_id", "0");
    meta("tokenizer.ggml.bos_token_id", "1");
    meta("tokenizer.ggml.eos_token_id", "2");
    meta("tokenizer.ggml.add_bos_token", "true");
    return model;
}

} // namespace bq
