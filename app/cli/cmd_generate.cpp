// `bitstudio-cli generate MODEL --prompt TEXT [-n N] ...`: prints the decoded prompt tokens and the
// continuation to stdout exactly as llama2.c's run.c does (N positions in all, prompt included; stops when the
// model emits BOS or an end-of-sequence token), statistics to stderr. BOS is added when the tokenizer adds one
// by default (llama2.c, Llama: yes; SmolLM2: add_bos_token false, no). For checks against other runtimes:
// --logits FILE writes the logits at every prompt position (float32, row-major [prompt tokens, vocab]) and
// --ids FILE the prompt and generated ids as JSON {"prompt": [...], "generated": [...]}.
#include "bq/runtime/sampler.h"
#include "bq/tokenizer/tokenizer.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

namespace bqcli {

void registerGenerate(CLI::App& app)
{
    struct Opts {
        std::string model, prompt, logitsOut, idsOut;
        bool special = false;
        ModelOptions modelOptions;
        int steps = 256;
        bq::SamplerConfig sampler;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("generate", "Generate text from a prompt with the fp32 reference runtime");
    cmd->add_option("MODEL", o->model, "Model file, Hugging Face directory, or :demo")->required();
    cmd->add_option("--prompt,-i", o->prompt, "Prompt text")->required();
    cmd->add_option("-n,--steps", o->steps, "Positions in all, prompt included (as llama2.c -n); 0 = context")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--temp,-t", o->sampler.temperature, "Temperature (0 = greedy)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-k", o->sampler.topK, "Keep the K most likely tokens (0 = off)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p,-p", o->sampler.topP, "Nucleus sampling threshold (1 = off)")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--min-p", o->sampler.minP, "Drop tokens below min-p × the top probability (0 = off)")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--repeat-penalty", o->sampler.repetitionPenalty, "Repetition penalty (1 = off)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--repeat-last-n", o->sampler.repeatLastN, "Tokens the repetition penalty looks back over");
    cmd->add_option("--seed,-s", o->sampler.seed, "Random seed (0 = from the clock)");
    cmd->add_option("--logits", o->logitsOut,
                    "Write the logits of every prompt position to FILE (float32, row-major [tokens, vocab])");
    cmd->add_flag("--special", o->special, "Recognise special tokens written in the prompt (e.g. <|im_start|>)");
    cmd->add_option("--ids", o->idsOut, "Write the prompt and generated token ids to FILE as JSON");
    addModelOptions(*cmd, o->modelOptions);
    addBackendOption(*cmd, o->modelOptions);
    cmd->callback([o] {
        auto model = openInference(o->model, o->modelOptions);
        const bq::Tokenizer& tok = model->tokenizer();
        const int vocab = model->config().vocabSize;
        int steps = o->steps;
        if (steps <= 0 || steps > model->config().maxSeqLen)
            steps = model->config().maxSeqLen;

        bq::EncodeOptions enc;
        enc.addBos = tok.addsBosByDefault();
        enc.parseSpecial = o->special;
        std::vector<std::int32_t> tokens = tok.encode(o->prompt, enc);
        if (tokens.empty())
            throw std::runtime_error("the prompt encodes to no tokens");
        std::vector<std::int32_t> stops = tok.stopIds();
        if (tok.bosId() >= 0)
            stops.push_back(tok.bosId()); // llama2.c run.c stops when the model emits BOS

        bq::TokenStreamDecoder decoder(tok);
        // The prompt is printed as its decoded tokens, as run.c does.
        const std::size_t shownPrompt = std::min<std::size_t>(tokens.size(), std::size_t(steps) + 1);
        for (std::size_t i = 0; i < shownPrompt; ++i) {
            const std::string piece = decoder.push(tokens[i]);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
        }
        std::fflush(stdout);

        auto ctx = model->newContext(steps + 1);
        bq::Sampler sampler(o->sampler, vocab);
        std::vector<float> logits;
        using Clock = std::chrono::steady_clock;
        const auto t0 = Clock::now();
        const std::size_t promptLen = std::min<std::size_t>(tokens.size(), std::size_t(steps));
        if (o->logitsOut.empty()) {
            ctx->forward(std::span(tokens.data(), promptLen), false, logits);
        } else {
            ctx->forward(std::span(tokens.data(), promptLen), true, logits);
            std::ofstream out(o->logitsOut, std::ios::binary | std::ios::trunc);
            out.write(reinterpret_cast<const char*>(logits.data()),
                      static_cast<std::streamsize>(logits.size() * sizeof(float)));
            if (!out)
                throw std::runtime_error(o->logitsOut + ": cannot write the logits");
            logits.erase(logits.begin(), logits.end() - vocab); // the last position samples the next token
        }
        const auto t1 = Clock::now();
        int generated = 0;
        // Sequence positions 1..steps are printed, as run.c's loop over pos < steps does.
        const bool promptFits = tokens.size() == promptLen;
        while (promptFits && static_cast<int>(tokens.size()) <= steps) {
            const std::int32_t next = sampler.sample(logits, tokens);
            if (std::find(stops.begin(), stops.end(), next) != stops.end())
                break;
            tokens.push_back(next);
            ++generated;
            const std::string piece = decoder.push(next);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            if (static_cast<int>(tokens.size()) > steps)
                break;
            ctx->forward(std::span(&tokens.back(), 1), false, logits);
        }
        if (!o->idsOut.empty()) {
            const std::vector<std::int32_t> prompt(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(promptLen));
            const std::vector<std::int32_t> gen(tokens.begin() + static_cast<std::ptrdiff_t>(promptLen), tokens.end());
            std::ofstream out(o->idsOut, std::ios::trunc);
            out << nlohmann::json{{"prompt", prompt}, {"generated", gen}}.dump() << "\n";
            if (!out)
                throw std::runtime_error(o->idsOut + ": cannot write the ids");
        }
        const std::string rest = decoder.flush();
        std::fwrite(rest.data(), 1, rest.size(), stdout);
        std::printf("\n");
        std::fflush(stdout);
        const auto t2 = Clock::now();
        const double prefillSec = std::chrono::duration<double>(t1 - t0).count();
        const double decodeSec = std::chrono::duration<double>(t2 - t1).count();
        std::fprintf(stderr, "prompt: %zu tokens in %.3f s (%.1f tok/s); generated %d tokens in %.3f s (%.1f tok/s); "
                             "%s, %d threads\n",
                     promptLen, prefillSec, prefillSec > 0 ? double(promptLen) / prefillSec : 0.0, generated,
                     decodeSec, decodeSec > 0 ? generated / decodeSec : 0.0, model->backendName().c_str(),
                     model->threads());
    });
}

} // namespace bqcli
