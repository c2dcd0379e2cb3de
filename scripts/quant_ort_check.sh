#!/usr/bin/env bash
# Exported QDQ models in ONNX Runtime against qsim's fake-quant executor (docs/quantization.md).
#
#   scripts/quant_ort_check.sh [--models "fmnist_resnet ..."] [--settings "8/8 4/8"]
#                              [--limit N] [--threads N] [--keep DIR]
#
# For every bundled model and weights/activations setting (default 8/8 and 4/8, per-channel
# weights, minmax calibration on 512 train images):
#   qsim quantize ... --out DIR/M_wWaA.q.onnx --dump-logits DIR/M_wWaA.logits.npy
# then bench/quant_ort_check.js runs the exported QDQ model in onnxruntime-node 1.20.1
# (CPU, graph optimizations on) on the same Fashion-MNIST test images (all 10k unless
# --limit) and counts the images whose top-1 class equals qsim's. Prints a markdown
# table; exits 1 if any pair is below 99.9 % agreement. About 15 s per pair.
#
# Needs the build (QSIM_BUILD_DIR, default build/; `qsim` is built when missing), node
# and `npm install --ignore-scripts` in bench/ort (run here when missing), and the
# Debian package dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="fmnist_resnet fmnist_mobilenetv2 fmnist_squeezenet fmnist_vgg"
SETTINGS="8/8 4/8"
LIMIT="" THREADS=2 KEEP=""
while (($#)); do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --settings) SETTINGS=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "quant_ort_check: unknown option $1" >&2; exit 2 ;;
  esac
done

BUILD=${QSIM_BUILD_DIR:-build}
QSIM=$BUILD/qsim
if [ ! -x "$QSIM" ]; then
  [ -f "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target qsim -j 2 >&2
fi
if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  echo "quant_ort_check: npm install --ignore-scripts (onnxruntime-node 1.20.1)" >&2
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund >&2)
fi
if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  DIR=$KEEP
else
  DIR=$(mktemp -d)
  trap 'rm -rf "$DIR"' EXIT
fi
LIMIT_ARGS=()
[ -n "$LIMIT" ] && LIMIT_ARGS=(--limit "$LIMIT")

echo "# $("$QSIM" --version | head -1), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | setting | images | same top-1 as qsim fake-quant | ORT top-1 | qsim top-1 | largest logit difference |"
echo "|---|---|---|---|---|---|---|"
FAIL=0
for m in $MODELS; do
  for s in $SETTINGS; do
    w=${s%/*} a=${s#*/}
    base="$DIR/${m}_w${w}a${a}"
    "$QSIM" quantize --model "models/$m.onnx" --data fashion-mnist --wbits "$w" --abits "$a" --per-channel \
      --threads "$THREADS" "${LIMIT_ARGS[@]}" --out "$base.q.onnx" --dump-logits "$base.logits.npy" >/dev/null
    node bench/quant_ort_check.js "$base.q.onnx" "$base.logits.npy" --threads "$THREADS" >"$base.ort.json"
    jq -r --arg m "$m" --arg s "$s" \
      '"| \($m) | w\($s | split("/") | .[0])/a\($s | split("/") | .[1]) | \(.samples) | \(.top1_agree)/\(.samples) (\(.top1_agree_fraction * 10000 | round / 100) %) | \(.ort_top1 * 10000 | round / 100) | \(.qsim_top1 * 10000 | round / 100) | \(.max_abs_logit_diff * 10000 | round / 10000) |"' \
      "$base.ort.json"
    if jq -e '.top1_agree_fraction < 0.999' "$base.ort.json" >/dev/null; then FAIL=1; fi
  done
done
exit "$FAIL"
