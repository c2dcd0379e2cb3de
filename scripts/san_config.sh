# Sourced by scripts/test.sh (stages 2 and 3) and scripts/fuzz.sh: the one configuration of
# build-san/ (clang, ASan + UBSan, libFuzzer coverage, tests on, benchmarks off). Stage 2
# configures and builds it through scripts/setup.sh (QSIM_CMAKE_ARGS); the fuzz-only builds
# (stage 3, fuzz.sh) through san_configure below.
#
# The executor and the quantized operators have an AVX-512 and an AVX2 form of every vector
# kernel (runtime/gemm.cpp, runtime/conv.cpp, quant/quant_ops.h, ...), chosen at compile time.
# On a CPU with AVX-512, build/ (-march=native) runs the AVX-512 forms, so build-san/ targets
# x86-64-v3 (AVX2 + FMA) and runs the AVX2 ones: one machine tests both. On any other CPU both
# builds take the same forms (-march=native). An existing build-san/ keeps the configuration it
# was made with: remove it to change.
SAN_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++ -DQSIM_FUZZ=ON -DQSIM_BUILD_TESTS=ON -DQSIM_BUILD_BENCH=OFF"
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  SAN_CMAKE_ARGS+=" -DQSIM_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3"
fi

# Configures DIR (default build-san) with SAN_CMAKE_ARGS unless it is configured already, as
# scripts/setup.sh does; run from the checkout's root.
san_configure() {
  local dir=${1:-build-san}
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release $SAN_CMAKE_ARGS >/dev/null
  fi
}
