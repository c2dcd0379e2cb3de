#!/usr/bin/env bash
# Installs the Debian 12 packages qsim needs (only when one is missing) and
# builds qsim into build/. Idempotent; the only network it uses is apt.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # fuzz targets and the sanitizer stage of scripts/test.sh (libFuzzer, ASan/UBSan runtimes)
  clang libclang-rt-14-dev llvm
  # C++ libraries (see README "Libraries")
  libsystemc-dev verilator libyaml-cpp-dev libboost-graph-dev libfmt-dev libcli11-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libeigen3-dev nlohmann-json3-dev zlib1g-dev
  libpng-dev libjpeg62-turbo-dev
  # OpenSSL's libcrypto: SHA-256 of the model file in result JSON provenance
  libssl-dev
  # OpenMPI: qsim-mpi, `mpirun -n N qsim sweep` (optional component; tests/app/mpi_sweep_test.cpp)
  libopenmpi-dev openmpi-bin
  # headless browser that renders qsim report's HTML in tests/app/interop_report_test.cpp
  chromium
  libgtest-dev libgmock-dev libbenchmark-dev
  # RTL synthesis for the area figures (scripts/rtl_area.sh)
  yosys
  # OpenBLAS: the GEMM alternative bench/executor_gemm_bench measures against Eigen
  libopenblas-dev
  # reference models and data (used by scripts/ and tests only)
  python3-torch python3-torchvision python3-onnx dataset-fashion-mnist libonnx-testdata
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR=${QSIM_BUILD_DIR:-build}
export CCACHE_BASEDIR="$PWD"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${QSIM_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
