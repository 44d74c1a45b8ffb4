#!/usr/bin/env python3
"""Compares bitstudio's logits and greedy ids with llama.cpp's (files written by `bitstudio-cli generate --logits
--ids` and by llama_logits.cpp). Prints, per prompt position, nothing unless top-1 differs; then a summary line:
positions, top-1 agreement, max |Δlogit|, max |Δlogit| relative to the position's logit range, and whether the
prompt ids and the greedy continuations are equal (and where they first differ).

Usage: compare_logits.py OURS.bin OURS.json REF.bin REF.json VOCAB
Exit 0 when prompt ids are equal and top-1 agrees at every prompt position, 1 otherwise.
"""
import json
import sys

import numpy as np


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    ours_bin, ours_json, ref_bin, ref_json, vocab = sys.argv[1:]
    vocab = int(vocab)
    a = np.fromfile(ours_bin, dtype=np.float32).reshape(-1, vocab)
    b = np.fromfile(ref_bin, dtype=np.float32).reshape(-1, vocab)
    oi, ri = json.load(open(ours_json)), json.load(open(ref_json))
    ok = True
    if oi["prompt"] != ri["prompt"]:
        print("prompt ids differ:", oi["prompt"][:20], ri["prompt"][:20])
        ok = False
    if a.shape != b.shape:
        print("logit shapes differ:", a.shape, b.shape)
        return 1
    top_a, top_b = a.argmax(1), b.argmax(1)
    diff = np.abs(a - b)
    for i in np.nonzero(top_a != top_b)[0]:
        s = np.sort(b[i])[::-1]
        print(f"position {i}: top-1 ours {top_a[i]} llama.cpp {top_b[i]} (llama.cpp's margin {s[0] - s[1]:.4f})")
    agree = int((top_a == top_b).sum())
    rng = (b.max(1) - b.min(1))
    print(f"{a.shape[0]} positions: top-1 equal at {agree}; max |dlogit| {diff.max():.3g} "
          f"(mean {diff.mean():.3g}; max relative to the logit range {(diff.max(1) / rng).max():.3g})")
    ids = np.array(ri["prompt"])
    if len(ids) > 1:
        def ppl(lg):
            lg = lg[:-1].astype(np.float64)
            m = lg.max(1, keepdims=True)
            logp = lg - m - np.log(np.exp(lg - m).sum(1, keepdims=True))
            return float(np.exp(-logp[np.arange(len(ids) - 1), ids[1:]].mean()))
        print(f"perplexity of the prompt ({len(ids) - 1} predicted tokens): ours {ppl(a):.6f}, llama.cpp {ppl(b):.6f}")
    g_o, g_r = oi["generated"], ri["generated"]
    n = min(len(g_o), len(g_r))
    first = next((k for k in range(n) if g_o[k] != g_r[k]), None)
    if first is None:
        print(f"greedy continuation: equal over {n} tokens (ours {len(g_o)}, llama.cpp {len(g_r)})")
    else:
        print(f"greedy continuation: first difference at generated token {first} (ours {g_o[first]}, "
              f"llama.cpp {g_r[first]}); equal before it")
    ok = ok and agree == a.shape[0]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
