// A small program against libllama (llama.cpp's public C API) that writes the reference figures
// packaging/peer_reference.sh compares bitstudio with: the prompt's token ids as llama.cpp tokenizes them, the logits
// at every prompt position (float32, row-major [tokens, vocab]) and a greedy continuation.
// Built by peer_reference.sh outside the repository, against the llama.cpp tree it builds there.
//   llama_logits MODEL.gguf PROMPT_FILE LOGITS_OUT N_GEN THREADS    -> JSON {"prompt": [...], "generated": [...]}
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int argmax(const float* v, int n)
{
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (v[i] > v[best])
            best = i;
    return best;
}

void printIds(const char* name, const std::vector<llama_token>& ids, bool last)
{
    std::printf("\"%s\": [", name);
    for (std::size_t i = 0; i < ids.size(); ++i)
        std::printf(i ? ", %d" : "%d", ids[i]);
    std::printf(last ? "]" : "], ");
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s MODEL.gguf PROMPT_FILE LOGITS_OUT N_GEN THREADS\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string prompt = ss.str();
    const int nGen = std::atoi(argv[4]);
    const int threads = std::atoi(argv[5]);

    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model* model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        std::fprintf(stderr, "%s: cannot load\n", argv[1]);
        return 1;
    }
    const llama_vocab* vocab = llama_model_get_vocab(model);
    const int nVocab = llama_vocab_n_tokens(vocab);

    std::vector<llama_token> ids(prompt.size() + 8);
    const int n = llama_tokenize(vocab, prompt.data(), static_cast<int32_t>(prompt.size()), ids.data(),
                                 static_cast<int32_t>(ids.size()), /*add_special*/ true, /*parse_special*/ true);
    if (n <= 0) {
        std::fprintf(stderr, "tokenize failed\n");
        return 1;
    }
    ids.resize(static_cast<std::size_t>(n));

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(n + nGen + 16);
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = cp.n_ctx;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    llama_context* ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        std::fprintf(stderr, "cannot create a context\n");
        return 1;
    }

    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; ++i) {
        batch.token[i] = ids[static_cast<std::size_t>(i)];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n;
    if (llama_decode(ctx, batch) != 0) {
        std::fprintf(stderr, "decode failed\n");
        return 1;
    }
    std::ofstream out(argv[3], std::ios::binary);
    for (int i = 0; i < n; ++i)
        out.write(reinterpret_cast<const char*>(llama_get_logits_ith(ctx, i)), sizeof(float) * nVocab);
    out.close();

    std::vector<llama_token> gen;
    llama_token next = argmax(llama_get_logits_ith(ctx, n - 1), nVocab);
    for (int k = 0; k < nGen; ++k) {
        gen.push_back(next);
        if (k + 1 == nGen)
            break;
        llama_batch one = llama_batch_get_one(&next, 1);
        if (llama_decode(ctx, one) != 0) {
            std::fprintf(stderr, "decode failed at generated token %d\n", k);
            return 1;
        }
        next = argmax(llama_get_logits_ith(ctx, -1), nVocab);
    }
    std::printf("{");
    printIds("prompt", ids, false);
    printIds("generated", gen, true);
    std::printf(", \"vocab\": %d}\n", nVocab);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
