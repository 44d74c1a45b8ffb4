#!/usr/bin/env bash
# The forward pass on a real model against llama.cpp itself. Builds llama.cpp (CPU only) OUTSIDE the repository from
# the source tree the npm package node-llama-cpp carries, then compares bitstudio's fp32 logits with llama.cpp's on
# fixed prompts (top-1 at every position, max |Δlogit|, greedy continuation), for SmolLM2-135M-Instruct.
#
#   bash packaging/peer_reference.sh                 build what is missing, run the comparisons
#   BQ_PEER_DIR=DIR      where llama.cpp is unpacked and built (default: ${XDG_CACHE_HOME:-~/.cache}/bitstudio/peers)
#   BQ_CLI=PATH          bitstudio-cli (default: build/app/bitstudio-cli)
#   BQ_SMOLLM2_GGUF=PATH the model (default: bash packaging/fetch-models.sh)
#   BQ_PYTHON=PATH       python with numpy (default: bash packaging/python-oracles.sh)
#   THREADS=N            (default 2)
#
# Two references: llama.cpp on the file as shipped (Q4_1 matrices, Q8_0 embeddings: llama.cpp multiplies those
# with activations quantized to 8 bits, so its logits carry that rounding), and llama.cpp on the same weights
# dequantized to F32 by llama-quantize (fp32 arithmetic on both sides: the like-for-like check of our fp32 runtime).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
THREADS=${THREADS:-2}
CLI=${BQ_CLI:-$repo/build/app/bitstudio-cli}
MODEL=${BQ_SMOLLM2_GGUF:-$(bash "$here/fetch-models.sh")}
PY=${BQ_PYTHON:-$(bash "$here/python-oracles.sh")}
peer_name=peer_reference
source "$here/peer_llama.sh"

# 1. llama.cpp's source: the git bundle inside node-llama-cpp's npm tarball (llama/gitRelease.bundle).
peer_llama_source
echo "llama.cpp: $(cat "$PEER/package/llama/llama.cpp.info.json" 2>/dev/null | tr -d '\n ' ) commit $(git -C "$LLAMA" rev-parse --short HEAD)"

# 2. CPU-only build of the two tools we need (static libraries), then our libllama client.
peer_llama_build "$NATIVE" "llama-quantize llama-perplexity" -DGGML_NATIVE=ON
if [ ! -x "$PEER/llama_logits" ] || [ "$here/peer_reference/llama_logits.cpp" -nt "$PEER/llama_logits" ]; then
  g++ -O2 -std=c++17 -I"$LLAMA/include" -I"$LLAMA/ggml/include" "$here/peer_reference/llama_logits.cpp" \
    "$LLAMA/build/src/libllama.a" "$LLAMA/build/ggml/src/libggml.a" "$LLAMA/build/ggml/src/libggml-cpu.a" \
    "$LLAMA/build/ggml/src/libggml-base.a" -lpthread -ldl -lm -o "$PEER/llama_logits"
fi

# 3. The same weights in F32 (llama-quantize dequantizes Q4_1 / Q8_0 exactly: d·q + m, d·q).
F32=$PEER/SmolLM2-135M-Instruct.F32.gguf
[ -f "$F32" ] || "$LLAMA/build/bin/llama-quantize" --allow-requantize "$MODEL" "$F32" F32 >/dev/null 2>&1

# 4. Prompts: a short one, a WikiText-2 paragraph, the chat prompt of "What is the capital of France?".
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'The capital of France is' > "$work/short.txt"
wiki=${BQ_SHARED_DIR:-$repo/../shared}/data/wikitext-2/wikitext-2-raw-v1.test.txt
sed -n '8p' "$wiki" | head -c 1200 > "$work/wiki.txt"
printf '[{"role":"user","content":"What is the capital of France?"}]' > "$work/messages.json"
"$CLI" chat "$MODEL" --render "$work/messages.json" > "$work/chat.txt"

status=0
for p in short wiki chat; do
  text=$(cat "$work/$p.txt"; printf x); text=${text%x} # keeps a trailing newline
  for ref in f32 q4_1; do
    m=$MODEL; [ $ref = f32 ] && m=$F32
    "$PEER/llama_logits" "$m" "$work/$p.txt" "$work/ref-$p-$ref.bin" 32 "$THREADS" > "$work/ref-$p-$ref.json" 2>/dev/null
  done
  n=$(( $("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["prompt"]))' "$work/ref-$p-f32.json") + 32 ))
  "$CLI" generate "$MODEL" --prompt "$text" --special --temp 0 -n "$n" --threads "$THREADS" \
    --backend fp32 --logits "$work/ours-$p.bin" --ids "$work/ours-$p.json" >/dev/null 2>"$work/ours-$p.err"
  for ref in f32 q4_1; do
    echo "== prompt '$p', bitstudio fp32 vs llama.cpp on the $( [ $ref = f32 ] && echo 'F32-dequantized weights' || echo 'Q4_1 file as shipped')"
    "$PY" "$here/peer_reference/compare_logits.py" "$work/ours-$p.bin" "$work/ours-$p.json" \
      "$work/ref-$p-$ref.bin" "$work/ref-$p-$ref.json" 49152 || { [ $ref = f32 ] && status=1; }
  done
done
exit $status
