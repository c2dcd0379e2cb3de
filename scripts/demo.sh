#!/usr/bin/env bash
# README command 1: install, build, and run the main job on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec ./build/qsim --hw configs/eyeriss.yaml --model models/fmnist_resnet.onnx "$@"
