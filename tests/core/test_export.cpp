// Deployable export (issue 4): Q1_0 / Q4_0 tensors checked with independent decoders written here from the
// published block layouts, the bitstudio layout round trip for every plane / mask / code kind, refusals and
// their messages, the Q1_0 refit, atomic writes, and the exported files run in the reference and packed
// runtimes against the fake-quantized reference model.
#include "bq/demo/demo_model.h"
#include "bq/export/bitstudio_runtime.h"
#include "bq/formats/bitstudio_gguf.h"
#include "bq/runtime/bitstudio_linear.h"
#include "bq/export/export_gguf.h"
#include "bq/export/ggml_blocks.h"
#include "bq/formats/gguf_file.h"
#include "bq/formats/model_loader.h"
#include "bq/model/model.h"
#include "bq/model/synthetic.h"
#include "bq/model/tensor_names.h"
#include "bq/quant/quantized_model.h"
#include "bq/quant/run/run_file.h"
#include "bq/runtime/fp32_model.h"
#include "bq/runtime/packed_model.h"
#include "bq/util/cpu_features.h"
#include "bq/util/fp16.h"
#include "bq/util/thread_pool.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

using namespace bq;
using namespace bq::quant;
namespace ex = bq::exporter;
namespace fs = std::filesystem;

namespace {

const char* kLinear[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

MatrixXfR weightOf(const Model& m, const std::string& name)
{
    const Tensor& t = m.tensor(name);
    const auto v = t.toFloat();
    return Eigen::Map<const MatrixXfR>(v.data(), t.rows(), t.cols());
}

// sign(w) × fp16(mean |w|) per 128 (or per `group`; 0 = whole row): the q1_0 reference quantizer.
QuantizedLinear signLayer(const std::string& name, const MatrixXfR& w, int group = 128)
{
    QuantizedLinear q;
    q.tensor = name;
    q.method = "sign";
    q.rows = w.rows();
    q.cols = w.cols();
    SignPlane p;
    p.group = group;
    const int groups = groupCount(w.cols(), group);
    const Eigen::Index g = group > 0 ? group : w.cols();
    p.signs.resize(w.rows(), w.cols());
    p.rowScale.resize(w.rows(), groups);
    for (Eigen::Index i = 0; i < w.rows(); ++i)
        for (int b = 0; b < groups; ++b) {
            double s = 0;
            const Eigen::Index j1 = std::min(w.cols(), (b + 1) * g);
            for (Eigen::Index j = b * g; j < j1; ++j) {
                p.signs(i, j) = w(i, j) >= 0 ? 1 : -1;
                s += std::fabs(w(i, j));
            }
            p.rowScale(i, b) = roundToHalf(float(s / double(j1 - b * g)));
        }
    q.planes.push_back(std::move(p));
    return q;
}

// A layer with every component kind: an unmasked plane with fp16 scales, F32 column scales and fp16 means,
// a column-masked plane with F32 scales, an element-bitmap plane per row, and a 3-bit code plane with
// fractional zero points.
QuantizedLinear kitchenSink(const std::string& name, Eigen::Index n, Eigen::Index m, std::mt19937_64& rng)
{
    std::uniform_real_distribution<float> u(0.01f, 0.1f);
    std::bernoulli_distribution coin(0.5);
    auto randomSigns = [&] {
        MatrixXi8R s(n, m);
        for (Eigen::Index k = 0; k < s.size(); ++k)
            s.data()[k] = coin(rng) ? 1 : -1;
        return s;
    };
    auto randomScales = [&](Eigen::Index r, Eigen::Index c, bool half) {
        Eigen::MatrixXf a(r, c);
        for (Eigen::Index k = 0; k < a.size(); ++k)
            a.data()[k] = half ? roundToHalf(u(rng)) : u(rng);
        return a;
    };
    QuantizedLinear q;
    q.tensor = name;
    q.method = "kitchen-sink";
    q.rows = n;
    q.cols = m;
    q.storageBitsPerWeight = 4.5;
    SignPlane a;
    a.group = 128;
    a.signs = randomSigns();
    a.rowScale = randomScales(n, groupCount(m, 128), true);
    a.colScale = randomScales(m, 1, false).col(0);
    a.mean = randomScales(n, groupCount(m, 128), true);
    for (Eigen::Index k = 0; k < a.mean.size(); k += 3)
        a.mean.data()[k] = -a.mean.data()[k];
    SignPlane b;
    b.group = 64;
    b.signs = randomSigns();
    b.mask.kind = PlaneMask::Kind::Columns;
    for (Eigen::Index j = 0; j < m; ++j)
        b.mask.columns.push_back(coin(rng) ? 1 : 0);
    b.rowScale = randomScales(n, groupCount(m, 64), false);
    SignPlane c;
    c.group = 0;
    c.signs = randomSigns();
    c.mask.kind = PlaneMask::Kind::Elements;
    c.mask.elements.resize(n, m);
    for (Eigen::Index k = 0; k < c.mask.elements.size(); ++k)
        c.mask.elements.data()[k] = coin(rng) ? 1 : 0;
    c.rowScale = randomScales(n, 1, true);
    q.planes = {a, b, c};
    CodePlane cp;
    cp.bits = 3;
    cp.group = 32;
    cp.codes.resize(n, m);
    std::uniform_int_distribution<int> code(0, 7);
    for (Eigen::Index k = 0; k < cp.codes.size(); ++k)
        cp.codes.data()[k] = std::uint8_t(code(rng));
    cp.scale = randomScales(n, groupCount(m, 32), true);
    cp.zero = randomScales(n, groupCount(m, 32), false) * 50.0f;
    q.codes = cp;
    return q;
}

QuantizedModel quantizedDemo(const std::function<QuantizedLinear(const std::string&, const MatrixXfR&)>& make,
                             std::shared_ptr<const Model> base = makeDemoModel(), int layers = -1)
{
    QuantizedModel qm;
    qm.base = base;
    qm.recipe = {{"default", {{"method", "test"}}}};
    qm.modelFingerprint = "model-fp";
    qm.calibrationFingerprint = "calib-fp";
    qm.runPath = "/somewhere/run.h5";
    const int nl = layers < 0 ? base->config.nLayers : layers;
    for (int l = 0; l < nl; ++l)
        for (const char* k : kLinear) {
            const std::string name = blockTensorName(l, k);
            qm.layers.emplace(name, make(name, weightOf(*base, name)));
        }
    return qm;
}

ex::ExportReport runExport(const QuantizedModel& qm, const fs::path& out, ex::ExportOptions opt, JobResult* res = nullptr)
{
    NullSink sink;
    CancelToken cancel;
    ex::ExportReport report;
    const JobResult r = ex::exportGguf(qm, out, opt, report, sink, cancel);
    if (res)
        *res = r;
    else {
        INFO(r.message);
        REQUIRE(r.status == JobStatus::Completed);
    }
    return report;
}

std::uint16_t half16(const std::byte* p)
{
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    return h;
}

// Independent decoders from the published layouts (formats-and-runtime.md §3).
MatrixXfR decodeQ1_0(const Tensor& t)
{
    REQUIRE(t.dtype == DType::Q1_0);
    MatrixXfR w(t.rows(), t.cols());
    const std::byte* p = t.data;
    for (Eigen::Index i = 0; i < w.rows(); ++i)
        for (Eigen::Index b = 0; b < w.cols() / 128; ++b, p += 18) {
            const float d = halfToFloat(half16(p));
            for (int j = 0; j < 128; ++j) {
                const bool bit = (std::to_integer<unsigned>(p[2 + j / 8]) >> (j % 8)) & 1u;
                w(i, b * 128 + j) = bit ? d : -d;
            }
        }
    REQUIRE(std::size_t(p - t.data) == t.nbytes);
    return w;
}

MatrixXfR decodeQ4_0(const Tensor& t)
{
    REQUIRE(t.dtype == DType::Q4_0);
    MatrixXfR w(t.rows(), t.cols());
    const std::byte* p = t.data;
    for (Eigen::Index i = 0; i < w.rows(); ++i)
        for (Eigen::Index b = 0; b < w.cols() / 32; ++b, p += 18) {
            const float d = halfToFloat(half16(p));
            for (int j = 0; j < 32; ++j) {
                const unsigned byte = std::to_integer<unsigned>(p[2 + j % 16]);
                const int q = int(j < 16 ? byte & 15u : byte >> 4);
                w(i, b * 32 + j) = float(q - 8) * d;
            }
        }
    return w;
}

bool sameValues(const MatrixXfR& a, const MatrixXfR& b)
{
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

std::vector<std::int32_t> probeTokens(const Model& m)
{
    std::vector<std::int32_t> t;
    for (int i = 0; i < 24; ++i)
        t.push_back((i * 37 + 11) % m.config.vocabSize);
    return t;
}

std::vector<float> logitsOf(const InferenceModel& m, const std::vector<std::int32_t>& tokens)
{
    auto ctx = m.newContext(64);
    std::vector<float> logits;
    ctx->forward(tokens, true, logits);
    return logits;
}

// Mean KL(P_a || P_b) over positions, in nats.
double meanKl(const std::vector<float>& a, const std::vector<float>& b, int vocab)
{
    double total = 0;
    const std::size_t positions = a.size() / std::size_t(vocab);
    for (std::size_t p = 0; p < positions; ++p) {
        const float* x = a.data() + p * vocab;
        const float* y = b.data() + p * vocab;
        double mx = -1e30, my = -1e30;
        for (int v = 0; v < vocab; ++v) {
            mx = std::max(mx, double(x[v]));
            my = std::max(my, double(y[v]));
        }
        double zx = 0, zy = 0;
        for (int v = 0; v < vocab; ++v) {
            zx += std::exp(x[v] - mx);
            zy += std::exp(y[v] - my);
        }
        double kl = 0;
        for (int v = 0; v < vocab; ++v) {
            const double lp = x[v] - mx - std::log(zx), lq = y[v] - my - std::log(zy);
            kl += std::exp(lp) * (lp - lq);
        }
        total += kl;
    }
    return total / double(positions);
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b)
{
    REQUIRE(a.size() == b.size());
    double d = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        d = std::max(d, double(std::fabs(a[i] - b[i])));
    return d;
}

std::size_t filesIn(const fs::path& dir)
{
    return std::size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

} // namespace

TEST_CASE("q1_0 export: tensors decode exactly to the quantized weights and the file runs", "[export]")
{
    bqtest::TempDir dir;
    const QuantizedModel qm = quantizedDemo([](const std::string& n, const MatrixXfR& w) { return signLayer(n, w); });
    for (const auto& [name, q] : qm.layers)
        REQUIRE(q.isExactQ1_0());
    const fs::path out = dir / "demo-q1_0.gguf";
    const auto report = runExport(qm, out, {});
    CHECK(report.quantizedTensors == 28);
    CHECK(report.refitted.empty());
    CHECK(report.fileBytes == fs::file_size(out));

    auto f = GgufFile::open(out);
    CHECK(f->getString("general.architecture") == "llama");
    CHECK(f->getInt("general.file_type") == 40);
    CHECK(f->getInt("general.quantization_version") == 2);
    CHECK(f->getString("bitstudio.export.format") == "q1_0");
    CHECK(f->getString("bitstudio.run.model_fingerprint") == "model-fp");
    CHECK(f->getString("bitstudio.run.calibration_fingerprint") == "calib-fp");
    CHECK(f->getString("bitstudio.run.file") == "run.h5");
    CHECK(nlohmann::json::parse(*f->getString("bitstudio.recipe")) == qm.recipe);
    CHECK(f->getStringArray("tokenizer.ggml.tokens").size() == 512);
    for (const auto& [name, q] : qm.layers) {
        const GgufTensorInfo* info = f->findTensor(name);
        REQUIRE(info);
        CHECK(info->ggmlType == 41);
        CHECK(info->ne == std::vector<std::uint64_t>{std::uint64_t(q.cols), std::uint64_t(q.rows)});
        CHECK(info->nbytes == std::uint64_t(q.rows * q.cols / 128 * 18));
        INFO(name);
        CHECK(sameValues(decodeQ1_0(f->tensor(*info)), q.dequantize()));
    }
    CHECK(f->findTensor("token_embd.weight")->ggmlType == 1); // F16 by default
    CHECK(f->findTensor("blk.0.attn_norm.weight")->ggmlType == 0);

    // Reference runtime: the loaded file reproduces the fake-quantized model (same fp32 weights, same code).
    auto loaded = loadModel(out);
    const auto tokens = probeTokens(*loaded);
    auto fake = makeFp32Model(qm.base, 1, qm.fakeQuantOverrides());
    // The base model's embeddings are F32, the file's F16: compare against a reference with F16-rounded ones.
    WeightOverrides o = qm.fakeQuantOverrides();
    for (const char* t : {"token_embd.weight", "output.weight"}) {
        auto v = qm.base->tensor(t).toFloat();
        for (float& x : v)
            x = roundToHalf(x);
        o[t] = std::make_shared<const std::vector<float>>(std::move(v));
    }
    auto ref = makeFp32Model(qm.base, 1, o);
    const auto refLogits = logitsOf(*ref, tokens);
    CHECK(maxAbsDiff(logitsOf(*makeFp32Model(loaded, 1), tokens), refLogits) < 1e-4);

    // Packed runtime (Q1_0 × int8 activations): within KL 1e-4 nats per position of the fake-quantized model.
    auto packed = makePackedModel(loaded, 1);
    CHECK(packed->backendName() != "fp32");
    const double kl = meanKl(refLogits, logitsOf(*packed, tokens), loaded->config.vocabSize);
    INFO("packed q1_0 vs fake-quantized KL " << kl);
    CHECK(kl < 1e-4);
    // And the F16 embeddings themselves cost little against the exact fake-quantized model.
    CHECK(meanKl(logitsOf(*fake, tokens), refLogits, loaded->config.vocabSize) < 1e-3);
}

TEST_CASE("q1_0 export of a rotate-half llama model permutes q/k rows and still computes the same function",
          "[export]")
{
    bqtest::TempDir dir;
    auto neox = std::make_shared<Model>(*makeDemoModel());
    neox->config.ropeStyle = RopeStyle::NeoX;
    const QuantizedModel qm =
        quantizedDemo([](const std::string& n, const MatrixXfR& w) { return signLayer(n, w); }, neox);
    const fs::path out = dir / "neox.gguf";
    runExport(qm, out, {});
    auto f = GgufFile::open(out);
    const int hd = neox->config.headDim;
    const MatrixXfR q = qm.layers.at("blk.1.attn_q.weight").dequantize();
    const MatrixXfR got = decodeQ1_0(f->tensor(*f->findTensor("blk.1.attn_q.weight")));
    bool rowsOk = true;
    for (Eigen::Index h = 0; h < q.rows() / hd; ++h)
        for (int i = 0; i < hd / 2; ++i) {
            rowsOk &= (got.row(h * hd + 2 * i).array() == q.row(h * hd + i).array()).all();
            rowsOk &= (got.row(h * hd + 2 * i + 1).array() == q.row(h * hd + i + hd / 2).array()).all();
        }
    CHECK(rowsOk);
    CHECK(sameValues(decodeQ1_0(f->tensor(*f->findTensor("blk.1.attn_v.weight"))),
                     qm.layers.at("blk.1.attn_v.weight").dequantize()));

    ex::ExportOptions f32;
    f32.embeddings = DType::F32;
    const fs::path out32 = dir / "neox-f32.gguf";
    runExport(qm, out32, f32);
    auto loaded = loadModel(out32);
    CHECK(loaded->config.ropeStyle == RopeStyle::Interleaved);
    const auto tokens = probeTokens(*loaded);
    CHECK(maxAbsDiff(logitsOf(*makeFp32Model(loaded, 1), tokens),
                     logitsOf(*makeFp32Model(qm.base, 1, qm.fakeQuantOverrides()), tokens)) < 1e-3);
}

TEST_CASE("q1_0 export refuses widths that are not multiples of 128, naming the tensor and K", "[export]")
{
    bqtest::TempDir dir;
    auto tiny = makeSyntheticModel(syntheticShape("stories260k"));
    const auto make = [](const std::string& n, const MatrixXfR& w) { return signLayer(n, w, 0); };
    const QuantizedModel all = quantizedDemo(make, tiny, 1);
    JobResult r;
    runExport(all, dir / "a.gguf", {}, &r);
    CHECK(r.status == JobStatus::Failed);
    CHECK_THAT(r.message, Catch::Contains("blk.0.attn_k.weight") && Catch::Contains("K = 64") &&
                              Catch::Contains("128"));

    QuantizedModel down;
    down.base = tiny;
    down.layers.emplace("blk.2.ffn_down.weight", make("blk.2.ffn_down.weight", weightOf(*tiny, "blk.2.ffn_down.weight")));
    runExport(down, dir / "b.gguf", {}, &r);
    CHECK(r.status == JobStatus::Failed);
    CHECK_THAT(r.message, Catch::Contains("blk.2.ffn_down.weight") && Catch::Contains("K = 172"));
    CHECK(filesIn(dir.path()) == 0);

    // The bitstudio layout holds any width (rows padded to whole bytes), and loads back exactly.
    const fs::path out = dir / "tiny-bitstudio.gguf";
    ex::ExportOptions bs;
    bs.format = ex::ExportFormat::Bitstudio;
    runExport(down, out, bs);
    auto loaded = loadModel(out);
    const auto w = loaded->tensor("blk.2.ffn_down.weight").toFloat();
    CHECK(sameValues(Eigen::Map<const MatrixXfR>(w.data(), 64, 172), down.layers.begin()->second.dequantize()));
}

TEST_CASE("q1_0 export refuses other methods unless --refit, which reports its KL", "[export]")
{
    bqtest::TempDir dir;
    // Residual binarization (2 planes): not Q1_0.
    const auto residual = [](const std::string& n, const MatrixXfR& w) {
        QuantizedLinear q = signLayer(n, w);
        QuantizedLinear r2 = signLayer(n, w - q.dequantize());
        q.method = "residual";
        q.planes.push_back(r2.planes[0]);
        return q;
    };
    const QuantizedModel qm = quantizedDemo(residual);
    const fs::path out = dir / "refit.gguf";
    JobResult r;
    runExport(qm, out, {}, &r);
    CHECK(r.status == JobStatus::Failed);
    CHECK_THAT(r.message, Catch::Contains("blk.0.attn_k.weight") && Catch::Contains("residual") &&
                              Catch::Contains("2 sign planes") && Catch::Contains("--refit") &&
                              Catch::Contains("bitstudio"));
    CHECK(filesIn(dir.path()) == 0);

    ex::ExportOptions opt;
    opt.refit = true;
    opt.evalText = bq::demoText();
    const auto report = runExport(qm, out, opt);
    CHECK(report.refitted.size() == 28);
    INFO("refit KL " << report.refitKl << " top1 " << report.refitTop1);
    CHECK(report.refitKl > 0);
    CHECK(report.refitKl < 0.5);
    CHECK(report.refitTokens > 100);
    auto f = GgufFile::open(out);
    CHECK(f->getStringArray("bitstudio.export.refitted_tensors").size() == 28);
    CHECK(f->getFloat("bitstudio.export.refit_kl").has_value());
    // The refit, recomputed here: signs of Ŵ, d = fp16(mean |Ŵ|) per 128.
    const MatrixXfR w = qm.layers.at("blk.3.ffn_down.weight").dequantize();
    MatrixXfR expect(w.rows(), w.cols());
    for (Eigen::Index i = 0; i < w.rows(); ++i)
        for (Eigen::Index b = 0; b < w.cols() / 128; ++b) {
            const float d = roundToHalf(float(w.row(i).segment(b * 128, 128).cwiseAbs().cast<double>().sum() / 128));
            for (Eigen::Index j = b * 128; j < b * 128 + 128; ++j)
                expect(i, j) = w(i, j) >= 0 ? d : -d;
        }
    CHECK(sameValues(decodeQ1_0(f->tensor(*f->findTensor("blk.3.ffn_down.weight"))), expect));

    // Refit applies to q1_0 only.
    opt.format = ex::ExportFormat::Q4_0;
    runExport(qm, dir / "x.gguf", opt, &r);
    CHECK(r.status == JobStatus::Failed);
    CHECK_THAT(r.message, Catch::Contains("--refit"));
}

TEST_CASE("q4_0 export is an exact container for sign × scale and integer grids", "[export]")
{
    bqtest::TempDir dir;
    // Per layer kind: sign × fp16 scale per 32, ternary codes (bits 2, zero 1), rtn1 {0, s} (bits 1, zero 0).
    int which = 0;
    const auto make = [&](const std::string& n, const MatrixXfR& w) {
        const int kind = which++ % 3;
        if (kind == 0)
            return signLayer(n, w, 32);
        QuantizedLinear q;
        q.tensor = n;
        q.method = kind == 1 ? "ternary" : "rtn1";
        q.rows = w.rows();
        q.cols = w.cols();
        CodePlane c;
        c.bits = kind == 1 ? 2 : 1;
        c.group = 64;
        const int groups = groupCount(w.cols(), 64);
        c.codes.resize(w.rows(), w.cols());
        c.scale.resize(w.rows(), groups);
        c.zero = Eigen::MatrixXf::Constant(w.rows(), groups, kind == 1 ? 1.0f : 0.0f);
        for (Eigen::Index i = 0; i < w.rows(); ++i)
            for (int g = 0; g < groups; ++g) {
                const float s = roundToHalf(w.row(i).segment(g * 64, 64).cwiseAbs().mean());
                c.scale(i, g) = s;
                for (Eigen::Index j = g * 64; j < g * 64 + 64; ++j) {
                    const float x = w(i, j) / s;
                    c.codes(i, j) = kind == 1 ? std::uint8_t(x > 0.5f ? 2 : x < -0.5f ? 0 : 1) : std::uint8_t(x > 0.5f);
                }
            }
        q.codes = c;
        return q;
    };
    const QuantizedModel qm = quantizedDemo(make);
    const fs::path out = dir / "q4.gguf";
    ex::ExportOptions opt;
    opt.format = ex::ExportFormat::Q4_0;
    opt.embeddings = DType::Q8_0;
    runExport(qm, out, opt);
    auto f = GgufFile::open(out);
    CHECK(f->getInt("general.file_type") == 2);
    CHECK(f->findTensor("token_embd.weight")->ggmlType == 8);
    for (const auto& [name, q] : qm.layers) {
        INFO(name << " " << q.method);
        const GgufTensorInfo* info = f->findTensor(name);
        REQUIRE(info->ggmlType == 2);
        CHECK(sameValues(decodeQ4_0(f->tensor(*info)), q.dequantize()));
    }
    // The loader's own Q4_0 decode agrees too.
    auto loaded = loadModel(out);
    const auto v = loaded->tensor("blk.0.attn_q.weight").toFloat();
    CHECK(sameValues(Eigen::Map<const MatrixXfR>(v.data(), 128, 128), qm.layers.at("blk.0.attn_q.weight").dequantize()));

    // A grid Q4_0 cannot hold (three planes with column scales and means) is refused, naming where.
    std::mt19937_64 rng(5);
    QuantizedModel bad;
    bad.base = qm.base;
    bad.layers.emplace("blk.0.attn_q.weight", kitchenSink("blk.0.attn_q.weight", 128, 128, rng));
    JobResult r;
    runExport(bad, dir / "bad.gguf", opt, &r);
    CHECK(r.status == JobStatus::Failed);
    CHECK_THAT(r.message, Catch::Contains("blk.0.attn_q.weight") && Catch::Contains("row 0") &&
                              Catch::Contains("--format bitstudio"));
    CHECK(!fs::exists(dir / "bad.gguf"));
}

TEST_CASE("bitstudio export carries every plane, mask and code kind exactly and runs packed", "[export]")
{
    bqtest::TempDir dir;
    std::mt19937_64 rng(42);
    const QuantizedModel qm = quantizedDemo(
        [&](const std::string& n, const MatrixXfR& w) { return kitchenSink(n, w.rows(), w.cols(), rng); });
    const fs::path out = dir / "bs.gguf";
    ex::ExportOptions opt;
    opt.format = ex::ExportFormat::Bitstudio;
    const auto report = runExport(qm, out, opt);
    CHECK(report.quantizedTensors == 28);

    auto f = GgufFile::open(out);
    for (const auto& info : f->tensorInfos()) // standard types only: every GGUF tool can parse the file
        CHECK((info.dtype == DType::F32 || info.dtype == DType::F16 || info.dtype == DType::I8));
    CHECK(f->findTensor("blk.0.attn_q.weight") == nullptr);
    CHECK(f->findTensor("blk.0.attn_q.p0.scale")->dtype == DType::F16);    // fp16 values stay F16
    CHECK(f->findTensor("blk.0.attn_q.p0.colscale")->dtype == DType::F32); // others keep F32
    CHECK(f->findTensor("blk.0.attn_q.p1.colmask")->nbytes == 16);
    CHECK(f->findTensor("blk.0.attn_q.codes")->ne == std::vector<std::uint64_t>{16, 128, 3});
    CHECK(f->findTensor("blk.0.attn_q.p0.signs")->nbytes == 128 * 16); // unmasked plane: dense rows
    const auto& p2 = qm.layers.at("blk.0.attn_q.weight").planes[2]; // element-masked: only the selected signs
    CHECK(f->findTensor("blk.0.attn_q.p2.signs")->nbytes == std::uint64_t((p2.mask.elements.cast<int>().sum() + 7) / 8));

    const auto back = bq::readBitstudioLayers(*f);
    REQUIRE(back.size() == qm.layers.size());
    for (const auto& [name, q] : qm.layers) {
        INFO(name);
        const QuantizedLinear& b = back.at(name);
        CHECK(b.method == q.method);
        CHECK(b.storageBitsPerWeight == q.storageBitsPerWeight);
        REQUIRE(b.planes.size() == 3);
        for (std::size_t p = 0; p < 3; ++p) {
            const auto &x = q.planes[p], &y = b.planes[p];
            CHECK(x.group == y.group);
            bool signsOk = true; // under the mask exactly; +1 (irrelevant) elsewhere
            for (Eigen::Index i = 0; i < q.rows; ++i)
                for (Eigen::Index j = 0; j < q.cols; ++j)
                    signsOk &= x.mask.applies(i, j) ? x.signs(i, j) == y.signs(i, j) : y.signs(i, j) == 1;
            CHECK(signsOk);
            CHECK(x.mask.kind == y.mask.kind);
            CHECK(x.mask.columns == y.mask.columns);
            CHECK(x.mask.elements == y.mask.elements);
            CHECK(x.rowScale == y.rowScale);
            CHECK(x.colScale == y.colScale);
            CHECK(x.mean == y.mean);
        }
        REQUIRE(b.codes);
        CHECK(b.codes->bits == 3);
        CHECK(b.codes->group == 32);
        CHECK(b.codes->codes == q.codes->codes);
        CHECK(b.codes->scale == q.codes->scale);
        CHECK(b.codes->zero == q.codes->zero);
    }

    // Loads as a model (components -> dequantized weights) and runs: reference exactly, packed within 1e-4.
    auto loaded = loadModel(out);
    CHECK(loaded->find("blk.0.attn_q.p0.signs") == nullptr);
    const auto v = loaded->tensor("blk.2.ffn_down.weight").toFloat();
    CHECK(sameValues(Eigen::Map<const MatrixXfR>(v.data(), 128, 384), qm.layers.at("blk.2.ffn_down.weight").dequantize()));
    const auto tokens = probeTokens(*loaded);
    WeightOverrides o = qm.fakeQuantOverrides();
    for (const char* t : {"token_embd.weight", "output.weight"}) {
        auto e = qm.base->tensor(t).toFloat();
        for (float& x : e)
            x = roundToHalf(x);
        o[t] = std::make_shared<const std::vector<float>>(std::move(e));
    }
    const auto refLogits = logitsOf(*makeFp32Model(qm.base, 1, o), tokens);
    CHECK(maxAbsDiff(logitsOf(*makeFp32Model(loaded, 1), tokens), refLogits) < 1e-4);
    PackedModelOptions po;
    po.linearFactory = bq::exporter::bitstudioLinearFactory(out);
    auto packed = makePackedModel(loaded, 1, po);
    const double d = maxAbsDiff(logitsOf(*packed, tokens), refLogits);
    INFO("packed bitstudio max |Δlogit| " << d);
    CHECK(d < 1e-4);
}

TEST_CASE("bitstudio PackedLinear: scalar and AVX2 kernels equal the dequantized product", "[export]")
{
    std::mt19937_64 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    ThreadPool pool(2);
    for (Eigen::Index m : {Eigen::Index(172), Eigen::Index(100), Eigen::Index(256)}) {
        const Eigen::Index n = 37;
        QuantizedLinear q = kitchenSink("t", n, m, rng);
        const MatrixXfR w = q.dequantize();
        std::vector<float> x(std::size_t(3 * m));
        for (float& v : x)
            v = nd(rng);
        std::vector<bq::BitstudioKernel> kinds{bq::BitstudioKernel::Scalar};
        if (cpuFeatures().avx2)
            kinds.push_back(bq::BitstudioKernel::Avx2);
        for (auto kind : kinds) {
            auto lin = bq::makeBitstudioPackedLinear(q, kind);
            CHECK(lin->rows() == n);
            CHECK(lin->cols() == m);
            CHECK(lin->kind() == "bitstudio-fp32.kitchen-sink");
            std::vector<float> y(static_cast<std::size_t>(3 * n)), y1(static_cast<std::size_t>(n));
            lin->gemm(x.data(), 3, y.data(), &pool);
            for (int t = 0; t < 3; ++t) {
                lin->gemv(x.data() + t * m, y1.data(), nullptr);
                for (Eigen::Index i = 0; i < n; ++i) {
                    double exact = 0, mag = 0;
                    for (Eigen::Index j = 0; j < m; ++j) {
                        exact += double(w(i, j)) * x[std::size_t(t * m + j)];
                        mag += std::fabs(double(w(i, j)) * x[std::size_t(t * m + j)]);
                    }
                    INFO("m " << m << " kernel " << int(kind) << " row " << i);
                    CHECK(std::fabs(y[std::size_t(t * n + i)] - exact) <= 1e-5 * mag + 1e-6);
                    CHECK(y1[std::size_t(i)] == y[std::size_t(t * n + i)]);
                }
            }
        }
    }
}

TEST_CASE("export writes atomically: refusals and cancels leave no file, an old file survives", "[export]")
{
    bqtest::TempDir dir;
    std::mt19937_64 rng(3);
    const QuantizedModel qm = quantizedDemo(
        [&](const std::string& n, const MatrixXfR& w) { return kitchenSink(n, w.rows(), w.cols(), rng); },
        makeDemoModel(), 1);
    const fs::path out = dir / "model.gguf";
    bqtest::TempDir other;
    { // an existing file stays untouched by a refused export
        std::FILE* fp = std::fopen(out.c_str(), "wb");
        std::fputs("old", fp);
        std::fclose(fp);
    }
    JobResult r;
    runExport(qm, out, {}, &r);
    CHECK(r.status == JobStatus::Failed);
    CHECK(bqtest::readFile(out) == "old");
    CHECK(filesIn(dir.path()) == 1);

    NullSink sink;
    CancelToken cancel;
    cancel.request();
    ex::ExportReport report;
    ex::ExportOptions opt;
    opt.format = ex::ExportFormat::Bitstudio;
    r = ex::exportGguf(qm, other / "c.gguf", opt, report, sink, cancel);
    CHECK(r.status == JobStatus::Cancelled);
    CHECK(filesIn(other.path()) == 0);

    // Same inputs, byte-identical files.
    runExport(qm, other / "a.gguf", opt);
    runExport(qm, other / "b.gguf", opt);
    CHECK(bqtest::readFile(other / "a.gguf") == bqtest::readFile(other / "b.gguf"));
    CHECK(filesIn(other.path()) == 2);
}

TEST_CASE("bitstudio-cli export reads a run file and exports or refuses", "[export][cli]")
{
    bqtest::TempDir dir;
    const fs::path run = dir / "run.h5";
    {
        RunHeader h;
        h.recipe = {{"default", {{"method", "q1_0"}}}};
        h.modelPath = ":demo";
        h.modelFingerprint = "demo-fp";
        h.blockCount = 4;
        h.calibrationTokens = {1, 4, {1, 5, 9, 13}};
        auto w = RunFileWriter::create(run, h);
        auto base = makeDemoModel();
        for (int l = 0; l < 4; ++l) {
            for (const char* k : kLinear) {
                const std::string name = blockTensorName(l, k);
                QuantizedLinear q = signLayer(name, weightOf(*base, name));
                if (l == 3 && std::string(k) == "ffn_up") // one layer Q1_0 cannot hold: scales per 64
                    q = signLayer(name, weightOf(*base, name), 64);
                LayerResult r;
                r.tensor = name;
                r.block = l;
                r.method = q.method;
                w.writeLayer(r, &q);
            }
            w.finishBlock(l);
        }
        w.setStatus(RunStatus::Completed);
    }
    const auto refused = bqtest::runCli({"export", run.string(), "--out", (dir / "m.gguf").string()});
    CHECK(refused.exitCode != 0);
    CHECK_THAT(refused.err, Catch::Contains("blk.3.ffn_up.weight") && Catch::Contains("--refit"));
    CHECK(!fs::exists(dir / "m.gguf"));

    const auto ok = bqtest::runCli({"export", dir.path().string(), "--out", (dir / "m.gguf").string(), "--refit",
                                    "--embeddings", "q8_0", "--json"});
    INFO(ok.err);
    REQUIRE(ok.exitCode == 0);
    const auto j = nlohmann::json::parse(ok.out);
    CHECK(j["refitted"] == nlohmann::json::array({"blk.3.ffn_up.weight"}));
    CHECK(j["refit_kl"].get<double>() >= 0);
    CHECK(j["bytes"].get<std::uint64_t>() == fs::file_size(dir / "m.gguf"));
    auto f = GgufFile::open(dir / "m.gguf");
    CHECK(f->getString("bitstudio.run.model_fingerprint") == "demo-fp");
    CHECK(f->getString("bitstudio.run.file") == "run.h5");
    CHECK(f->findTensor("blk.3.ffn_up.weight")->ggmlType == 41);
    CHECK(f->findTensor("output.weight")->ggmlType == 8);

    const auto bs = bqtest::runCli({"export", run.string(), "--out", (dir / "b.gguf").string(), "--format", "bitstudio"});
    CHECK(bs.exitCode == 0);
    CHECK(loadModel(dir / "b.gguf")->config.nLayers == 4);
}
