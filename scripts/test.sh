#!/usr/bin/env bash
# README command 2: install, build, create the (uncommitted) reference model
# exports, and run the whole test suite. Exits non-zero when any test fails.
#
# Stages (each prints its wall time):
#   1. build/      the suite (ctest: GoogleTest, golden, reference, CLI tests).
#   2. build-san/  one clang build with AddressSanitizer + UndefinedBehaviorSanitizer
#                  and libFuzzer coverage (-DQSIM_FUZZ=ON, -O1, tests on, bench off): the
#                  unit tests and the fuzz targets link the same instrumented libraries.
#                  Its ctest runs the suite (any sanitizer report fails the test) and
#                  replays every committed fuzz seed corpus and crash input (label fuzz),
#                  except the slow whole-model tests in QSIM_SAN_EXCLUDE (below), which
#                  stage 1 runs. On a CPU with AVX-512 it is built for AVX2
#                  (scripts/san_config.sh), so the two stages test both kernel sets.
#   3. only the fuzz replay in build-san/ (builds just the fuzz targets); implied by 2.
# QSIM_TEST_STAGES=1 (or "2", "1 3", ...) runs a subset; extra arguments go to stage 1's ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES=${QSIM_TEST_STAGES:-1 2}
JOBS=$(nproc)
stage_start=0
begin() { stage_start=$SECONDS; echo "== test.sh: $1"; }
end() { echo "== test.sh: $1 took $((SECONDS - stage_start)) s"; }

# The build must stay warning-free (-Wall -Wextra): a compiler, linker or Verilator warning
# printed by a build step fails the suite. A clean clone (CI) compiles, and so checks, every
# file; ccache replays a cached object's warnings.
WARNING_LINE='(:[0-9]+(:[0-9]+)?: warning:)|(^(cc1plus|clang[+]*|g[+][+]|c[+][+]|[^ ]*/ld(\.[a-z]+)?|ld(\.[a-z]+)?): warning:)|%Warning'
warning_free() {  # COMMAND...: runs it (output shown); fails when it fails or printed a warning
  local log status=0
  log=$(mktemp)
  "$@" 2>&1 | tee "$log" || status=$?
  # file:line[:col]: warning:, the compiler or linker driver's own, and Verilator's; not
  # dpkg's or apt's (setup.sh may install packages).
  if ((status == 0)) && grep -Eq "$WARNING_LINE" "$log"; then
    echo "test.sh: the build printed warnings (above); it must stay warning-free" >&2
    status=1
  fi
  rm -f "$log"
  return "$status"
}

warning_free scripts/setup.sh
scripts/export_torchvision.sh

if [[ " $STAGES " == *" 1 "* ]]; then
  begin "stage 1: test suite (build/)"
  # setup.sh installs OpenMPI: the MPI sweep test must run, not vanish with a missing qsim-mpi.
  if [ ! -x "${QSIM_BUILD_DIR:-build}/qsim-mpi" ]; then
    echo "test.sh: ${QSIM_BUILD_DIR:-build}/qsim-mpi is missing (CMake found no MPI): the MPI sweep test cannot run" >&2
    exit 1
  fi
  (cd "${QSIM_BUILD_DIR:-build}" && ctest --output-on-failure -j"$JOBS" "$@")
  end "stage 1"
fi

# Tests left out of the sanitizer run (a ctest -E regex): whole-model tests that take
# minutes under ASan and that stage 1 runs; each with its time in docs/robustness.md.
SAN_SLOW='Zoo/LightModels\.ReproduceReferenceOutput/vgg19|OnnxModels\.LightZooWeightsFromConstantOfShape$'
SAN_SLOW+='|Quant/BundledModels\.FakeAndIntegerAgree/fmnist_(mobilenetv2|squeezenet|vgg)_|QuantuneValidation\.'
QSIM_SAN_EXCLUDE=${QSIM_SAN_EXCLUDE-^($SAN_SLOW)}
# build-san/'s configuration (on an AVX-512 CPU it targets AVX2, so both kernel sets are tested).
source scripts/san_config.sh
# Any report stops the process with a stack; leaks count as failures.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

if [[ " $STAGES " == *" 2 "* ]]; then
  begin "stage 2: ASan + UBSan build, suite and fuzz corpus replay (build-san/)"
  QSIM_BUILD_DIR=build-san QSIM_CMAKE_ARGS="$SAN_CMAKE_ARGS" warning_free scripts/setup.sh
  (cd build-san && ctest --output-on-failure -j"$JOBS" ${QSIM_SAN_EXCLUDE:+-E "$QSIM_SAN_EXCLUDE"})
  end "stage 2"
elif [[ " $STAGES " == *" 3 "* ]]; then
  begin "stage 3: fuzz corpus replay only (build-san/)"
  export CCACHE_BASEDIR="$PWD"
  san_configure build-san
  warning_free cmake --build build-san --target qsim_fuzz -j"$JOBS"
  (cd build-san && ctest --output-on-failure -j"$JOBS" -L fuzz)
  end "stage 3"
fi
