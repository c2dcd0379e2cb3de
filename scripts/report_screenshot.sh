#!/usr/bin/env bash
# Makes docs/report.png: a qsim report of the bundled ResNet on configs/eyeriss.yaml
# and a 4x4 sweep of the array, rendered by Debian's headless Chromium (as
# tests/app/interop_report_test.cpp does). Needs build/qsim (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
QSIM=${QSIM:-build/qsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/results"
"$QSIM" --hw configs/eyeriss.yaml --model models/fmnist_resnet.onnx --json "$tmp/results/1-run.json" >/dev/null
"$QSIM" sweep --hw configs/eyeriss.yaml --model models/fmnist_resnet.onnx \
  --set array.rows=4,8,12,16,32 --set array.cols=4,8,14,32 --set memory.ifmap_kib=16,64 \
  --pareto latency_ms,pes --json "$tmp/results/2-sweep.json" --out "$tmp/sweep.csv" >/dev/null
"$QSIM" report --from "$tmp/results" --out "$tmp/report.html"
chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --window-size=1100,2400 --screenshot="$PWD/docs/report.png" "file://$tmp/report.html" >/dev/null 2>&1
echo "docs/report.png written"
