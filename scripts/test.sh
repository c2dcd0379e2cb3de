#!/usr/bin/env bash
# README command 2: install, build, create the (uncommitted) reference model
# exports, and run the whole test suite. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/export_torchvision.sh
cd "${QSIM_BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
