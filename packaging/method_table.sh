#!/usr/bin/env bash
# The method table (issue 3): every quantization method on stories260K (and a smaller table on ts5m, whose
# dimensions are multiples of 128 so q1_0 applies), same protocol for every row:
#   calibration  the first 500 stories of tinystories_val.txt (--calib-docs 0:500), --samples/--seqlen below
#   evaluation   ppl --mode docs --docs 800:1000, and compare against the FP model on the same documents
#   bits         full bits per weight counted from the run's layer results (counted_bits / quantized weights)
#   time         the quantize command's own wall seconds (result "seconds")
# Prints Markdown tables on stdout; logs and run files go to the work directory.
#
# Usage: bash packaging/method_table.sh [--samples N] [--seqlen L] [--threads N] [--work DIR]
#                                       [--no-ts5m] [--methods "m1 m2 ..."] [--dry-run] [--help]
# Environment: BQ_CLI (default build/app/bitstudio-cli), BQ_SHARED (default ../shared next to the checkout).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${BQ_CLI:-$ROOT/build/app/bitstudio-cli}"
SHARED="$(cd "${BQ_SHARED:-$ROOT/../shared}" 2>/dev/null && pwd || echo "${BQ_SHARED:-$ROOT/../shared}")"
SAMPLES=64
SEQLEN=256
THREADS=0
WORK=""
TS5M=1
DRY=0
METHODS="sign rtn1 ternary residual billm arb arb-x arb-rc svid output-align gptq q1_0"
TS5M_METHODS="sign-g128 arb-rc output-align gptq q1_0"

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --samples) SAMPLES="$2"; shift 2 ;;
    --seqlen) SEQLEN="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --methods) METHODS="$2"; shift 2 ;;
    --no-ts5m) TS5M=0; shift ;;
    --dry-run) DRY=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "method_table.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

TEXT="$SHARED/data/tinystories/tinystories_val.txt"
TOK="$SHARED/models/stories260K/tok512.bin"
if [[ $DRY -eq 0 ]]; then
    [[ -x "$CLI" ]] || { echo "method_table.sh: no CLI at $CLI (build it or set BQ_CLI)" >&2; exit 1; }
    [[ -f "$TEXT" && -f "$TOK" ]] || { echo "method_table.sh: shared data not found under $SHARED (set BQ_SHARED)" >&2; exit 1; }
fi
[[ -n "$WORK" ]] || WORK="$(mktemp -d /tmp/method_table.XXXXXX)"
mkdir -p "$WORK"

# Runs a command (or prints it with --dry-run), stdout to $1, stderr appended to the log.
run_to() {
    local out="$1"; shift
    if [[ $DRY -eq 1 ]]; then
        printf '%q ' "$@"; echo
        return 0
    fi
    "$@" >"$out" 2>>"$WORK/log.txt"
}

# Last JSON line of a file, one field by a Python expression over `j`.
json_field() {
    python3 -c 'import json,sys
lines=[l for l in open(sys.argv[1]) if l.lstrip().startswith("{")]
j=json.loads(lines[-1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# The recipe argument of one table entry: a built-in method, or a recipe file for option variants.
recipe_args() {
    local entry="$1"
    case "$entry" in
    sign-g128)
        echo '{"version": 1, "defaults": {"method": "sign", "options": {"group": 128}}}' >"$WORK/sign-g128.json"
        echo "--recipe $WORK/sign-g128.json" ;;
    *) echo "--method $entry" ;;
    esac
}

# table MODEL_NAME MODEL_FILE METHOD...
table() {
    local name="$1" model="$2"; shift 2
    local fp="$WORK/$name.fp.json"
    echo
    echo "### $name — calibration ${SAMPLES} × ${SEQLEN} tokens from tinystories_val.txt docs 0:500; eval docs 800:1000"
    echo
    echo "| method | ppl | KL (nats/token) | top-1 agreement | bits/weight (counted) | quantize time (s) |"
    echo "|---|---:|---:|---:|---:|---:|"
    run_to "$fp" "$CLI" ppl "$model" --tokenizer "$TOK" --text "$TEXT" --mode docs --docs 800:1000 --json --threads "$THREADS"
    if [[ $DRY -eq 0 ]]; then
        printf '| fp32 | %.3f | 0 | 1.000 | 32 | – |\n' "$(json_field "$fp" 'j["ppl"]')"
    fi
    for entry in "$@"; do
        local tag="$name.$entry" reason=""
        # shellcheck disable=SC2046
        if [[ $DRY -eq 0 ]] && ! "$CLI" recipe "$model" --tokenizer "$TOK" $(recipe_args "$entry") --json \
            >"$WORK/$tag.recipe.json" 2>"$WORK/$tag.recipe.err"; then
            reason="$(grep -o 'needs the input dimension[^:]*' "$WORK/$tag.recipe.err" | head -1 || true)"
            printf '| %s | n/a | | | | %s |\n' "$entry" "${reason:-does not apply (see $WORK/$tag.recipe.err)}"
            continue
        fi
        # shellcheck disable=SC2046
        if ! run_to "$WORK/$tag.quantize.jsonl" "$CLI" quantize "$model" --tokenizer "$TOK" $(recipe_args "$entry") \
            --calib "$TEXT" --calib-docs 0:500 --samples "$SAMPLES" --seqlen "$SEQLEN" --threads "$THREADS" \
            --run "$WORK/$tag.h5" --out "$WORK/$tag.model" --json; then
            printf '| %s | failed | | | | see %s |\n' "$entry" "$WORK/log.txt"
            continue
        fi
        run_to "$WORK/$tag.ppl.json" "$CLI" ppl "$WORK/$tag.model" --text "$TEXT" --mode docs --docs 800:1000 \
            --json --threads "$THREADS"
        run_to "$WORK/$tag.compare.json" "$CLI" compare "$model" "$WORK/$tag.model" --tokenizer "$TOK" --text "$TEXT" \
            --mode docs --docs 800:1000 --json --threads "$THREADS"
        [[ $DRY -eq 1 ]] && continue
        local q="$WORK/$tag.quantize.jsonl"
        printf '| %s | %.3f | %.4f | %.3f | %.3f | %.1f |\n' "$entry" \
            "$(json_field "$WORK/$tag.ppl.json" 'j["ppl"]')" \
            "$(json_field "$WORK/$tag.compare.json" 'j["kl"]')" \
            "$(json_field "$WORK/$tag.compare.json" 'j["top1_agreement"]')" \
            "$(json_field "$q" 'j["counted_bits"]/j["estimate"]["quantized_weights"]')" \
            "$(json_field "$q" 'j["seconds"]')"
    done
}

start=$(date +%s)
# shellcheck disable=SC2086
table stories260K "$SHARED/models/stories260K/stories260K.bin" $METHODS
if [[ $TS5M -eq 1 ]]; then
    # shellcheck disable=SC2086
    table ts5m "$SHARED/models/ts5m/ts5m.bin" $TS5M_METHODS
fi
echo
echo "(--threads ${THREADS} (0 = all cores), --samples ${SAMPLES} --seqlen ${SEQLEN}; total $(( $(date +%s) - start )) s wall; logs and run files in $WORK)"
