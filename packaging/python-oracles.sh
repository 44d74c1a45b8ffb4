#!/usr/bin/env bash
# Sets up the Python packages the test scripts use as independent oracles (llama.cpp's gguf-py, Hugging Face
# tokenizers, numpy, jinja2) in a virtual environment outside the repository, and prints its python's path.
# dev.sh test exports it as BQ_PYTHON; the tests that need it skip without it (and fail in CI).
#   BQ_VENV=DIR   where the environment lives (default: ${XDG_CACHE_HOME:-~/.cache}/bitstudio/venv)
set -euo pipefail

VENV=${BQ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bitstudio/venv}
REQUIREMENTS=(gguf==0.19.0 tokenizers==0.23.3 numpy jinja2)

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import gguf, tokenizers, numpy, jinja2' 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}" >&2
fi
echo "$VENV/bin/python"
