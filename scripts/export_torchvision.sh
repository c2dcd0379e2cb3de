#!/usr/bin/env bash
# Exports torchvision's resnet18, resnet50, mobilenet_v2, squeezenet1_0 and vgg16
# (random weights, 224x224, batch 1) to ONNX in .cache/models/ (not committed).
# Existing files are kept. Uses Debian's python3-torch/torchvision, nothing downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache/models
/usr/bin/python3 scripts/export_torchvision.py --out .cache/models "$@"
