// gguf_dequantize IN.gguf OUT.f32: every tensor of a GGUF file, decoded through the GGUF reader and the
// tensor-type table (no model, no tokenizer), written to OUT.f32 in file order as little-endian float32 rows.
// Prints one line per tensor, "name<TAB>type<TAB>elements", for tests/tools/check_gguf_types.py, which compares
// the values with gguf-py's dequantize.
#include "bq/formats/gguf_file.h"
#include "bq/model/tensor.h"
#include <cstdio>
#include <exception>
#include <fstream>
#include <vector>

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: gguf_dequantize IN.gguf OUT.f32\n");
        return 2;
    }
    try {
        const auto file = bq::GgufFile::open(argv[1]);
        std::ofstream out(argv[2], std::ios::binary);
        if (!out)
            throw std::runtime_error(std::string(argv[2]) + ": cannot open for writing");
        for (const bq::GgufTensorInfo& info : file->tensorInfos()) {
            const bq::Tensor t = file->tensor(info);
            std::vector<float> row(static_cast<std::size_t>(t.cols()));
            for (std::int64_t r = 0; r < t.rows(); ++r) {
                t.rowToFloat(r, row.data());
                out.write(reinterpret_cast<const char*>(row.data()), static_cast<std::streamsize>(row.size() * 4));
            }
            std::printf("%s\t%s\t%lld\n", info.name.c_str(), bq::dtypeName(t.dtype),
                        static_cast<long long>(t.numel()));
        }
        if (!out.flush())
            throw std::runtime_error(std::string(argv[2]) + ": write failed");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
