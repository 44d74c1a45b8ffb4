// The built-in demo: a small Llama-architecture model with deterministic weights and its own tokenizer,
// generated in code (users have no ../shared), plus a demo calibration text. Dimensions are multiples of 128
// so every export format applies.
//
// How it is made (same bytes on every run; no clock, no std:: distributions):
//  - tokenizer: SentencePiece-style BPE (SpBpeTokenizer): <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258,
//    then the pieces of a small BPE training on demoText() (merged pieces first, score = -merge rank, then
//    the single characters), 512 pieces in all; spaces are stored as "▁".
//  - token_embd / output: a bigram model of the tokenized demo stories (unigram-smoothed add-k counts) made
//    low-rank: the embeddings span the top-128 left singular space of the centred bigram log-probabilities
//    (randomly rotated, a little noise, RMS 1 per row), and the output head is the least-squares fit
//    head · rmsnorm(E[t]) ≈ centred log p(· | t). Embeddings are NOT tied (output.weight is its own tensor).
//  - transformer blocks: small N(0, 0.03²) weights, norms 1: they perturb the residual stream without destroying
//    the bigram prediction, so quantizing them has a measurable effect.
#pragma once
#include "bq/model/model.h"
#include <memory>
#include <string>

namespace bq {

class Tokenizer;

std::shared_ptr<const Model> makeDemoModel();
const std::string& demoText();

// The demo tokenizer on its own (the same object type and pieces makeDemoModel() attaches).
std::shared_ptr<const Tokenizer> makeDemoTokenizer();

} // namespace bq
