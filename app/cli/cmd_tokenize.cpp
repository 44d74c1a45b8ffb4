// `bitstudio-cli tokenize (MODEL | --tokenizer FILE) --text FILE [--lines] [--json] [--bos]`.
// Without --lines: the whole file is one string; prints the ids (JSON array with --json) and the count.
// With --lines: each line is encoded separately; prints a JSON array of id arrays.
// With --decode: the text file is JSON (an array of ids, or an array of id arrays); prints the decoded string(s)
// as JSON (invalid UTF-8 from partial byte tokens shown as U+FFFD). Special tokens decode to their text with --special.
// Hidden, for debugging and tests/tools/pretokenizer_oracle.py: `tokenize --pre-tokens NAME --text FILE`, FILE a
// JSON array of strings; prints, per string, the pieces the GGUF pre-tokenizer NAME (tokenizer.ggml.pre) cuts it
// into before BPE (JSON array of string arrays). No model is needed: the pieces depend on the name only.
#include "bq/formats/model_loader.h"
#include "bq/tokenizer/gguf_pre_tokenizer.h"
#include "bq/tokenizer/tokenizer.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <cstdio>

namespace bqcli {

namespace {

std::vector<std::int32_t> idList(const nlohmann::json& j, const std::string& file, const std::string& field,
                                 std::int32_t vocab)
{
    std::vector<std::int32_t> ids;
    if (!j.is_array())
        throw std::runtime_error(file + ": " + field + ": expected an array of token ids");
    ids.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
        const auto& v = j[i];
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= vocab)
            throw std::runtime_error(file + ": " + field + "[" + std::to_string(i) + "]: expected a token id in [0, " +
                                     std::to_string(vocab) + ")");
        ids.push_back(v.get<std::int32_t>());
    }
    return ids;
}

void printDecoded(const bq::Tokenizer& tok, const std::string& file, const std::string& text, bool special)
{
    nlohmann::json in;
    try {
        in = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error(file + ": json: expected a JSON array of token ids (" + e.what() + ")");
    }
    const std::int32_t vocab = tok.vocabSize();
    nlohmann::json out;
    if (in.is_array() && !in.empty() && in[0].is_array()) {
        out = nlohmann::json::array();
        for (std::size_t i = 0; i < in.size(); ++i)
            out.push_back(tok.decode(idList(in[i], file, "[" + std::to_string(i) + "]", vocab), special));
    } else {
        out = tok.decode(idList(in, file, "json", vocab), special);
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

void printPreTokens(const std::string& name, const std::string& file, const std::string& text)
{
    const auto pre = bq::ggufPreTokenizer(name);
    if (!pre)
        throw std::runtime_error("--pre-tokens: \"" + name + "\" is not one of " + bq::ggufPreTokenizerNames());
    nlohmann::json in;
    try {
        in = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error(file + ": json: expected a JSON array of strings (" + e.what() + ")");
    }
    if (!in.is_array())
        throw std::runtime_error(file + ": json: expected a JSON array of strings");
    const bq::GgufPipeline pipeline = bq::ggufPipeline(*pre);
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (!in[i].is_string())
            throw std::runtime_error(file + ": [" + std::to_string(i) + "]: expected a string");
        out.push_back(bq::preTokenPieces(pipeline, in[i].get<std::string>()));
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

} // namespace

void registerTokenize(CLI::App& app)
{
    struct Opts {
        std::string model, tokenizer, text, preTokens;
        bool lines = false, json = false, bos = false, special = false, count = false, decode = false;
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
    cmd->add_flag("--decode", o->decode,
                  "Decode instead: --text holds a JSON array of ids or of id arrays; prints the text(s) as JSON");
    cmd->add_option("--pre-tokens", o->preTokens, "Print the pre-token pieces of each string of a JSON array")
        ->group(""); // hidden: a debugging path for the pre-tokenizer oracle test
    cmd->callback([o] {
        if (!o->preTokens.empty()) {
            printPreTokens(o->preTokens, o->text, readTextFile(o->text));
            return;
        }
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
        if (o->decode) {
            printDecoded(*tok, o->text, text, o->special);
            return;
        }
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
