// The Hugging Face directory writer: safetensors, config.json and the tokenizer files, swapped into place
// (writeOutputDirectory, util/output_path.h).
#include "bq/formats/convert.h"
#include "bq/formats/hf_config.h"
#include "bq/formats/tokenizer_json_writer.h"
#include "bq/model/tensor_names.h"
#include "bq/tokenizer/hf_bpe_tokenizer.h"
#include "bq/tokenizer/tokenizer.h"
#include "bq/util/atomic_file.h"
#include "bq/util/errors.h"
#include "bq/util/output_path.h"
#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace bq {

namespace fs = std::filesystem;

namespace {

const char* torchDtypeName(DType t)
{
    return t == DType::F16 ? "float16" : t == DType::BF16 ? "bfloat16" : "float32";
}

void copyFile(const fs::path& from, const fs::path& to)
{
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec)
        throw std::runtime_error(to.string() + ": cannot copy from " + from.string() + ": " + ec.message());
}

} // namespace

void writeSafetensorsFile(const fs::path& file, const std::vector<Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata)
{
    std::vector<const Tensor*> sorted;
    for (const auto& t : tensors)
        sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](auto a, auto b) { return a->name < b->name; });
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::uint64_t off = 0;
    for (const Tensor* t : sorted) {
        const char* dt = nullptr;
        switch (t->dtype) {
        case DType::F32: dt = "F32"; break;
        case DType::F16: dt = "F16"; break;
        case DType::BF16: dt = "BF16"; break;
        case DType::I8: dt = "I8"; break;
        case DType::I32: dt = "I32"; break;
        default:
            throw std::invalid_argument("safetensors cannot store tensor " + t->name + " of type " +
                                        dtypeName(t->dtype));
        }
        if (header.contains(t->name))
            throw std::invalid_argument("safetensors tensor name " + t->name + " is used twice");
        header[t->name] = {{"dtype", dt}, {"shape", t->shape}, {"data_offsets", {off, off + t->nbytes}}};
        off += t->nbytes;
    }
    std::string text = header.dump();
    text.append((8 - (text.size() % 8)) % 8, ' ');
    AtomicFile f(file);
    const std::uint64_t n = text.size();
    f.write(&n, 8);
    f.write(text);
    for (const Tensor* t : sorted)
        f.write(t->data, t->nbytes);
    f.commit();
}

void writeHfDirectory(const Model& model, const fs::path& dir, DType dtype, const HfWriteOptions& options)
{
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
        throw std::invalid_argument(std::string("Hugging Face export stores F32, F16 or BF16, not ") + dtypeName(dtype));
    const ModelConfig& c = model.config;
    c.validate(model.sourcePath);

    std::vector<Tensor> tensors;
    for (const auto& [name, t] : model.tensors) {
        if (name == "rope_freqs.weight")
            continue; // llama.cpp's form of rope_scaling, which config.json carries
        if (name == "output.weight" && c.tiedEmbeddings)
            continue;
        const auto hfName = hfFromCanonical(name);
        if (!hfName)
            throw UnsupportedModel(model.sourcePath + ": tensor '" + name + "' has no Hugging Face equivalent");
        Tensor x = convertTensor(reorderForStyle(t, name, c, RopeStyle::NeoX), dtype);
        x.name = *hfName;
        tensors.push_back(std::move(x));
    }

    writeOutputDirectory(dir, [&](const fs::path& tmp) {
        writeSafetensorsFile(tmp / "model.safetensors", tensors, {{"format", "pt"}});
        const Tokenizer* tok = model.tokenizer.get();
        std::int32_t bos = tok ? tok->bosId() : -1, eos = tok ? tok->eosId() : -1;
        writeFileAtomically(tmp / "config.json", hfConfigJson(c, torchDtypeName(dtype), bos, eos));
        if (tok) {
            const fs::path srcDir = model.sourcePath;
            const bool copyFromSource = model.sourceFormat == "hf-safetensors" &&
                                        dynamic_cast<const HfBpeTokenizer*>(tok) &&
                                        fs::exists(srcDir / "tokenizer.json");
            if (copyFromSource) {
                copyFile(srcDir / "tokenizer.json", tmp / "tokenizer.json");
                if (fs::exists(srcDir / "tokenizer_config.json"))
                    copyFile(srcDir / "tokenizer_config.json", tmp / "tokenizer_config.json");
                else
                    writeFileAtomically(tmp / "tokenizer_config.json", tokenizerConfigJson(*tok, model));
            } else {
                writeFileAtomically(tmp / "tokenizer.json", tokenizerJson(*tok));
                writeFileAtomically(tmp / "tokenizer_config.json", tokenizerConfigJson(*tok, model));
            }
        }
        for (const auto& [name, contents] : options.extraFiles)
            writeFileAtomically(tmp / name, contents);
    }, options.force);
}

} // namespace bq
