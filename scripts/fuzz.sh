#!/usr/bin/env bash
# Fuzzes qsim's input readers with libFuzzer (clang, ASan + UBSan) for a set time.
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [TARGET...]
#
# TARGET: onnx hw_yaml scalesim_cfg topology alloc npy idx cli (default: all, one after
# another, SECONDS each; default 600). Builds the fuzz targets of build-san/ first
# (clang++, -DQSIM_FUZZ=ON: the sanitizer build dir of scripts/test.sh stage 2,
# configured the same way; QSIM_FUZZ_BUILD_DIR picks another). Each target starts
# from its committed seed corpus (tests/fuzz/corpus/<target>/) plus the crash inputs
# already fixed (tests/fuzz/regressions/<target>/); new interesting inputs go to
# .cache/fuzz/<target>/ (not committed), crash inputs to .cache/fuzz/crashes/<target>/
# and a per-target log to .cache/fuzz/<target>.log. QSIM_FUZZ_TIMEOUT (seconds, default 10)
# is the per-input limit; raise it on a loaded machine. Exit status 1 if any target
# found a crash: commit its input under tests/fuzz/regressions/<target>/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=600
JOBS=1
while getopts "t:j:h" opt; do
  case $opt in
    t) SECONDS_PER_TARGET=$OPTARG ;;
    j) JOBS=$OPTARG ;;
    h) sed -n '2,14p' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
ALL=(onnx hw_yaml scalesim_cfg topology alloc npy idx cli)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")

# Per-target input size limits (bytes) and dictionaries.
max_len() {
  case $1 in
    onnx) echo 16384 ;;
    npy | idx) echo 8192 ;;
    cli) echo 512 ;;  # up to 24 arguments
    *) echo 4096 ;;
  esac
}

BUILD=${QSIM_FUZZ_BUILD_DIR:-build-san}
export CCACHE_BASEDIR="$PWD"
source scripts/san_config.sh
san_configure "$BUILD"  # the same configuration as scripts/test.sh stage 2
# One build at a time when several fuzz.sh run side by side (one per core).
flock "$BUILD/.fuzz-build.lock" cmake --build "$BUILD" --target qsim_fuzz -j"$(nproc)"

status=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: unknown target '$t' (targets: ${ALL[*]})" >&2; exit 2; }
  # Absolute paths: fuzz_cli runs in a directory of its own (tests/fuzz/fuzz_cli.cpp).
  work="$PWD/.cache/fuzz/$t"
  crashes="$PWD/.cache/fuzz/crashes/$t"
  mkdir -p "$work" "$crashes"
  seeds=("$PWD/tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && seeds+=("$PWD/tests/fuzz/regressions/$t")
  dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="$PWD/tests/fuzz/dict/$t.dict")
  par=()
  ((JOBS > 1)) && par=(-jobs="$JOBS" -workers="$JOBS")
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s (log .cache/fuzz/$t.log)"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "$work" "${seeds[@]}" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" \
    -max_len="$(max_len "$t")" -timeout="${QSIM_FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    "${par[@]}" -print_final_stats=1 \
    -artifact_prefix="$crashes/" >".cache/fuzz/$t.log" 2>&1
  rc=$?
  set -e
  grep -E "^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|Done)" ".cache/fuzz/$t.log" | tail -3 || true
  if [ $rc -ne 0 ] || compgen -G "$crashes/*" >/dev/null; then
    echo "fuzz: $t FOUND A PROBLEM (exit $rc): see .cache/fuzz/$t.log and $crashes/" >&2
    status=1
  fi
done
exit $status
