#!/usr/bin/env bash
# Validation of qsim's sensitivity methods and allocators (docs/quantune.md section 5):
# builds bench/quantune_validate and runs it on the four bundled models, both regimes,
# the full 10k test split. Extra arguments go to the program:
#   bench/quantune_validate.sh                      # the figures of docs/quantune.md
#   bench/quantune_validate.sh --quick              # 2000 test images, exhaustive up to 8 groups
#   bench/quantune_validate.sh --extra M.onnx ...   # also models outside the repository
#   bench/quantune_validate.sh --cost .cache/models/resnet50.onnx --cost-samples 32
#   bench/quantune_validate.sh --quick --measure-only     # every model's truth and methods only
#   bench/quantune_validate.sh --quick --models fmnist_resnet   # then one model at a time: its
#                       # leave-one-model-out fits use the other models' files from the run above
# Writes build/quantune_validate.json (every figure) and build/quantune_validate.md (the tables),
# rewritten after every model and regime, and per model and regime build/quantune_validate/
# <model>-<regime>.measure.json (measurements, kept for later leave-one-model-out fits) and
# <model>-<regime>.json (everything), so a run cut short keeps what finished. Runs niced.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${QSIM_BUILD_DIR:-build}
cmake --build "$BUILD_DIR" --target quantune_validate -j2 >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec nice -n 10 "$BUILD_DIR/bench/quantune_validate" --out "$BUILD_DIR/quantune_validate.json" \
  --md "$BUILD_DIR/quantune_validate.md" --results "$BUILD_DIR/quantune_validate" "$@"
