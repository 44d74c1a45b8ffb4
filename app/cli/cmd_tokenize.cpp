// `bitstudio-cli tokenize (MODEL | --tokenizer FILE) --text FILE [--lines] [--json] [--bos]`.
// Without --lines: the whole file is one string; prints the ids (JSON array with --json) and the count.
// With --lines: each line is encoded separately; prints a JSON array of id arrays.
#include "bq/formats/model_loader.h"
#include "bq/tokenizer/tokenizer.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cstdio>

namespace bqcli {

void registerTokenize(CLI::App& app)
{
    struct Opts {
        std::string model, tokenizer, text;
        bool lines = false, json = false, bos = false, special = false, count = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("tokenize", "Encode a text file with a model's tokenizer or a tokenizer file");
    cmd->add_option("MODEL", o->model, "Model whose tokenizer to use (or give --tokenizer alone)");
    cmd->add_option("--tokenizer", o->tokenizer,
                    "Tokenizer file: tokenizer.json, SentencePiece .model, llama2.c tokenizer.bin or GGUF");
    cmd->add_option("--text", o->text, "Text file to encode")->required();
    cmd->add_flag("--lines", o->lines, "Encode each line separately (JSON array of id arrays)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->add_flag("--bos", o->bos, "Add the BOS token (no special tokens are added otherwise)");
    cmd->add_flag("--special", o->special, "Recognise special tokens written in the text");
    cmd->add_flag("--count", o->count, "Print only the number of tokens");
    cmd->callback([o] {
        std::shared_ptr<const bq::Tokenizer> tok;
        if (!o->model.empty()) {
            bq::workflow::OpenOptions open;
            open.tokenizer = o->tokenizer;
            auto model = bq::workflow::openModel(o->model, open);
            tok = model->tokenizer;
            if (!tok)
                throw std::runtime_error(o->model + ": no tokenizer found; pass --tokenizer FILE");
        } else if (!o->tokenizer.empty()) {
            tok = bq::loadTokenizerFile(o->tokenizer);
        } else {
            throw std::runtime_error("give a MODEL or --tokenizer FILE");
        }
        const std::string text = readTextFile(o->text);
        bq::EncodeOptions enc;
        enc.addBos = o->bos;
        enc.parseSpecial = o->special;
        if (o->lines) {
            nlohmann::json all = nlohmann::json::array();
            std::size_t start = 0, total = 0;
            while (start < text.size()) {
                std::size_t end = text.find('\n', start);
                if (end == std::string::npos)
                    end = text.size();
                auto ids = tok->encode(std::string_view(text).substr(start, end - start), enc);
                total += ids.size();
                all.push_back(ids);
                start = end + 1;
            }
            if (o->count)
                std::printf("%zu\n", total);
            else
                printJson(all);
            return;
        }
        auto ids = tok->encode(text, enc);
        if (o->count) {
            std::printf("%zu\n", ids.size());
        } else if (o->json) {
            printJson({{"tokens", ids.size()}, {"ids", ids}});
        } else {
            for (std::size_t i = 0; i < ids.size(); ++i)
                std::printf(i + 1 < ids.size() ? "%d " : "%d\n", ids[i]);
            std::fprintf(stderr, "%zu tokens\n", ids.size());
        }
    });
}

} // namespace bqcli
