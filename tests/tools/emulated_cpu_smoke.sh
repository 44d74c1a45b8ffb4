#!/usr/bin/env bash
# Runs bitstudio-cli on an emulated older CPU (qemu-user), so code that needs more than the CPU has (an AVX-512
# or AVX2 instruction outside its run-time dispatch, a static constructor in a SIMD file) fails here even when
# the build machine has AVX-512. Single-threaded only: multi-threaded programs can hang under qemu-user.
#   emulated_cpu_smoke.sh QEMU CPU CLI SHARED_DIR WORK_DIR
set -euo pipefail
QEMU=$1 CPU=$2 CLI=$3 SHARED=$4 WORK=$5
S260=$SHARED/models/stories260K
if [ ! -f "$S260/stories260K.bin" ]; then
  echo "needs $S260 (../shared), which is absent"
  [ "${CI:-}" = "true" ] && exit 1 # in CI a missing data set is a failure, not a skip
  exit 77
fi
run() { "$QEMU" -cpu "$CPU" "$CLI" "$@"; }
mkdir -p "$WORK"
rm -f "$WORK/$CPU-q8.gguf" "$WORK/$CPU-run.h5"

echo "== $CPU: greedy stories260K equals llama2.c's run.c, byte for byte (fp32 kernels)"
run generate "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" --temp 0 -n 256 --prompt "Once upon a time" \
  --threads 1 2>/dev/null | cmp - "$S260/reference_greedy_once_upon_a_time_n256.txt"

echo "== $CPU: Q8_0 GGUF on the packed runtime (int8 kernels), same first sentence"
run convert "$S260/stories260K.bin" "$WORK/$CPU-q8.gguf" --to gguf --dtype q8_0 --tokenizer "$S260/tok512.bin" \
  >/dev/null 2>&1
run generate "$WORK/$CPU-q8.gguf" --temp 0 -n 40 --prompt "Once upon a time" --threads 1 --backend packed \
  2>/dev/null | grep -q "Once upon a time, there was a little girl named Lily"

echo "== $CPU: quantization engine (Gram, Cholesky, GPTQ on the dense kernels) on the demo model"
echo '{"version":1,"defaults":{"method":"gptq","analysis":"light","samples":2,"seqlen":32}}' >"$WORK/$CPU-recipe.json"
run quantize :demo --calib "$SHARED/data/tinystories/tinystories_val.txt" --calib-docs 0:50 \
  --recipe "$WORK/$CPU-recipe.json" --threads 1 --run "$WORK/$CPU-run.h5" >/dev/null 2>&1
run ppl "$WORK/$CPU-run.h5" --text "$SHARED/data/tinystories/tinystories_val.txt" --mode docs --docs 0:2 \
  --threads 1 --json 2>/dev/null | grep -q '"ppl"'
rm -f "$WORK/$CPU-q8.gguf" "$WORK/$CPU-run.h5" "$WORK/$CPU-recipe.json"
echo "ok: $CPU"
