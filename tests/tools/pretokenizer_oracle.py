#!/usr/bin/env python3
"""The GGUF pre-tokenizers (tokenizer.ggml.pre) against an independent oracle: the Hugging Face `tokenizers` package.

For each accepted family, the oracle is the pre_tokenizer (and normalizer) of the tokenizer.json of a model using
that name, written out below with the package's own components: Split(Regex, "isolated") steps, Digits,
ByteLevel (its regex for GPT-2, use_regex=false after the Splits), NFC for Qwen2. The regexes are the strings of
those tokenizer.json files, as llama.cpp quotes them in src/llama-vocab.cpp; the package runs them with Oniguruma,
bitstudio with PCRE2 (BLOOM's nested class is spelled as in its tokenizer.json). The tokenizer.json files are not
fetched here: their pipeline shapes (a Sequence of Isolated Splits, then ByteLevel(use_regex=false); Viking's Digits
step) are written from the published files. Nothing of bitstudio is used to build the oracle.

bitstudio's side is `bitstudio-cli tokenize --pre-tokens NAME --text FILE` (hidden option): FILE is a JSON array of
strings, the output the pieces of each string before BPE. The oracle's pieces are mapped back from the GPT-2 byte
alphabet to text and compared exactly, string by string, on:
  1. every line of the WikiText-2 test file, and the whole file as one string;
  2. tricky strings: contractions, digit runs of 1 to 7, CJK, accented capitals, combining marks, emoji,
     whitespace runs, \\r\\n, tabs, trailing spaces, punctuation of several scripts.
  3. when llama.cpp's source is at hand (LLAMA_DIR, else $BQ_PEER_DIR/llama.cpp or ~/.cache/bitstudio/peers/llama.cpp,
     where packaging/peer_llama.sh puts it): the token ids of its vocab-only GGUFs (models/ggml-vocab-NAME.gguf)
     on their test strings (.gguf.inp) against the ids Hugging Face's tokenizer gave (.gguf.out, written by
     llama.cpp's convert_hf_to_gguf_update.py), for the names added with this check. Without that source
     this part is reported as not run: the `tokenizers` oracle above is the required one.

Usage: pretokenizer_oracle.py CLI WIKITEXT.txt [LLAMA_DIR]
Run by any python3: it re-runs itself with $BQ_PYTHON (packaging/python-oracles.sh) when that is set.
Exit 0: all equal; 1: a difference (the first ones are printed); 77: skipped (missing input outside CI).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_env import skip_or_fail, use_oracle_python  # noqa: E402

# tokenizer.json regexes (JSON-decoded). GPT-2's is the ByteLevel pre-tokenizer's own. Non-ASCII characters are
# escaped: an editor that normalizes text to NFC would silently change some (U+1F7D, U+212A).
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
DEEPSEEK_LLM = [  # deepseek-ai/deepseek-llm-7b-base
    r"[\r\n]",
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+",
    "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
    r"\s+$",
    "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
    r"\p{N}+",
]
DEEPSEEK_CODER = [r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", r"\p{N}"]
DEEPSEEK_V3 = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]
GPT4O = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
TEKKEN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
          r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
          r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SEED_CODER = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"
BAILINGMOE = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"
JAIS2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
         r"|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)"
         r"|\s{1,2}(?!\S)|\s{1}")
# bigscience/bloom: a nested class, which Oniguruma reads as a union
BLOOM = " ?[^(\\s|[.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c])]+"


def families():
    """GGUF name -> (NFC first?, pre_tokenizer) as the models' tokenizer.json files build them."""
    from tokenizers import Regex, pre_tokenizers as pt

    def splits(regexes, *extra):
        steps = [pt.Split(Regex(r), behavior="isolated", invert=False) for r in regexes] + list(extra)
        return pt.Sequence(steps + [pt.ByteLevel(add_prefix_space=False, use_regex=False)])

    return {
        "gpt-2": (False, pt.ByteLevel(add_prefix_space=False, use_regex=True)),
        "smollm": (False, pt.Sequence([pt.Digits(individual_digits=True),
                                       pt.ByteLevel(add_prefix_space=False, use_regex=True)])),
        "llama-bpe": (False, splits([LLAMA3])),
        "qwen2": (True, splits([QWEN2])),
        "deepseek-llm": (False, splits(DEEPSEEK_LLM)),
        "deepseek-coder": (False, splits(DEEPSEEK_CODER)),
        "deepseek-v3": (False, splits(DEEPSEEK_V3)),
        "gpt-4o": (False, splits([GPT4O])),
        "tekken": (False, splits([TEKKEN])),
        "seed-coder": (False, splits([SEED_CODER])),
        "bailingmoe": (False, splits([BAILINGMOE])),
        "jais-2": (False, splits([JAIS2])),
        "bloom": (False, splits([BLOOM])),
        "viking": (False, splits([BLOOM], pt.Digits(individual_digits=True))),
    }


TRICKY = [
    "don't you'll we've I'm she'd they're it's", "DON'T YOU'LL I'M SHE'D IT'S", "'s 'S 'll 'LL 'Ll 're 'VE 'd 'D 'm",
    "Kelvin's '\u017f '\u212a (long s, Kelvin sign)", "rock'n'roll o'clock ''quoted''",
    "1 12 123 1234 12345 123456 1234567", "a1b22c333d4444e55555f666666g7777777h", "x=1234567.89, y=-0.5e-10",
    "٣٤٥ ½ ² ⅷ ①②", "$3.50 (10%) #42 @user", "path/to/file.txt C:\\dir\\x", "http://example.com/a?b=c&d=e",
    "中文字符测试 日本語のテキスト ひらがな カタカナ 한국어 텍스트", "中文abc混合123文字", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ！？",
    "ÉCOLE École ÀÉÎÕÜ ÇA Ça ÑANDÚ Øresund", "ǅemal ǈubljana Ǳ ǲ", "Ünïcödé naïve façade ĳ ﬁ",
    "e\u0301 a\u0300b\u0308 combining (not NFC)", "Ελληνικά ΑΘΗΝΑ Русский МОСКВА Ք Ⴀ", "\u00b5 \u00df \u1e9e \ufb00 \u2126 \u212a \u1f7d",
    "emoji 😀🤖👍🏽 and 👨‍👩‍👧 ❤️ 🇫🇷", "\u200bzero\u200bwidth\u200c\u200d", "\u00a0non-breaking\u2003em\u3000ideographic space",
    "a  b   c    d     e", "tabs\tand\t\tmore\ttabs", " \t mixed \t whitespace\t ", "trailing spaces   ",
    "   leading spaces", " ", "    ", "\t", "line1\nline2", "line1\r\nline2\r\n", "a\n\n\nb", "\r\n\r\n", "end\n",
    "x \n y \r\n  z", "  \n  ", "“quotes” ‘single’ — dash … ellipsis", "Hello, world! How are you? Fine.",
    "हिन्दी पाठ। اردو متن۔ عربي، نص", "<sentinel:1> <|endoftext|> [INST] </s>",
    "def f(x):\n    return x**2  # comment\n\tpass", "@-@ @,@ @.@ = = Heading = =", "ALLCAPS lowercase MixedCase camelCase",
    "e.g. i.e. U.S.A. Mr. Smith", "", "a", "'", "''", "'''", "\\", "🙂", "\U0001F600\U0001F600",
]


def byte_decoder():
    """GPT-2's printable alphabet back to bytes (the inverse of ByteLevel's map)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def oracle_pieces(nfc, pre, texts):
    from tokenizers import normalizers

    norm = normalizers.NFC() if nfc else None
    dec = byte_decoder()
    out = []
    for t in texts:
        s = norm.normalize_str(t) if norm else t
        out.append([bytes(dec[c] for c in p).decode("utf-8") for p, _ in pre.pre_tokenize_str(s)])
    return out


# llama.cpp's vocab-only GGUFs whose tokenizer.ggml.pre we accept (part 3).
# The older names (gpt-2, llama-bpe, qwen2, starcoder, refact, command-r, mpt) pass too (46 of 46 each) but are left
# out: one CLI run per string and vocabulary is slow, and other tests cover those pipelines.
LLAMA_VOCABS = ["deepseek-llm", "deepseek-coder"]


def llama_vocab_ids(cli, llama_dir, tmp):
    """Part 3: ids of llama.cpp's vocab files against the Hugging Face ids stored beside them. Returns failures."""
    failures = 0
    for name in LLAMA_VOCABS:
        gguf = os.path.join(llama_dir, "models", "ggml-vocab-" + name + ".gguf")
        if not os.path.exists(gguf + ".out"):
            print(f"llama.cpp vocab {name}: not in {llama_dir}")
            continue
        inputs = open(gguf + ".inp", encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")
        if inputs and inputs[-1] == "":
            inputs.pop()
        expected = [[int(x) for x in line.split()] for line in open(gguf + ".out").read().split("\n")[:len(inputs)]]
        bad = 0
        for text, want in zip(inputs, expected):
            path = os.path.join(tmp, "one.txt")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            r = subprocess.run([cli, "tokenize", "--tokenizer", gguf, "--text", path, "--json"], capture_output=True)
            got = json.loads(r.stdout)["ids"] if r.returncode == 0 else r.stderr.decode("utf-8", "replace")
            if got != want:
                bad += 1
                if bad <= 3:
                    print(f"  {name} {text[:60]!r}: ours {str(got)[:120]} Hugging Face {want[:12]}")
        print(f"llama.cpp vocab {name:15} {len(inputs)} strings: {bad} differ")
        failures += bad
    return failures


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    cli, wikitext = sys.argv[1:3]
    peers = os.environ.get("BQ_PEER_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "bitstudio", "peers")
    llama_dir = sys.argv[3] if len(sys.argv) == 4 else os.path.join(peers, "llama.cpp")
    if not os.path.exists(wikitext):
        skip_or_fail("WikiText-2 (../shared) is missing: " + wikitext)
    use_oracle_python(["tokenizers"])

    text = open(wikitext, encoding="utf-8", newline="").read()
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the file ends with a newline
    texts = lines + [text] + TRICKY
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "texts.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(texts, f, ensure_ascii=False)
        for name, (nfc, pre) in families().items():
            r = subprocess.run([cli, "tokenize", "--pre-tokens", name, "--text", path], capture_output=True)
            if r.returncode != 0:
                print(f"{name}: bitstudio-cli failed ({r.returncode}): {r.stderr.decode('utf-8', 'replace')}")
                failures += 1
                continue
            ours = json.loads(r.stdout.decode("utf-8"))
            theirs = oracle_pieces(nfc, pre, texts)
            bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
            n_pieces = sum(len(p) for p in theirs)
            bad_lines = sum(1 for i in bad if i < len(lines))
            bad_tricky = sum(1 for i in bad if i > len(lines))
            print(f"{name:15} {len(lines)} lines + whole file + {len(TRICKY)} tricky strings, {n_pieces} pieces: "
                  f"{len(bad)} differ ({bad_lines} lines, {'whole file, ' if len(lines) in bad else ''}"
                  f"{bad_tricky} tricky)")
            for i in bad[:3]:
                a, b = ours[i], theirs[i]
                k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
                print(f"  #{i} {texts[i][:80]!r}: first difference at piece {k}: ours {a[k:k + 4]} oracle {b[k:k + 4]}")
            failures += len(bad)
        if os.path.isdir(os.path.join(llama_dir, "models")):
            failures += llama_vocab_ids(cli, llama_dir, tmp)
        else:
            print(f"llama.cpp vocab files: not run (no llama.cpp source at {llama_dir})")
    print("PASS" if failures == 0 else f"FAIL: {failures} differences")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
