// Output paths never lose a user's data (util/output_path.h): `convert`, `quantize --out/--run` and `export`
// refuse a path holding something that is not a previous bitstudio output unless --force; previous outputs are
// replaced; and under a file-size limit (a full disk, as far as the writers can tell) every writer fails with a
// clear message, leaves no temporary file and leaves the previous output byte for byte as it was.
#include "bq/demo/demo_model.h"
#include "support/test_support.h"
#include <catch2/catch.hpp>
#include <fstream>
#include <map>

using bqtest::runCli;
namespace fs = std::filesystem;

namespace {

void writeText(const fs::path& p, const std::string& text)
{
    std::ofstream f(p, std::ios::binary);
    f << text;
}

// Every regular file under `root` (relative path -> bytes); `root` itself may be a file.
std::map<std::string, std::string> snapshot(const fs::path& root)
{
    std::map<std::string, std::string> files;
    if (fs::is_regular_file(root)) {
        files[""] = bqtest::readFile(root);
        return files;
    }
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file())
            files[fs::relative(e.path(), root).string()] = bqtest::readFile(e.path());
    return files;
}

// Names in `dir` that look like a writer's leftovers.
std::vector<std::string> leftovers(const fs::path& dir)
{
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos)
            found.push_back(e.path().string());
    }
    return found;
}

struct Fixture {
    bqtest::TempDir dir;
    fs::path calib = dir / "calib.txt", recipe = dir / "recipe.json";
    Fixture()
    {
        writeText(calib, bq::demoText());
        writeText(recipe, R"({"version": 1, "defaults": {"method": "sign", "samples": 4, "seqlen": 32}})");
    }
    std::vector<std::string> quantize(const fs::path& run) const
    {
        return {"quantize", ":demo", "--calib", calib.string(), "--recipe", recipe.string(), "--seed", "3",
                "--run", run.string(), "--threads", "2"};
    }
};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

} // namespace

TEST_CASE("convert --to hf refuses a user's directory or file, replaces a previous output", "[cli][output]")
{
    bqtest::TempDir dir;
    const fs::path out = dir / "out";
    fs::create_directories(out);
    writeText(out / "precious.txt", "my notes");

    auto r = runCli({"convert", ":demo", out.string(), "--to", "hf"});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains(out.string()) && Catch::Contains("--force") &&
                          Catch::Contains("not a bitstudio output"));
    REQUIRE(bqtest::readFile(out / "precious.txt") == "my notes");
    CHECK_FALSE(fs::exists(out / "config.json"));
    CHECK(leftovers(dir.path()).empty());

    // A trailing slash names the same directory.
    r = runCli({"convert", ":demo", out.string() + "/", "--to", "hf"});
    CHECK(r.exitCode == 1);
    REQUIRE(bqtest::readFile(out / "precious.txt") == "my notes");

    r = runCli({"convert", ":demo", out.string(), "--to", "hf", "--force"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK_FALSE(fs::exists(out / "precious.txt"));
    CHECK(fs::exists(out / "config.json"));
    CHECK(fs::exists(out / ".bitstudio-output"));

    // A previous output is replaced without --force.
    r = runCli({"convert", ":demo", out.string(), "--to", "hf", "--dtype", "f16"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK_THAT(bqtest::readFile(out / "config.json"), Catch::Contains("float16"));
    CHECK(leftovers(dir.path()).empty());

    // An empty directory is fine.
    fs::create_directories(dir / "empty");
    r = runCli({"convert", ":demo", (dir / "empty").string(), "--to", "hf"});
    CHECK(r.exitCode == 0);

    // A regular file is refused.
    writeText(dir / "file.txt", "a file");
    r = runCli({"convert", ":demo", (dir / "file.txt").string(), "--to", "hf"});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains((dir / "file.txt").string()) && Catch::Contains("--force"));
    CHECK(bqtest::readFile(dir / "file.txt") == "a file");
}

TEST_CASE("convert --to gguf replaces only a previous bitstudio GGUF without --force", "[cli][output]")
{
    bqtest::TempDir dir;
    const fs::path file = dir / "m.gguf";
    writeText(file, "not a gguf, a user's file");
    auto r = runCli({"convert", ":demo", file.string(), "--to", "gguf"});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains(file.string()) && Catch::Contains("--force"));
    CHECK(bqtest::readFile(file) == "not a gguf, a user's file");

    r = runCli({"convert", ":demo", file.string(), "--to", "gguf", "--force"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    r = runCli({"convert", ":demo", file.string(), "--to", "gguf", "--dtype", "f16"}); // a previous output
    INFO(r.err);
    REQUIRE(r.exitCode == 0);

    // A directory is never replaced by a file, not even with --force.
    fs::create_directories(dir / "d.gguf");
    writeText(dir / "d.gguf" / "keep", "x");
    r = runCli({"convert", ":demo", (dir / "d.gguf").string(), "--to", "gguf", "--force"});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains((dir / "d.gguf").string()) && Catch::Contains("directory"));
    CHECK(bqtest::readFile(dir / "d.gguf" / "keep") == "x");
    CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("quantize --out and --run refuse a user's data before any work", "[cli][output]")
{
    Fixture f;
    const fs::path out = f.dir / "out", run = f.dir / "run.h5";
    fs::create_directories(out);
    writeText(out / "precious.txt", "my notes");

    auto r = runCli(f.quantize(run) + std::vector<std::string>{"--out", out.string()});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains(out.string()) && Catch::Contains("--force"));
    REQUIRE(bqtest::readFile(out / "precious.txt") == "my notes");
    CHECK_FALSE(fs::exists(run)); // refused before the run started

    // --out as a regular file.
    writeText(f.dir / "file", "a file");
    r = runCli(f.quantize(run) + std::vector<std::string>{"--out", (f.dir / "file").string()});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains((f.dir / "file").string()) && Catch::Contains("--force"));
    CHECK(bqtest::readFile(f.dir / "file") == "a file");

    // --run over a file that is not a run file.
    writeText(f.dir / "notes.h5", "not hdf5");
    r = runCli(f.quantize(f.dir / "notes.h5"));
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains((f.dir / "notes.h5").string()) && Catch::Contains("--force"));
    CHECK(bqtest::readFile(f.dir / "notes.h5") == "not hdf5");

    // With --force it works; then again into the previous output without --force.
    r = runCli(f.quantize(run) + std::vector<std::string>{"--out", out.string(), "--force"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK_FALSE(fs::exists(out / "precious.txt"));
    CHECK(fs::exists(out / "bitstudio_run.json"));
    CHECK(fs::exists(out / ".bitstudio-output"));
    r = runCli(f.quantize(run) + std::vector<std::string>{"--out", out.string()});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(fs::exists(out / "bitstudio_run.json"));
    CHECK(leftovers(f.dir.path()).empty());
}

TEST_CASE("export --out refuses a file bitstudio did not write", "[cli][output]")
{
    Fixture f;
    const fs::path run = f.dir / "run.h5", gguf = f.dir / "m.gguf";
    auto q = runCli(f.quantize(run));
    INFO(q.err);
    REQUIRE(q.exitCode == 0);
    writeText(gguf, "user data");
    auto r = runCli({"export", run.string(), "--out", gguf.string(), "--format", "bitstudio"});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains(gguf.string()) && Catch::Contains("--force"));
    CHECK(bqtest::readFile(gguf) == "user data");
    r = runCli({"export", run.string(), "--out", gguf.string(), "--format", "bitstudio", "--force"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    r = runCli({"export", run.string(), "--out", gguf.string(), "--format", "bitstudio"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
}

TEST_CASE("a failed directory swap puts the previous output back", "[cli][output]")
{
    bqtest::TempDir dir;
    const fs::path out = dir / "out";
    auto r = runCli({"convert", ":demo", out.string(), "--to", "hf"});
    REQUIRE(r.exitCode == 0);
    const auto before = snapshot(out);
    bqtest::RunOptions o;
    o.env = {{"BQ_FAIL_OUTPUT_SWAP", "rename-in"}};
    r = bqtest::runProcess({"convert", ":demo", out.string(), "--to", "hf", "--dtype", "f16"}, o);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains(out.string()) && Catch::Contains("put back"));
    CHECK(snapshot(out) == before);
    CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("under a file-size limit every writer fails cleanly and keeps the previous output", "[cli][output]")
{
    Fixture f;
    const fs::path run = f.dir / "run.h5", hf = f.dir / "hf", gguf = f.dir / "c.gguf", exported = f.dir / "e.gguf",
                   out = f.dir / "out";
    // The previous outputs, written without a limit.
    REQUIRE(runCli({"convert", ":demo", hf.string(), "--to", "hf"}).exitCode == 0);
    REQUIRE(runCli({"convert", ":demo", gguf.string(), "--to", "gguf"}).exitCode == 0);
    auto q = runCli(f.quantize(run) + std::vector<std::string>{"--out", out.string()});
    INFO(q.err);
    REQUIRE(q.exitCode == 0);
    REQUIRE(runCli({"export", run.string(), "--out", exported.string(), "--format", "bitstudio"}).exitCode == 0);
    const auto safetensors = fs::file_size(hf / "model.safetensors"), runBytes = fs::file_size(run);
    INFO("model.safetensors " << safetensors << " bytes, run file " << runBytes << " bytes");

    auto limited = [&](const std::vector<std::string>& args, long long limit, const fs::path& previous) {
        const auto before = snapshot(previous);
        bqtest::RunOptions o;
        o.fileSizeLimit = limit;
        const auto r = bqtest::runProcess(args, o);
        INFO(args[0] << " " << args[1] << " ... under a limit of " << limit << " bytes: " << r.err);
        CHECK(r.exitCode != 0);
        CHECK(r.exitCode < 128); // an error exit, not a signal
        CHECK_THAT(r.err, Catch::Contains("error:") && Catch::Contains(previous.string()));
        CHECK_THAT(r.err, Catch::Contains("File too large") || Catch::Contains("write"));
        CHECK(snapshot(previous) == before);
        CHECK(leftovers(f.dir.path()).empty());
    };
    limited({"convert", ":demo", hf.string(), "--to", "hf", "--dtype", "f32"}, 4096, hf);
    limited({"convert", ":demo", gguf.string(), "--to", "gguf", "--dtype", "f16"}, 4096, gguf);
    limited({"export", run.string(), "--out", exported.string(), "--format", "bitstudio"}, 4096, exported);
    // The run file: a limit below its header keeps the previous run whole.
    limited(f.quantize(run), 1024, run);
    // --out: the run file fits, the fake-quantized directory's safetensors does not.
    REQUIRE(runBytes + 4096 < safetensors);
    limited(f.quantize(f.dir / "run2.h5") + std::vector<std::string>{"--out", out.string()},
            static_cast<long long>(runBytes + 4096), out);
}

TEST_CASE("a run that hits the file-size limit mid-way fails cleanly and can be resumed", "[cli][output]")
{
    Fixture f;
    const fs::path run = f.dir / "run.h5";
    auto full = runCli(f.quantize(run));
    REQUIRE(full.exitCode == 0);
    const auto runBytes = static_cast<long long>(fs::file_size(run));
    fs::remove(run);
    bqtest::RunOptions o;
    o.fileSizeLimit = runBytes / 2; // the header fits, the later blocks do not
    auto r = bqtest::runProcess(f.quantize(run), o);
    INFO(r.err);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.err, Catch::Contains(run.string()));
    CHECK(leftovers(f.dir.path()).empty());
    REQUIRE(fs::exists(run));
    // HDF5 wrote the superblock of a file it then could not extend, so the file may be unreadable: --resume
    // then says so and what to do; either way a fresh run into the same path works without --force.
    auto resumed = runCli(f.quantize(run) + std::vector<std::string>{"--resume"});
    INFO(resumed.err);
    if (resumed.exitCode != 0) {
        CHECK(resumed.exitCode == 1);
        CHECK_THAT(resumed.err, Catch::Contains(run.string()) && Catch::Contains("damaged") &&
                                    Catch::Contains("fresh run"));
        auto fresh = runCli(f.quantize(run));
        INFO(fresh.err);
        CHECK(fresh.exitCode == 0);
    }
    CHECK(leftovers(f.dir.path()).empty());
}
