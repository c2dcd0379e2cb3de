#!/usr/bin/env bash
# Post-training quantization table of the bundled Fashion-MNIST models (docs/quantization.md).
#
#   scripts/ptq_table.sh [--models "fmnist_resnet ..."] [--methods "minmax percentile mse kl"]
#                        [--settings "8/8 4/8 4/4 2/8"] [--limit N] [--calib-samples N]
#                        [--threads N] [--keep DIR] [--markdown FILE] [--check-modes]
#
# For every model, calibration method and weights/activations setting, runs
#   qsim quantize --model models/M.onnx --data fashion-mnist --wbits W --abits A
#                 --per-channel --calib METHOD --calib-samples 512 --threads 2 --json ...
# (calibration: 512 evenly spaced images of the train split; evaluation: the full 10k
# test split unless --limit) and prints one markdown table: float32 top-1, then the
# quantized top-1 and its change in points for each setting. The 8/8 column is the
# acceptance check (drop <= 0.5 points, marked FAIL otherwise; the exit status is 1 if
# any 8/8 minmax entry fails). --check-modes instead runs `--compare-modes` at 8/8 and
# 4/8 (minmax) and prints how often the fake-quant and integer executors give the same
# top-1 and their largest logit difference in output steps. --keep DIR keeps every
# JSON report. Runtime: about 10 s per run on 2 threads (4 models x 16 runs: ~12 min).
#
# Needs the build (QSIM_BUILD_DIR, default build/; `qsim` is built when missing) and
# the Debian package dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="fmnist_resnet fmnist_mobilenetv2 fmnist_squeezenet fmnist_vgg"
METHODS="minmax percentile mse kl"
SETTINGS="8/8 4/8 4/4 2/8"
LIMIT="" CALIB=512 THREADS=2 KEEP="" MD="" CHECK_MODES=0
while (($#)); do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --methods) METHODS=$2; shift 2 ;;
    --settings) SETTINGS=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --calib-samples) CALIB=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    --markdown) MD=$2; shift 2 ;;
    --check-modes) CHECK_MODES=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "ptq_table: unknown option $1" >&2; exit 2 ;;
  esac
done

BUILD=${QSIM_BUILD_DIR:-build}
QSIM=$BUILD/qsim
if [ ! -x "$QSIM" ]; then
  [ -f "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target qsim -j 2 >&2
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

# run MODEL W A METHOD [extra qsim args...] -> prints the JSON file
run() {
  local m=$1 w=$2 a=$3 c=$4
  shift 4
  local j="$DIR/${m}_w${w}a${a}_${c}.json"
  "$QSIM" quantize --model "models/$m.onnx" --data fashion-mnist --wbits "$w" --abits "$a" --per-channel \
    --calib "$c" --calib-samples "$CALIB" --threads "$THREADS" "${LIMIT_ARGS[@]}" --json "$j" "$@" >/dev/null
  echo "$j"
}

echo "# $("$QSIM" --version 2>/dev/null | head -1), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"

if ((CHECK_MODES)); then
  echo
  echo "| model | setting | images | fake top-1 | int top-1 | same top-1 | largest logit difference (output steps) |"
  echo "|---|---|---|---|---|---|---|"
  for m in $MODELS; do
    for s in 8/8 4/8; do
      j=$(run "$m" "${s%/*}" "${s#*/}" minmax --compare-modes)
      jq -r --arg m "$m" --arg s "$s" '"| \($m) | \($s) | \(.samples) | \(.quant_top1 * 100 | . * 100 | round / 100) | \(.int_top1 * 100 | . * 100 | round / 100) | \(.modes_agreement_count)/\(.samples) | \(.modes_max_abs_diff) (\(.modes_max_diff_steps)) |"' "$j"
    done
  done
  exit 0
fi

FAIL=0
{
  header="| model | fp32 top-1 | calibration |"
  rule="|---|---|---|"
  for s in $SETTINGS; do header+=" w${s%/*}/a${s#*/} |"; rule+="---|"; done
  echo
  echo "$header"
  echo "$rule"
  for m in $MODELS; do
    first=1
    for c in $METHODS; do
      row=""
      fp32=""
      for s in $SETTINGS; do
        w=${s%/*} a=${s#*/}
        j=$(run "$m" "$w" "$a" "$c")
        read -r f q <<<"$(jq -r '"\(.fp32_correct / .samples * 100) \(.quant_correct / .samples * 100)"' "$j")"
        fp32=$f
        cell=$(awk -v f="$f" -v q="$q" 'BEGIN { printf "%.2f (%+.2f)", q, q - f }')
        if [ "$s" = "8/8" ] && awk -v f="$f" -v q="$q" 'BEGIN { exit !(f - q > 0.5 + 1e-9) }'; then
          cell+=" FAIL"
          [ "$c" = minmax ] && FAIL=1
        fi
        row+=" $cell |"
      done
      if ((first)); then
        printf '| %s | %.2f | %s |%s\n' "$m" "$fp32" "$c" "$row"
        first=0
      else
        printf '| | | %s |%s\n' "$c" "$row"
      fi
    done
  done
  echo
  echo "Top-1 in % on $( [ -n "$LIMIT" ] && echo "the first $LIMIT" || echo "all 10000" ) Fashion-MNIST test images; in brackets the change from float32 in points."
  echo "Per-channel symmetric weights (min-max), asymmetric activations calibrated on $CALIB train images."
} | tee "${MD:-/dev/null}"
exit "$FAIL"
