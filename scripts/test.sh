#!/usr/bin/env bash
# README command 2: install, build, create the (uncommitted) reference model
# exports, and run the whole test suite. Exits non-zero when any test fails.
#
# Stages (each prints its wall time):
#   1. build/        the suite (ctest: GoogleTest, golden, reference, CLI tests)
#   2. build-asan/   the same suite built with AddressSanitizer + UndefinedBehavior-
#                    Sanitizer (-DQSIM_SANITIZE=ON, GCC); any report fails the test.
#                    Tests too slow under ASan would go in QSIM_ASAN_EXCLUDE (below; none).
#   3. build-fuzz/   the libFuzzer targets (clang, ASan + UBSan) replaying every
#                    committed seed corpus and crash input (tests/fuzz/).
# QSIM_TEST_STAGES=1 (or "1 3", ...) runs a subset; extra arguments go to stage 1's ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES=${QSIM_TEST_STAGES:-1 2 3}
JOBS=$(nproc)
stage_start=0
begin() { stage_start=$SECONDS; echo "== test.sh: $1"; }
end() { echo "== test.sh: $1 took $((SECONDS - stage_start)) s"; }

scripts/setup.sh
scripts/export_torchvision.sh

if [[ " $STAGES " == *" 1 "* ]]; then
  begin "stage 1: test suite (build/)"
  (cd "${QSIM_BUILD_DIR:-build}" && ctest --output-on-failure -j"$JOBS" "$@")
  end "stage 1"
fi

# Tests left out of the sanitizer run (a ctest -E regex). None today: measured on the
# 2-core machine under load, the whole suite took 383 s under ASan at -j2, the slowest
# test being Zoo/LightModels.ReproduceReferenceOutput/vgg19 (110 s, 548 MB of weights).
# A test too slow under ASan may be added here, with its time, in docs/robustness.md.
QSIM_ASAN_EXCLUDE=${QSIM_ASAN_EXCLUDE:-}

if [[ " $STAGES " == *" 2 "* ]]; then
  begin "stage 2: ASan + UBSan build and suite (build-asan/)"
  QSIM_BUILD_DIR=build-asan QSIM_CMAKE_ARGS="-DQSIM_SANITIZE=ON -DQSIM_BUILD_BENCH=OFF" scripts/setup.sh
  # halt on the first report, with a stack; leaks count as failures.
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$JOBS" ${QSIM_ASAN_EXCLUDE:+-E "$QSIM_ASAN_EXCLUDE"})
  end "stage 2"
fi

if [[ " $STAGES " == *" 3 "* ]]; then
  begin "stage 3: fuzz corpus replay (build-fuzz/)"
  export CCACHE_BASEDIR="$PWD"
  if [ ! -f build-fuzz/build.ninja ]; then
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DQSIM_FUZZ=ON \
      -DQSIM_BUILD_TESTS=OFF -DQSIM_BUILD_BENCH=OFF >/dev/null
  fi
  cmake --build build-fuzz --target qsim_fuzz -j"$JOBS"
  (cd build-fuzz && ctest --output-on-failure -j"$JOBS" -L fuzz)
  end "stage 3"
fi
