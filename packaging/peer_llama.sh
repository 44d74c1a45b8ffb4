# Shared by peer_reference.sh and peer_bench.sh (sourced, not run): where llama.cpp lives outside the repository,
# how its source is fetched (the git bundle inside node-llama-cpp's npm tarball) and how a CPU-only build is made.
# Expects `repo`, `THREADS` and `peer_name` (for messages) to be set by the caller.
PEER=${BQ_PEER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bitstudio/peers}
NLC_VERSION=3.22.1
LLAMA=$PEER/llama.cpp
NATIVE=$LLAMA/build # the native build both scripts share

case "$PEER" in "$repo"|"$repo"/*) echo "$peer_name: BQ_PEER_DIR must be outside the repository" >&2; exit 1;; esac
mkdir -p "$PEER"

# llama.cpp's source, once.
peer_llama_source() {
  if [ ! -d "$LLAMA/.git" ] && [ ! -f "$LLAMA/CMakeLists.txt" ]; then
    (cd "$PEER" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null &&
     tar xzf "node-llama-cpp-$NLC_VERSION.tgz" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json &&
     git clone -q package/llama/gitRelease.bundle llama.cpp)
  fi
}

# peer_llama_build DIR "TARGET..." [CMAKE_ARGS...]: a CPU-only static build of TARGETs in DIR, configured once.
peer_llama_build() {
  local dir=$1 targets=$2 t missing=0
  shift 2
  for t in $targets; do [ -x "$dir/bin/$t" ] || missing=1; done
  [ $missing = 1 ] || return 0
  [ -f "$dir/CMakeCache.txt" ] || cmake -S "$LLAMA" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF \
    "$@" >/dev/null
  # shellcheck disable=SC2086 # targets are words
  nice cmake --build "$dir" -j"$THREADS" --target $targets
}
