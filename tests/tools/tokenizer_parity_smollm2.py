#!/usr/bin/env python3
"""Tokenizer parity on SmolLM2-135M-Instruct: bitstudio's GGUF tokenizer against an independent oracle.

The oracle is a Hugging Face `tokenizers.Tokenizer` built here from the GGUF's vocabulary and merges (read with
llama.cpp's gguf-py), with SmolLM2's tokenizer.json pipeline written out below from its published configuration
(pre_tokenizer Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false, use_regex=true)],
decoder ByteLevel, no normalizer, the control tokens as special added tokens). Nothing of bitstudio is used to
build it.

Checked, ids compared exactly:
  1. every non-empty line of the WikiText-2 test file, each encoded alone (`tokenize --lines`);
  2. the whole file as one string (newlines, blank lines, the GPTQ perplexity string);
  3. edge cases: digits, unicode letters/marks/emoji, whitespace runs, contractions, special tokens (--special);
  4. decode round trip: bitstudio decodes the oracle's ids (`tokenize --decode`) back to the exact line, and
     equals the oracle's own decode.

Usage: tokenizer_parity_smollm2.py CLI WIKITEXT.txt [MODEL.gguf]
MODEL defaults to $BQ_SMOLLM2_GGUF, else the cache of packaging/fetch-models.sh. Run by any python3: it re-runs
itself with $BQ_PYTHON (packaging/python-oracles.sh) when that is set.
Exit 0: all equal; 1: a difference (the first ones are printed); 77: skipped (missing input outside CI).
"""
import json
import os
import subprocess
import sys
import tempfile


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_env import skip_or_fail, smollm2_path, use_oracle_python  # noqa: E402


EDGE_CASES = [
    "1234567890",
    "In 1999, 42 people paid $3.50 each (about 10%).",
    "x=3.14159e-10; y = 2**32 - 1",
    "٣٤٥ and ½ and ² and ⅷ",                     # other \p{N} characters: each one alone
    "don't you'll we've I'm she'd they're it's",
    "DON'T YOU'LL",                                  # GPT-2's contractions are case-sensitive
    "  leading spaces",
    "trailing spaces   ",
    "tabs\tand\t\tmore\ttabs",
    "a  b   c    d",
    " ",
    "    ",
    "\u00a0non-breaking\u2003em space",
    "Ünïcödé Çafé naïve façade",
    "e\u0301 combining accent (not NFC-normalized)",
    "Ελληνικά Русский 中文字符 日本語のテキスト 한국어",
    "emoji 😀🤖👍🏽 and 👨‍👩‍👧",
    "mixed123abc456def",
    "@@ -1,2 +1,3 @@ code_like(x) { return x->y; }",
    "@-@ @,@ @.@ = = Heading = =",                   # WikiText's markup
    "\u200bzero\u200bwidth",
    "'s 're 've 'm 'll 'd",
]

SPECIAL_CASES = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>x<|im_end|><|im_end|>",
]


def build_oracle(model_path):
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    reader = gguf.GGUFReader(model_path)

    def field(name):
        f = reader.fields.get(name)
        if f is None:
            raise SystemExit(model_path + ": " + name + " is missing")
        return f.contents()

    tokens = field("tokenizer.ggml.tokens")
    types = field("tokenizer.ggml.token_type")
    merges = field("tokenizer.ggml.merges")
    pre = field("tokenizer.ggml.pre")
    if pre != "smollm":
        raise SystemExit(model_path + ": tokenizer.ggml.pre is " + repr(pre) + ", this oracle is SmolLM's")
    vocab = {t: i for i, t in enumerate(tokens)}
    merge_pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merge_pairs, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3]
    tok.add_special_tokens(specials)
    return tok


def run_cli(cli, args):
    r = subprocess.run([cli] + args, capture_output=True)
    if r.returncode != 0:
        print("bitstudio-cli " + " ".join(args) + " failed (" + str(r.returncode) + "): " +
              r.stderr.decode("utf-8", "replace"))
        sys.exit(1)
    return r.stdout.decode("utf-8")


def compare_lists(what, texts, ours, theirs, limit=5):
    bad = 0
    for i, (t, a, b) in enumerate(zip(texts, ours, theirs)):
        if a != b:
            bad += 1
            if bad <= limit:
                k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
                print(f"{what} #{i}: {t[:120]!r}\n  first difference at token {k}: ours {a[k:k + 8]} oracle {b[k:k + 8]}")
    if len(ours) != len(theirs):
        print(f"{what}: {len(ours)} results from bitstudio, {len(theirs)} from the oracle")
        bad += 1
    return bad


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    cli, wikitext = sys.argv[1:3]
    model = sys.argv[3] if len(sys.argv) == 4 else smollm2_path()
    for path, what in ((model, "SmolLM2-135M-Instruct (bash packaging/fetch-models.sh)"), (wikitext, "WikiText-2 (../shared)")):
        if not os.path.exists(path):
            skip_or_fail(what + " is missing: " + path)
    use_oracle_python(["gguf", "tokenizers"])

    oracle = build_oracle(model)
    text = open(wikitext, encoding="utf-8").read()
    lines = [l for l in text.split("\n") if l.strip()]
    failures = 0

    with tempfile.TemporaryDirectory() as tmp:
        def encode_lines(items, special):
            path = os.path.join(tmp, "lines.txt")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write("\n".join(items))
            args = ["tokenize", model, "--text", path, "--lines", "--json"] + (["--special"] if special else [])
            return json.loads(run_cli(cli, args))

        def decode(id_lists, special):
            path = os.path.join(tmp, "ids.json")
            with open(path, "w") as f:
                json.dump(id_lists, f)
            return json.loads(run_cli(cli, ["tokenize", model, "--text", path, "--decode"] + (["--special"] if special else [])))

        # 1. WikiText-2 lines.
        theirs = [e.ids for e in oracle.encode_batch(lines, add_special_tokens=False)]
        ours = encode_lines(lines, False)
        n_tokens = sum(len(x) for x in theirs)
        bad = compare_lists("wikitext line", lines, ours, theirs)
        print(f"WikiText-2 test, {len(lines)} non-empty lines, {n_tokens} tokens: {len(lines) - bad} equal, {bad} differ")
        failures += bad

        # 2. The whole file as one string.
        whole_theirs = oracle.encode(text, add_special_tokens=False).ids
        whole_ours = json.loads(run_cli(cli, ["tokenize", model, "--text", wikitext, "--json"]))["ids"]
        same = whole_ours == whole_theirs
        print(f"WikiText-2 test as one string: bitstudio {len(whole_ours)} tokens, oracle {len(whole_theirs)}: "
              + ("equal" if same else "DIFFERENT"))
        failures += 0 if same else compare_lists("whole file", [text[:120]], [whole_ours], [whole_theirs])

        # 3. Edge cases, plain and with special tokens parsed.
        edge_theirs = [oracle.encode(t, add_special_tokens=False).ids for t in EDGE_CASES]
        bad = compare_lists("edge case", EDGE_CASES, encode_lines(EDGE_CASES, False), edge_theirs)
        sp_texts = [t.replace("\n", " ") for t in SPECIAL_CASES]  # one case per line
        sp_theirs = [oracle.encode(t, add_special_tokens=False).ids for t in sp_texts]
        bad += compare_lists("special-token case", sp_texts, encode_lines(sp_texts, True), sp_theirs)
        print(f"edge cases: {len(EDGE_CASES) + len(sp_texts)} checked, {bad} differ")
        failures += bad

        # 4. Decode round trip of the oracle's ids.
        texts = lines + EDGE_CASES
        ids = theirs + edge_theirs
        decoded = decode(ids, False)
        oracle_decoded = oracle.decode_batch(ids, skip_special_tokens=False)
        bad = 0
        for i, (t, d, o) in enumerate(zip(texts, decoded, oracle_decoded)):
            if d != t or d != o:
                bad += 1
                if bad <= 5:
                    print(f"decode #{i}: text {t[:80]!r}\n  ours   {d[:80]!r}\n  oracle {o[:80]!r}")
        sp_decoded = decode(sp_theirs, True)
        for t, d in zip(sp_texts, sp_decoded):
            if d != t:
                bad += 1
                print(f"decode with special tokens: {t!r} -> {d!r}")
        print(f"decode round trip: {len(texts) + len(sp_texts)} sequences, {bad} differ")
        failures += bad

    print("PASS" if failures == 0 else f"FAIL: {failures} differences")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
