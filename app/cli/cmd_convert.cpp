// `bitstudio-cli convert IN OUT --to hf|gguf [--dtype f32|f16|bf16|q8_0] [--force]`.
#include "bq/formats/convert.h"
#include "bq/model/tensor.h"
#include "bq/util/output_path.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cstdio>

namespace bqcli {

void registerConvert(CLI::App& app)
{
    struct Opts {
        std::string in, out, to, dtype = "f32";
        ModelOptions modelOptions;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("convert", "Convert a model to a Hugging Face directory or a GGUF file");
    cmd->add_option("IN", o->in, "Input model (llama2.c, Hugging Face directory, GGUF, :demo)")->required();
    cmd->add_option("OUT", o->out, "Output directory (hf) or file (gguf)")->required();
    cmd->add_option("--to", o->to, "Target format")->required()->check(CLI::IsMember({"hf", "gguf"}));
    cmd->add_option("--dtype", o->dtype, "Weight type: f32, f16, bf16 (hf) or f32, f16, q8_0 (gguf)")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
    cmd->add_option("--tokenizer", o->modelOptions.tokenizer, "Tokenizer file for llama2.c checkpoints");
    cmd->add_flag("--force", o->force,
                  "Replace OUT even when it is not a previous bitstudio output (a non-empty directory or a file)");
    cmd->callback([o] {
        // Refuse before loading anything: OUT is written only when it is absent, empty, a previous bitstudio output,
        // or --force (util/output_path.h).
        if (o->to == "hf")
            bq::checkOutputDirectory(o->out, o->force);
        else
            bq::checkOutputFile(o->out, o->force, bq::isBitstudioGguf);
        auto model = openModel(o->in, o->modelOptions);
        const bq::DType dtype = o->dtype == "f16"    ? bq::DType::F16
                                : o->dtype == "bf16" ? bq::DType::BF16
                                : o->dtype == "q8_0" ? bq::DType::Q8_0
                                                     : bq::DType::F32;
        if (o->to == "hf") {
            if (dtype == bq::DType::Q8_0)
                throw std::runtime_error("--dtype q8_0 applies to GGUF only; Hugging Face output takes f32, f16, bf16");
            bq::HfWriteOptions hf;
            hf.force = o->force;
            bq::writeHfDirectory(*model, o->out, dtype, hf);
        } else {
            if (dtype == bq::DType::BF16)
                throw std::runtime_error("--dtype bf16 is not offered for GGUF; use f32, f16 or q8_0");
            bq::GgufWriteOptions gguf;
            gguf.force = o->force;
            bq::writeGguf(*model, o->out, dtype, gguf);
        }
        std::fprintf(stderr, "wrote %s (%s, %s)\n", o->out.c_str(), o->to.c_str(), o->dtype.c_str());
    });
}

} // namespace bqcli
