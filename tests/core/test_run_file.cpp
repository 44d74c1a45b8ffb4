// The HDF5 run file: exact parameter round trips, layer results, resume semantics after a crash, error
// messages for broken files, fingerprints, and an independent read with h5py.
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/run/fingerprint.h"
#include "bq/quant/run/run_file.h"
#include "bq/util/errors.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace bq;
using namespace bq::quant;

namespace {

template <class A, class B>
bool sameBits(const A& a, const B& b)
{
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           (a.size() == 0 || std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(*a.data())) == 0);
}

// Column-major Eigen::MatrixXf compared through a row-major copy is fine: both are exact copies.
bool sameFloats(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) { return sameBits(a, b); }

Eigen::MatrixXf randomMatrix(std::mt19937& rng, Eigen::Index r, Eigen::Index c)
{
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    Eigen::MatrixXf m(r, c);
    for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = u(rng);
    // Values whose bits a lossy path would change: -0, a subnormal, the largest float, an fp16-rounded value.
    if (m.size() >= 4) {
        m.data()[0] = -0.0f;
        m.data()[1] = std::numeric_limits<float>::denorm_min() * 3;
        m.data()[2] = std::numeric_limits<float>::max();
        m.data()[3] = 0.0999755859375f;
    }
    return m;
}

SignPlane randomPlane(std::mt19937& rng, Eigen::Index n, Eigen::Index m, int group, PlaneMask::Kind kind,
                      bool colScale, bool mean)
{
    SignPlane p;
    p.signs.resize(n, m);
    for (Eigen::Index k = 0; k < p.signs.size(); ++k) p.signs.data()[k] = (rng() & 1) ? 1 : -1;
    p.group = group;
    p.rowScale = randomMatrix(rng, n, groupCount(m, group)).cwiseAbs();
    if (colScale) p.colScale = randomMatrix(rng, m, 1).col(0);
    if (mean) p.mean = randomMatrix(rng, n, groupCount(m, group));
    p.mask.kind = kind;
    if (kind == PlaneMask::Kind::Columns) {
        p.mask.columns.resize(std::size_t(m));
        for (auto& v : p.mask.columns) v = std::uint8_t(rng() % 3 == 0);
    } else if (kind == PlaneMask::Kind::Elements) {
        p.mask.elements.resize(n, m);
        for (Eigen::Index k = 0; k < p.mask.elements.size(); ++k) p.mask.elements.data()[k] = std::uint8_t(rng() & 1);
    }
    return p;
}

// Every plane/mask kind plus an integer-code plane; 77 columns so packed rows end in a partial byte.
QuantizedLinear randomLayer(std::uint32_t seed, const std::string& name)
{
    std::mt19937 rng(seed);
    const Eigen::Index n = 13, m = 77;
    QuantizedLinear q;
    q.tensor = name;
    q.method = "test-all-kinds";
    q.rows = n;
    q.cols = m;
    q.planes.push_back(randomPlane(rng, n, m, 0, PlaneMask::Kind::All, false, false));
    q.planes.push_back(randomPlane(rng, n, m, 32, PlaneMask::Kind::Columns, true, true));
    q.planes.push_back(randomPlane(rng, n, m, 16, PlaneMask::Kind::Elements, false, true));
    CodePlane c;
    c.bits = 3;
    c.group = 24;
    c.codes.resize(n, m);
    for (Eigen::Index k = 0; k < c.codes.size(); ++k) c.codes.data()[k] = std::uint8_t(rng() % 8);
    c.scale = randomMatrix(rng, n, groupCount(m, c.group)).cwiseAbs();
    c.zero = randomMatrix(rng, n, groupCount(m, c.group)).array() + 3.5f;
    q.codes = c;
    q.storageBitsPerWeight = 3.0 + 1.0 / 3.0;
    return q;
}

void requireSameLayer(const QuantizedLinear& a, const QuantizedLinear& b)
{
    REQUIRE(a.tensor == b.tensor);
    REQUIRE(a.method == b.method);
    REQUIRE(a.rows == b.rows);
    REQUIRE(a.cols == b.cols);
    REQUIRE(a.storageBitsPerWeight == b.storageBitsPerWeight);
    REQUIRE(a.planes.size() == b.planes.size());
    for (std::size_t p = 0; p < a.planes.size(); ++p) {
        INFO("plane " << p);
        const SignPlane &x = a.planes[p], &y = b.planes[p];
        CHECK(sameBits(x.signs, y.signs));
        CHECK(x.group == y.group);
        CHECK(x.mask.kind == y.mask.kind);
        CHECK(x.mask.columns == y.mask.columns);
        CHECK(sameBits(x.mask.elements, y.mask.elements));
        CHECK(sameFloats(x.rowScale, y.rowScale));
        CHECK(sameBits(x.colScale, y.colScale));
        CHECK(sameFloats(x.mean, y.mean));
    }
    REQUIRE(a.codes.has_value() == b.codes.has_value());
    if (a.codes) {
        CHECK(a.codes->bits == b.codes->bits);
        CHECK(a.codes->group == b.codes->group);
        CHECK(sameBits(a.codes->codes, b.codes->codes));
        CHECK(sameFloats(a.codes->scale, b.codes->scale));
        CHECK(sameFloats(a.codes->zero, b.codes->zero));
    }
    CHECK(sameBits(a.dequantize(), b.dequantize()));
}

RunHeader testHeader(const Model& model)
{
    RunHeader h;
    h.recipe = {{"schema", "bitstudio.recipe/1"}, {"defaults", {{"method", "arb-rc"}, {"block", 128}}}};
    h.modelPath = ":demo";
    h.tokenizerPath = "";
    h.calibration = {{"source", "demo"}, {"samples", 3}, {"seq_len", 5}, {"seed", 7}};
    h.calibrationTokens.samples = 3;
    h.calibrationTokens.seqLen = 5;
    for (int k = 0; k < 15; ++k) h.calibrationTokens.ids.push_back(k * 37 - 2); // includes a negative id
    h.modelFingerprint = modelFingerprint(model);
    h.calibrationFingerprint = calibrationFingerprint(3, 5, h.calibrationTokens.ids, h.calibration);
    h.blockCount = model.config.nLayers;
    return h;
}

LayerResult layerResult(const std::string& tensor, int block, double err)
{
    LayerResult r;
    r.tensor = tensor;
    r.block = block;
    r.method = "test-all-kinds";
    r.decidedBy = "rule #2";
    r.metrics = {{"rel_weight_error", err}, {"out_err_local", err / 3}, {"token_sim_err", -0.0}};
    auto arrays = std::make_shared<LayerArrays>();
    arrays->values["spectrum_w"] = {3.0, 2.5, 1.0 / 3.0, 1e-300};
    arrays->values["histogram_counts"] = {0, 4, 9, 4, 0};
    arrays->values["empty"] = {};
    r.arrays = arrays;
    r.bitsPerWeight = 1.125;
    r.seconds = 0.25;
    return r;
}

std::string runPython(const std::string& python, const std::filesystem::path& script, int& exitCode)
{
    const std::string cmd = python + " '" + script.string() + "' 2>&1";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    std::size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
    const int status = ::pclose(p);
    exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

template <class F>
std::string errorOf(F&& f)
{
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no exception)";
}

} // namespace

TEST_CASE("FNV-1a 64 matches the published test vectors", "[run]")
{
    auto hashOf = [](const char* s) {
        Fnv1a64 h;
        h.update(s, std::strlen(s));
        return h.value();
    };
    CHECK(hashOf("") == 0xcbf29ce484222325ull);
    CHECK(hashOf("a") == 0xaf63dc4c8601ec8cull);
    CHECK(hashOf("foobar") == 0x85944171f73967e8ull);
    Fnv1a64 h;
    h.update("foobar", 6);
    CHECK(h.text() == "fnv1a64:85944171f73967e8");
}

TEST_CASE("model and calibration fingerprints are stable and see every change", "[run]")
{
    const auto model = makeDemoModel();
    const std::string fp = modelFingerprint(*model);
    CHECK(fp.rfind("fnv1a64:", 0) == 0);
    CHECK(modelFingerprint(*makeDemoModel()) == fp); // independent rebuild, same bytes

    Model changed = *model; // tensors are views; replace one with a copy that differs in one byte
    const Tensor& t = model->tensor("blk.0.attn_q.weight");
    std::vector<std::byte> bytes(t.data, t.data + t.nbytes);
    bytes[bytes.size() / 2] ^= std::byte{1};
    changed.tensors[t.name] = makeOwnedTensor(t.name, t.dtype, t.shape, bytes);
    CHECK(modelFingerprint(changed) != fp);

    Model config = *model;
    config.config.ropeTheta += 1.0f;
    CHECK(modelFingerprint(config) != fp);

    Model renamed = *model; // same bytes under another name
    auto node = renamed.tensors.extract("blk.0.attn_q.weight");
    node.key() = "blk.0.attn_q.weight2";
    renamed.tensors.insert(std::move(node));
    CHECK(modelFingerprint(renamed) != fp);

    const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6};
    const nlohmann::json sampling = {{"seed", 0}, {"seq_len", 3}};
    const std::string cfp = calibrationFingerprint(2, 3, ids, sampling);
    CHECK(calibrationFingerprint(2, 3, ids, sampling) == cfp);
    CHECK(calibrationFingerprint(3, 2, ids, sampling) != cfp);
    CHECK(calibrationFingerprint(2, 3, {1, 2, 3, 4, 5, 7}, sampling) != cfp);
    CHECK(calibrationFingerprint(2, 3, ids, {{"seed", 1}, {"seq_len", 3}}) != cfp);
    CHECK(recipeFingerprint({{"a", 1}}) != recipeFingerprint({{"a", 2}}));
}

TEST_CASE("run file round-trips header, layer results and every parameter kind bit-exactly", "[run]")
{
    bqtest::TempDir dir;
    const auto path = dir / "run.h5";
    const auto model = makeDemoModel();
    const RunHeader header = testHeader(*model);

    const QuantizedLinear q0 = randomLayer(1, "blk.0.attn_q.weight");
    QuantizedLinear codesOnly; // a gptq-like layer: codes, no sign planes, whole-row groups
    codesOnly.tensor = "blk.0.ffn_down.weight";
    codesOnly.method = "gptq";
    codesOnly.rows = 4;
    codesOnly.cols = 9;
    codesOnly.codes = CodePlane{2, 0, MatrixXu8R::Constant(4, 9, 3), Eigen::MatrixXf::Constant(4, 1, 0.5f),
                                Eigen::MatrixXf::Constant(4, 1, 1.5f)};
    codesOnly.codes->codes(2, 7) = 0;
    codesOnly.storageBitsPerWeight = 2.0 + 64.0 / 9.0;
    const QuantizedLinear slash = randomLayer(2, "odd/name%with.slash");

    {
        auto w = RunFileWriter::create(path, header);
        CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp-" + std::to_string(::getpid())));
        w.writeLayer(layerResult(q0.tensor, 0, 0.1), &q0);
        w.writeLayer(layerResult(codesOnly.tensor, 0, 0.2), &codesOnly);
        w.writeLayer(layerResult(slash.tensor, 0, 0.3), &slash);
        LayerResult kept;
        kept.tensor = "token_embd.weight";
        kept.method = "keep";
        kept.decidedBy = "rule #0";
        w.writeLayer(kept, nullptr);
        w.writeBlock(0, {{"rel_mse", 0.01}, {"cosine", 0.999}});
        w.finishBlock(0);
        w.writeFinalEval({{"ppl", 12.5}, {"kl", 0.125}, {"top1", 0.875}, {"tokens", 4096},
                          {"protocol", "wikitext-2, 512-token windows"}});
        w.setStatus(RunStatus::Completed);
        w.close();
    }

    RunFileReader r(path);
    const RunHeader& h = r.header();
    CHECK(h.recipe == header.recipe);
    CHECK(h.toolVersion == BQ_VERSION);
    CHECK(h.created.size() == 20); // 2024-01-02T03:04:05Z
    CHECK(h.status == RunStatus::Completed);
    CHECK(h.modelFingerprint == header.modelFingerprint);
    CHECK(h.calibrationFingerprint == header.calibrationFingerprint);
    CHECK(h.recipeFingerprint == recipeFingerprint(header.recipe));
    CHECK(h.modelPath == ":demo");
    CHECK(h.calibration == header.calibration);
    CHECK(h.calibrationTokens.samples == 3);
    CHECK(h.calibrationTokens.seqLen == 5);
    CHECK(h.calibrationTokens.ids == header.calibrationTokens.ids);
    CHECK(h.blockCount == model->config.nLayers);
    CHECK(r.finishedBlocks() == 1);

    requireSameLayer(r.loadQuantizedLinear(q0.tensor), q0);
    requireSameLayer(r.loadQuantizedLinear(codesOnly.tensor), codesOnly);
    requireSameLayer(r.loadQuantizedLinear(slash.tensor), slash);
    CHECK(r.quantizedLayerNames() == std::vector<std::string>{q0.tensor, codesOnly.tensor, slash.tensor});

    const auto layers = r.layers();
    REQUIRE(layers.size() == 4);
    CHECK(layers[0].tensor == "token_embd.weight"); // block -1 sorts first
    CHECK(layers[0].block == -1);
    CHECK(layers[0].arrays == nullptr);
    CHECK(layers[0].metrics.empty());
    const LayerResult& l = layers[1];
    const LayerResult want = layerResult(q0.tensor, 0, 0.1);
    CHECK(l.tensor == want.tensor);
    CHECK(l.block == 0);
    CHECK(l.method == want.method);
    CHECK(l.decidedBy == want.decidedBy);
    CHECK(l.metrics == want.metrics);
    CHECK(std::signbit(l.metrics.at("token_sim_err")));
    CHECK(l.bitsPerWeight == want.bitsPerWeight);
    CHECK(l.seconds == want.seconds);
    REQUIRE(l.arrays);
    CHECK(l.arrays->values == want.arrays->values);

    CHECK(r.blockMetrics(0) == std::map<std::string, double>{{"rel_mse", 0.01}, {"cosine", 0.999}});
    CHECK(r.blockMetrics(1).empty());
    CHECK(r.blocksWithMetrics() == std::vector<std::int32_t>{0});
    const auto eval = r.finalEval();
    REQUIRE(eval);
    CHECK(eval->at("ppl") == 12.5);
    CHECK(eval->at("tokens") == 4096);
    CHECK(eval->at("protocol") == "wikitext-2, 512-token windows");

    const std::string missing = errorOf([&] { r.loadQuantizedLinear("blk.9.attn_k.weight"); });
    CHECK_THAT(missing, Catch::Contains(path.string()) && Catch::Contains("blk.9.attn_k.weight"));
}

TEST_CASE("a run killed after a finished block reopens and resumes after it", "[run]")
{
    bqtest::TempDir dir;
    const auto path = dir / "crashed.h5";
    const auto model = makeDemoModel();
    const RunHeader header = testHeader(*model);
    const QuantizedLinear b0 = randomLayer(10, "blk.0.attn_q.weight");
    const QuantizedLinear b1 = randomLayer(11, "blk.1.attn_q.weight");

    // A child process writes block 0 completely, half of block 1, and dies without closing the file.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        try {
            auto w = RunFileWriter::create(path, header);
            w.writeLayer(layerResult(b0.tensor, 0, 0.1), &b0);
            w.writeBlock(0, {{"rel_mse", 0.01}});
            w.finishBlock(0);
            w.writeLayer(layerResult(b1.tensor, 1, 0.2), &b1);
            w.writeBlock(1, {{"rel_mse", 0.02}});
            ::_exit(0); // a crash: no close, no destructors
        } catch (...) {
            ::_exit(3);
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    auto demoOpener = [&](const std::filesystem::path& p, const std::filesystem::path&) {
        CHECK(p == ":demo");
        return model;
    };
    {
        RunFileReader r(path);
        CHECK(r.header().status == RunStatus::Running);
        CHECK(r.finishedBlocks() == 1);
        CHECK(r.layers().size() == 2); // the half-done block is visible to the reader...
        const QuantizedModel qm = r.loadQuantizedModel(demoOpener);
        CHECK(qm.layers.size() == 1); // ...but not part of the model
        REQUIRE(qm.layers.count(b0.tensor) == 1);
        requireSameLayer(qm.layers.at(b0.tensor), b0);
        CHECK(qm.base == model);
        CHECK(qm.recipe == header.recipe);
        CHECK(qm.runPath == path.string());
    }

    const RunFingerprints good{header.modelFingerprint, header.calibrationFingerprint,
                               recipeFingerprint(header.recipe), BQ_VERSION};
    SECTION("mismatching fingerprints refuse to resume, naming every field")
    {
        RunFingerprints bad = good;
        bad.model = "fnv1a64:0000000000000000";
        bad.recipe = "fnv1a64:1111111111111111";
        try {
            RunFileWriter::openForResume(path, bad);
            FAIL("openForResume accepted different fingerprints");
        } catch (const ResumeMismatch& e) {
            CHECK(e.fields() == std::vector<std::string>{"model", "recipe"});
            const std::string msg = e.what();
            CHECK_THAT(msg, Catch::Contains(path.string()) && Catch::Contains("model fingerprint") &&
                                Catch::Contains(header.modelFingerprint) && Catch::Contains("recipe fingerprint"));
        }
    }
    SECTION("matching fingerprints resume after the last complete block")
    {
        {
            auto w = RunFileWriter::openForResume(path, good);
            CHECK(w.finishedBlocks() == 1);
            const QuantizedLinear again = randomLayer(12, b1.tensor);
            w.writeLayer(layerResult(b1.tensor, 1, 0.3), &again);
            w.finishBlock(1);
            w.setStatus(RunStatus::Completed);
        }
        RunFileReader r(path);
        CHECK(r.finishedBlocks() == 2);
        CHECK(r.header().status == RunStatus::Completed);
        CHECK(r.blocksWithMetrics() == std::vector<std::int32_t>{0}); // block 1 metrics were dropped on resume
        requireSameLayer(r.loadQuantizedLinear(b0.tensor), b0);
        requireSameLayer(r.loadQuantizedLinear(b1.tensor), randomLayer(12, b1.tensor));
        CHECK(r.layers().at(1).metrics.at("rel_weight_error") == 0.3);
        CHECK(r.loadQuantizedModel(demoOpener).layers.size() == 2);
    }
}

TEST_CASE("broken run files give errors naming the file and the item", "[run]")
{
    bqtest::TempDir dir;
    const auto model = makeDemoModel();

    const auto text = dir / "notes.txt";
    std::ofstream(text) << "this is not an HDF5 file at all\n";
    std::string msg = errorOf([&] { RunFileReader r(text); });
    CHECK_THAT(msg, Catch::Contains(text.string()) && Catch::Contains("HDF5"));

    const auto absent = dir / "absent.h5";
    msg = errorOf([&] { RunFileReader r(absent); });
    CHECK_THAT(msg, Catch::Contains(absent.string()));

    const auto good = dir / "good.h5";
    {
        auto w = RunFileWriter::create(good, testHeader(*model));
        const QuantizedLinear q = randomLayer(3, "blk.0.attn_q.weight");
        w.writeLayer(layerResult(q.tensor, 0, 0.1), &q);
        w.finishBlock(0);
    }
    const std::string bytes = bqtest::readFile(good);
    REQUIRE(bytes.size() > 4096);
    const auto truncated = dir / "truncated.h5";
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
    msg = errorOf([&] { RunFileReader r(truncated); });
    CHECK_THAT(msg, Catch::Contains(truncated.string()));
    CHECK(msg.find("(no exception)") == std::string::npos);

    // The fingerprint check of loadQuantizedModel: a different model behind the stored path is refused.
    RunFileReader r(good);
    auto otherModel = [&](const std::filesystem::path&, const std::filesystem::path&) {
        auto m = std::make_shared<Model>(*model);
        m->config.normEps *= 2;
        return std::shared_ptr<const Model>(m);
    };
    msg = errorOf([&] { r.loadQuantizedModel(otherModel); });
    CHECK_THAT(msg, Catch::Contains(good.string()) && Catch::Contains("model_fingerprint"));
}

TEST_CASE("h5py reads the recipe, a metric, packed signs and the calibration ids", "[run]")
{
    bqtest::TempDir dir;
    const auto path = dir / "run.h5";
    const auto model = makeDemoModel();
    const RunHeader header = testHeader(*model);
    const QuantizedLinear q = randomLayer(5, "blk.3.ffn_down.weight");
    {
        auto w = RunFileWriter::create(path, header);
        w.writeLayer(layerResult(q.tensor, 3, 0.0625), &q);
    }
    // Expected values computed here, compared there.
    std::string signs = "[";
    for (Eigen::Index i = 0; i < q.rows; ++i) {
        signs += i ? ",[" : "[";
        for (Eigen::Index j = 0; j < q.cols; ++j) {
            if (j) signs += ',';
            signs += std::to_string(int(q.planes[2].signs(i, j)));
        }
        signs += "]";
    }
    signs += "]";
    std::string ids = "[";
    for (std::size_t k = 0; k < header.calibrationTokens.ids.size(); ++k) {
        if (k) ids += ',';
        ids += std::to_string(header.calibrationTokens.ids[k]);
    }
    ids += "]";
    // Also a file h5py makes with the schema attribute but no groups (for the missing-item error below).
    const auto partial = dir / "partial.h5";
    const auto script = dir / "check.py";
    std::ofstream(script) << "import sys, json\n"
                             "try:\n"
                             "    import h5py, numpy as np\n"
                             "except ImportError:\n"
                             "    print('NO_H5PY'); sys.exit(0)\n"
                             "g = h5py.File('" << partial.string() << "', 'w')\n"
                             "g.attrs['schema'] = 'bitstudio.run/1'\n"
                             "g.close()\n"
                             "f = h5py.File('" << path.string() << "', 'r')\n"
                             "assert f.attrs['schema'] == 'bitstudio.run/1', f.attrs['schema']\n"
                             "recipe = json.loads(f['meta/recipe'][()])\n"
                             "assert recipe['defaults']['method'] == 'arb-rc', recipe\n"
                             "L = f['layers/blk.3.ffn_down.weight']\n"
                             "assert L.attrs['method'] == 'test-all-kinds'\n"
                             "assert L['metrics'].attrs['rel_weight_error'] == 0.0625\n"
                             "assert int(L.attrs['block']) == 3\n"
                             "P = L['params/plane_2']\n"
                             "assert P.attrs['mask_kind'] == 'elements'\n"
                             "m = int(L['params'].attrs['cols'])\n"
                             "bits = np.unpackbits(P['signs'][()], axis=1, bitorder='little')[:, :m]\n"
                             "want = np.array(" << signs << ")\n"
                             "assert ((bits.astype(int) * 2 - 1) == want).all()\n"
                             "tok = f['calib/tokens'][()]\n"
                             "assert tok.dtype == np.int32 and tok.shape == (3, 5), (tok.dtype, tok.shape)\n"
                             "assert (tok.reshape(-1) == np.array(" << ids << ")).all()\n"
                             "print('h5py-ok')\n";
    // Debian's python3 first (python3-h5py installs there), then whatever python3 is on PATH.
    int code = -1;
    std::string out;
    for (const char* python : {"/usr/bin/python3", "python3"}) {
        out = runPython(python, script, code);
        if (code != 127 && out.find("NO_H5PY") == std::string::npos) break; // ran (pass or fail)
    }
    if (code == 0 && out.find("NO_H5PY") != std::string::npos) {
        if (bqtest::inCi())
            FAIL("MISSING DEPENDENCY: h5py check: neither /usr/bin/python3 nor python3 can import h5py (install "
                 "python3-h5py); CI is set, so this is a failure, not a skip");
        WARN("SKIPPED: h5py check: neither /usr/bin/python3 nor python3 can import h5py (install python3-h5py)");
        return;
    }
    INFO(out);
    REQUIRE(code == 0);
    CHECK_THAT(out, Catch::Contains("h5py-ok"));

    const std::string msg = errorOf([&] { RunFileReader r(partial); });
    CHECK_THAT(msg, Catch::Contains(partial.string()) && Catch::Contains("/meta"));
}
