#!/usr/bin/env bash
# Decode / prefill speed of bitstudio's packed runtime against stock llama.cpp on the same Q1_0 GGUF file: the
# Llama-3.2-1B shape with synthetic weights (every linear and the tied token_embd / output head Q1_0: 174 MB read
# per token, as bench --synthetic llama3.2-1b --backends q1_0), pp128 tg64,
# the same thread count. Four rows: bitstudio under BQ_CPU=avx2 and unset (the best path of this CPU), llama.cpp
# built for AVX2 only (GGML_NATIVE=OFF, AVX/AVX2/FMA/F16C on, AVX-512 off) and built native.
# llama.cpp is built OUTSIDE the repository from the source tree node-llama-cpp's npm package carries (as in
# peer_reference.sh); nothing of it is vendored.
#
#   bash packaging/peer_bench.sh           build what is missing, write the model once, print the table
#   BQ_PEER_DIR=DIR    where llama.cpp is unpacked and built (default: ${XDG_CACHE_HOME:-~/.cache}/bitstudio/peers)
#   BQ_CLI=PATH        bitstudio-cli (default: build/app/bitstudio-cli)
#   BQ_BENCH_GGUF=PATH the Q1_0 file (default: $BQ_PEER_DIR/llama3.2-1b-synthetic-q1_0.gguf, made if missing)
#   THREADS=N          (default 2)
#   ROUNDS=N           run the four rows N times, alternating (default 1); every round is printed
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
CLI=${BQ_CLI:-$repo/build/app/bitstudio-cli}
peer_name=peer_bench
source "$here/peer_llama.sh"
AVX2=$PEER/llama-avx2
MODEL=${BQ_BENCH_GGUF:-$PEER/llama3.2-1b-synthetic-q1_0.gguf}

[ -x "$CLI" ] || { echo "peer_bench: no $CLI (build first: bash packaging/dev.sh build)" >&2; exit 1; }

# 1. llama.cpp's source: the git bundle inside node-llama-cpp's npm tarball (llama/gitRelease.bundle).
peer_llama_source

# 2. Two CPU-only builds (static libraries): native (the build peer_reference.sh uses) and AVX2-only.
peer_llama_build "$NATIVE" "llama-bench llama-quantize" -DGGML_NATIVE=ON
peer_llama_build "$AVX2" "llama-bench" -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF \
  -DGGML_BMI2=ON

# 3. The model: bitstudio's synthetic Llama-3.2-1B shape written as F16 GGUF, quantized by llama.cpp itself. Our
# writer aligns to 64 bytes; llama-quantize copies general.alignment = 64 but pads its output to 32 (a file neither
# reader accepts), so the output's alignment is overridden to 32.
if [ ! -f "$MODEL" ]; then
  f16=$PEER/llama3.2-1b-synthetic-f16.gguf
  "$CLI" convert :synthetic:llama3.2-1b "$f16" --to gguf --dtype f16 >/dev/null
  "$NATIVE/bin/llama-quantize" --override-kv general.alignment=int:32 --output-tensor-type q1_0 \
    --token-embedding-type q1_0 "$f16" "$MODEL" Q1_0 "$THREADS" >/dev/null 2>&1
  rm -f "$f16"
fi

# 4. The runs. Ours: bench's `packed` back-end (the file's tensors as stored), best of 3; llama.cpp: llama-bench's
# mean of 5. The roofline of a llama.cpp row is the one our run right before it measured (same file, same bytes).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; threads $THREADS;" \
     "model $(basename "$MODEL"); llama.cpp $(git -C "$LLAMA" rev-parse --short HEAD 2>/dev/null || echo '?')"
for round in $(seq "$ROUNDS"); do
  for cpu in avx2 native; do
    env_cpu=(); [ $cpu = avx2 ] && env_cpu=(BQ_CPU=avx2)
    env "${env_cpu[@]}" "$CLI" bench "$MODEL" --threads "$THREADS" --backends packed --repeats 3 \
      --prompt-tokens 128 --decode-tokens 64 --json > "$work/ours-$cpu-$round.json" 2>/dev/null
    bin=$NATIVE/bin/llama-bench; [ $cpu = avx2 ] && bin=$AVX2/bin/llama-bench
    "$bin" -m "$MODEL" -p 128 -n 64 -t "$THREADS" -o json > "$work/llama-$cpu-$round.json" 2>/dev/null
  done
done
python3 - "$work" "$ROUNDS" <<'EOF'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("| round | engine | kernel path | prefill tok/s (pp128) | decode tok/s (tg64) | decode share of roofline | read bandwidth |")
print("|---:|---|---|---:|---:|---:|---:|")
for r in range(1, rounds + 1):
    for cpu in ("avx2", "native"):
        ours = json.load(open(f"{work}/ours-{cpu}-{r}.json"))
        row = ours["rows"][-1]
        bw = ours["bandwidth_gbs"]
        print(f"| {r} | bitstudio (BQ_CPU={'avx2' if cpu == 'avx2' else 'unset'}) | {row['kernels']} | "
              f"{row['prefill_tok_s']:.1f} | {row['decode_tok_s']:.1f} | {100 * row['roofline_share']:.0f} % | {bw:.1f} GB/s |")
        llama = json.load(open(f"{work}/llama-{cpu}-{r}.json"))
        pp = next(x for x in llama if x["n_prompt"] > 0 and x["n_gen"] == 0)
        tg = next(x for x in llama if x["n_gen"] > 0 and x["n_prompt"] == 0)
        path = "AVX2 build (GGML_NATIVE=OFF, AVX512=OFF)" if cpu == "avx2" else "native build (GGML_NATIVE=ON)"
        share = tg["avg_ts"] / row["roofline_tok_s"]
        print(f"| {r} | llama.cpp {pp.get('build_commit', '')} | {path} | {pp['avg_ts']:.1f} ± {pp['stddev_ts']:.1f} | "
              f"{tg['avg_ts']:.1f} ± {tg['stddev_ts']:.1f} | {100 * share:.0f} % (of ours) | |")
EOF
