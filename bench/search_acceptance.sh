#!/usr/bin/env bash
# Issue 14's acceptance runs of `qsim search` (docs/search.md section 7), one command:
#   eyeriss   every bundled Fashion-MNIST model on configs/eyeriss.yaml, 10,000 steps per
#             chain, 4 chains, every baseline, final figures on the full 10k test set;
#   lowmem    the same on configs/edge-lowmem.yaml (bits per layer under both hardware;
#             2 front points per front and no random baseline, to save test evaluations);
#   eyeriss-lowmem  the same as lowmem on configs/eyeriss-lowmem.yaml: eyeriss.yaml with
#             edge-lowmem.yaml's memory, so that only the memory differs from eyeriss;
#   fixed     eyeriss.yaml and edge-lowmem.yaml, both with fixed-width PEs (--set pe.precision=fixed
#             --set 'pe.widths=[8]': narrower operands run at 8 bits, so fewer bits save bytes and no
#             cycles), no targets, 2 front points and no random baseline: the control for bits per
#             layer under low memory (docs/search.md section 7);
#   codesign  configs/spaces/eyeriss.yaml: the joint search against the grid sweep, once per
#             seed of SEEDS (default 1) with CODESIGN_STEPS steps per chain (default 1000: a
#             run's evaluations then stay below the grid's, docs/search.md section 7), final
#             figures on TEST_LIMIT test samples (default: all 10k).
# With SPEEDUP=S and/or MAX_DROP=D the eyeriss and lowmem runs are told the acceptance's
# targets as hard constraints: --latency-target (the model's uniform 8-bit latency on that
# hardware, from `qsim --json`, divided by S) and --max-drop D (points below the 8-bit
# reference on the held-out check samples). A model no state can meet is reported as
# refused (qsim's exit 2) and the others go on.
# LAMBDA=L passes --lambda L to every run (default: the search's own, 4).
# Then the tables (bench/search_acceptance.py). Each run prints its wall and CPU seconds
# and the load average: on a loaded machine wall time is indicative only.
# MODEL_DIR=DIR runs MODEL ... from DIR/MODEL.onnx instead of models/ (the out-of-sample check on
# models outside the repository, docs/search.md section 7).
# Usage: [PARTS="eyeriss lowmem eyeriss-lowmem fixed codesign"] [OUT=DIR] [MODEL_DIR=DIR] [SEEDS="1 2 ..."] [CODESIGN_STEPS=N] [TEST_LIMIT=N]
#        [SPEEDUP=S] [MAX_DROP=D] [LAMBDA=L] bench/search_acceptance.sh [MODEL ...]
set -euo pipefail
cd "$(dirname "$0")/.."
QSIM=${QSIM:-build/qsim}
OUT=${OUT:-build/search_acceptance}
STEPS=${STEPS:-10000}
THREADS=${THREADS:-2}
PARTS=${PARTS:-eyeriss lowmem eyeriss-lowmem fixed codesign}
SEEDS=${SEEDS:-1}
CODESIGN_STEPS=${CODESIGN_STEPS:-1000}
TEST_LIMIT=${TEST_LIMIT:-}
SPEEDUP=${SPEEDUP:-}
MODEL_DIR=${MODEL_DIR:-models}
MAX_DROP=${MAX_DROP:-}
LAMBDA=${LAMBDA:-}
MODELS=("$@")
if ((${#MODELS[@]} == 0)); then MODELS=(fmnist_resnet fmnist_mobilenetv2 fmnist_squeezenet fmnist_vgg); fi
mkdir -p "$OUT"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
run() {  # NAME STEPS SEED ARGS...
  local name=$1 steps=$2 seed=$3
  shift 3
  rm -rf "${OUT:?}/$name"
  if ! /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" "$QSIM" search "$@" --data fashion-mnist --steps "$steps" \
    --chains 4 --threads "$THREADS" --seed "$seed" ${TEST_LIMIT:+--test-limit "$TEST_LIMIT"} ${LAMBDA:+--lambda "$LAMBDA"} --out "$OUT/$name" \
    >"$OUT/$name.log" 2>"$OUT/$name.err"; then
    echo "$name: refused: $(tail -1 "$OUT/$name.err")"
    return 0
  fi
  read -r wall user sys <"$OUT/$name.time"
  echo "$name: wall $wall s, CPU $(echo "$user + $sys" | bc) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
}
targets() {  # HW MODEL: the constraint flags of SPEEDUP / MAX_DROP
  if [ -n "$SPEEDUP" ]; then
    "$QSIM" --hw "$1" --model "$2" --json "$OUT/lat8.json" >/dev/null
    /usr/bin/python3 -c 'import json, sys; print("--latency-target %.9g" % (json.load(open(sys.argv[1]))["latency_ms"] / float(sys.argv[2])))' \
      "$OUT/lat8.json" "$SPEEDUP"
  fi
  if [ -n "$MAX_DROP" ]; then echo "--max-drop $MAX_DROP"; fi
}
for part in $PARTS; do
  for m in "${MODELS[@]}"; do
    case $part in
      eyeriss)
        # shellcheck disable=SC2046  # targets() prints separate flags
        run "$m-eyeriss" "$STEPS" 1 --hw configs/eyeriss.yaml --model "$MODEL_DIR/$m.onnx" \
          $(targets configs/eyeriss.yaml "$MODEL_DIR/$m.onnx") ;;
      lowmem | eyeriss-lowmem)
        low=$([ "$part" = lowmem ] && echo edge-lowmem || echo eyeriss-lowmem)
        # shellcheck disable=SC2046
        run "$m-$low" "$STEPS" 1 --hw "configs/$low.yaml" --model "$MODEL_DIR/$m.onnx" --front-points 2 \
          --no-random $(targets "configs/$low.yaml" "$MODEL_DIR/$m.onnx") ;;
      fixed)
        for hw in eyeriss edge-lowmem; do
          run "$m-$hw-fixed" "$STEPS" 1 --hw "configs/$hw.yaml" --set pe.precision=fixed --set 'pe.widths=[8]' \
            --model "$MODEL_DIR/$m.onnx" --front-points 2 --no-random
        done ;;
      codesign)
        for seed in $SEEDS; do
          run "$m-codesign-seed$seed" "$CODESIGN_STEPS" "$seed" --hw configs/eyeriss.yaml \
            --space configs/spaces/eyeriss.yaml --model "$MODEL_DIR/$m.onnx" --front-points 2 --no-random
        done ;;
      *) echo "unknown part $part" >&2; exit 2 ;;
    esac
  done
done
/usr/bin/python3 bench/search_acceptance.py "$OUT" "${MODELS[@]}"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
