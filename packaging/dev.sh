#!/usr/bin/env bash
# bitstudio developer entry point for a Debian 12 machine.
#   bash packaging/dev.sh run    install what is missing, build, launch the studio on the built-in demo model
#   bash packaging/dev.sh test   install what is missing, build, run the whole test suite (+ sanitizer build, the .deb
#                                installed on a fresh Debian 12 root, the fuzzers for a fixed budget)
#   bash packaging/dev.sh build  install what is missing and build only
#   bash packaging/dev.sh tsan   ThreadSanitizer build of the threaded core tests (thread pool, pipeline, chat, jobs)
#   bash packaging/dev.sh fuzz [SECONDS]  the libFuzzer targets, SECONDS each (default: CI's budget)
#   bash packaging/dev.sh screenshots [DIR]  a short scripted studio session on the demo model, one PNG per stop
#                                            (default DIR: docs/screenshots, the pictures the README shows)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-test}
JOBS=${JOBS:-$(nproc)}
BUILD=${BUILD_DIR:-build}

PACKAGES=(build-essential cmake ninja-build pkg-config
  qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libxkbcommon-dev libvulkan-dev libgl-dev libeigen3-dev libhdf5-dev nlohmann-json3-dev catch2 libcli11-dev
  libsentencepiece-dev libpcre2-dev libutf8proc-dev python3-h5py python3-venv python3-pip
  xvfb xauth fonts-dejavu-core dpkg-dev fakeroot file ccache qemu-user
  clang-14 libclang-rt-14-dev debootstrap)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

configure() { # build_dir, extra cmake args...
  local dir=$1; shift
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$dir" -G Ninja "${launcher[@]}" "$@"
}
configure_and_build() { # build_dir, extra cmake args...
  configure "$@"
  cmake --build "$1" -j "$JOBS"
}

# The libFuzzer tree (clang, ASan + UBSan, only the core parts the readers need) and a run of every target over
# its committed corpus (fuzz/corpus/<target>/). New inputs go to a scratch directory; a crash, a leak, a timeout or
# an undocumented exception leaves its input in $BUILD-fuzz/artifacts/ and fails the step. Budget per target:
# 10^4 runs or SECONDS, whichever comes first; -seed=1 makes a run repeatable (long runs: README, "Fuzzing").
fuzz_build_and_run() { # seconds per target
  configure "$BUILD-fuzz" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DBQ_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
  cmake --build "$BUILD-fuzz" -j "$JOBS" --target fuzzers
  mkdir -p "$BUILD-fuzz/artifacts"
  local corpus name scratch log
  for corpus in fuzz/corpus/*/; do
    name=$(basename "$corpus")
    scratch=$(mktemp -d) # new inputs, and TMPDIR for the target's scratch file (left behind by a crash)
    mkdir "$scratch/new" "$scratch/tmp"
    log="$BUILD-fuzz/artifacts/$name.log"
    if ! TMPDIR="$scratch/tmp" LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp" "$BUILD-fuzz/fuzz/fuzz_$name" \
         -seed=1 -runs=10000 -max_total_time="$1" -rss_limit_mb=2048 -timeout=5 \
         -artifact_prefix="$BUILD-fuzz/artifacts/$name-" "$scratch/new" "$corpus" >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz_$name: FAILED (log: $log; the input is in $BUILD-fuzz/artifacts/)" >&2
      rm -rf "$scratch"
      return 1
    fi
    rm -rf "$scratch"
    printf '  %-22s %s\n' "fuzz_$name" "$(grep -E '^Done [0-9]+ runs|INITED' "$log" | tail -1)"
  done
}

install_missing
case "$MODE" in
  build)
    configure_and_build "$BUILD" -DCMAKE_BUILD_TYPE=Release
    ;;
  run)
    # Only what runs: the two executables (the test suite is `test`'s business).
    configure "$BUILD" -DCMAKE_BUILD_TYPE=Release
    cmake --build "$BUILD" -j "$JOBS" --target bitstudio bitstudio-cli
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
      echo "No display: starting the studio under Xvfb (set DISPLAY to use your own)."
      exec xvfb-run -a -s "-screen 0 1600x1000x24" "$BUILD/app/bitstudio" --demo
    fi
    exec "$BUILD/app/bitstudio" --demo
    ;;
  fuzz)
    fuzz_build_and_run "${2:-20}"
    ;;
  tsan)
    # Only the tests that run threads: the thread pool (test_util), jobs cancelled from another thread
    # (test_threads), the pipeline with 1-3 threads and its cancel (test_quant_pipeline), chat cancel (test_chat),
    # the multithreaded runtime (test_runtime). packaging/tsan.supp documents every suppression.
    configure "$BUILD-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
      "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" -DBQ_TSAN=ON -DBQ_BUILD_GUI=OFF
    tsan_tests=(test_util test_threads test_quant_pipeline test_chat test_runtime)
    cmake --build "$BUILD-tsan" -j "$JOBS" --target "${tsan_tests[@]}"
    for t in "${tsan_tests[@]}"; do
      echo "== ThreadSanitizer: $t"
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/packaging/tsan.supp" \
        "$BUILD-tsan/tests/$t"
    done
    ;;
  screenshots)
    configure "$BUILD" -DCMAKE_BUILD_TYPE=Release
    cmake --build "$BUILD" -j "$JOBS" --target bitstudio
    QT_QPA_PLATFORM=offscreen "$BUILD/app/bitstudio" --demo --screenshot-dir "${2:-docs/screenshots}"
    ;;
  test)
    start=$(date +%s)
    echo "== release build with warnings as errors"
    configure_and_build "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBQ_WERROR=ON
    echo "== real test model and Python oracles (outside the repository)"
    BQ_SMOLLM2_GGUF=$(bash packaging/fetch-models.sh)
    BQ_PYTHON=$(bash packaging/python-oracles.sh)
    export BQ_SMOLLM2_GGUF BQ_PYTHON
    echo "$BQ_SMOLLM2_GGUF"
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build (core, CLI and GUI tests)"
    # -O1 -g1: sanitizer reports keep file:line, and the build stays quick on 2 cores.
    configure_and_build "$BUILD-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
      "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" -DBQ_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$BUILD-asan" --output-on-failure -j 2 -LE slow
    echo "== package"
    (cd "$BUILD" && cpack -G DEB >/dev/null && dpkg-deb -c ./*.deb | grep -E 'bin/bitstudio(-cli)?$')
    "$BUILD/app/bitstudio-cli" --version
    echo "== the package installs and runs on a fresh Debian 12 root (debootstrap minbase, cached)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo bash packaging/deb-install-test.sh "$BUILD"/bitstudio_*_amd64.deb
    echo "== libFuzzer targets: 10^4 runs or 20 s each"
    fuzz_build_and_run 20
    echo "== full test suite (release)"
    ctest --test-dir "$BUILD" --output-on-failure -j 2
    echo "== total $(( $(date +%s) - start )) s"
    ;;
  *)
    echo "usage: bash packaging/dev.sh run|test|build|tsan|fuzz [SECONDS]|screenshots [DIR]" >&2
    exit 2
    ;;
esac
