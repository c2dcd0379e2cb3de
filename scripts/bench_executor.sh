#!/usr/bin/env bash
# qsim's executors against ONNX Runtime 1.20.1, side by side on this machine, in one run
# (docs/executor.md "Speed"):
#
#   scripts/bench_executor.sh [--rounds N] [--runs N] [--threads "2 1"] [--models "resnet50 mobilenet_v2 vgg16"]
#                             [--quant-threads "2 1"] [--fmnist-models "fmnist_resnet ..."] [--fmnist-rounds N]
#                             [--skip-quant] [--skip-fmnist] [--allow-loaded] [--json FILE]
#
# 0. The load average at start. Above 1.5 other processes share the two cores and a
#    ratio is not evidence (an engine whose worker threads spin loses more than one that
#    sleeps): the script then prints no ratio, only "refused"; --allow-loaded prints
#    them marked "LOADED, indicative only" (for development). Printed again at the end.
# 1. Float32, each torchvision model (224x224, batch 1; exported when missing): checks
#    that qsim and ONNX Runtime give the same output (rtol 1e-3, atol 1e-4), then, for
#    each thread count, `rounds` alternating rounds (qsim, ORT, qsim, ORT, ...), each
#    timing `runs` inferences after 3 warm-ups in a fresh process (qsim:
#    bench/executor_model_bench; ORT: bench/ort/ort_bench.js). Reports the median over
#    rounds of each round's median, CPU ms per inference (all threads) and the ratio
#    qsim / ORT (target <= 1.25).
# 2. Quantized resnet50 at 8/8 (per-channel weights), for each thread count:
#    bench/quant_bench, the float32, fake-quant and integer executors in one process,
#    `rounds` rounds rotating their order: integer / float32 (target <= 0.8) and
#    fake-quant / float32 (target <= 1.3).
# 3. Fashion-MNIST, 10k test images, each bundled model (batch-1 exports): `qsim eval`
#    against the same loop in ONNX Runtime (one image per run), alternating,
#    `fmnist-rounds` rounds; and the full 10k quantized evaluation at 8/8 (`qsim quantize
#    --mode int` and `--mode fake`, calibration included), timed.
#
# Needs: the build (QSIM_BUILD_DIR, default build/), node + `npm install --ignore-scripts`
# in bench/ort (done here when missing), the models in .cache/models (exported here when
# missing, with Debian's python3-torch), dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=5 RUNS=20 THREADS="2 1" MODELS="resnet50 mobilenet_v2 vgg16" QTHREADS="2 1" FM_ROUNDS=3 JSON=""
FM_MODELS="fmnist_resnet fmnist_mobilenetv2 fmnist_squeezenet fmnist_vgg"
SKIP_QUANT=0 SKIP_FMNIST=0 ALLOW_LOADED=0
while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --quant-threads) QTHREADS=$2; shift 2 ;;
    --fmnist-models) FM_MODELS=$2; shift 2 ;;
    --fmnist-rounds) FM_ROUNDS=$2; shift 2 ;;
    --skip-quant) SKIP_QUANT=1; shift ;;
    --skip-fmnist) SKIP_FMNIST=1; shift ;;
    --allow-loaded) ALLOW_LOADED=1; shift ;;
    --json) JSON=$2; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "bench_executor: unknown option $1" >&2; exit 2 ;;
  esac
done
if ((ROUNDS < 5)); then echo "bench_executor: --rounds must be at least 5 (medians of 5 alternating rounds)" >&2; exit 2; fi

BUILD=${QSIM_BUILD_DIR:-build}
ORT=bench/ort/ort_bench.js
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
LOAD_START=${LOADAVG_START%% *}
LOADED=$(awk -v l="$LOAD_START" 'BEGIN {print (l > 1.5) ? 1 : 0}')

if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  echo "bench_executor: npm install --ignore-scripts (onnxruntime-node 1.20.1)" >&2
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund >&2)
fi
if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target qsim executor_model_bench quant_bench >&2

# JSON field of a JSON document: field FILE key [key...]
field() {
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
           let v=j; for (const k of process.argv.slice(2)) v=v[k]; console.log(v);' "$@"
}
# Median of numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# A ratio as the load allows: a number, the number marked LOADED, or "refused".
ratio() {
  local r
  r=$(awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}')
  if ((LOADED == 0)); then echo "$r"
  elif ((ALLOW_LOADED)); then echo "$r (LOADED, indicative only)"
  else echo "refused (load average $LOAD_START at start > 1.5)"; fi
}
target() { awk -v r="$1" -v t="$2" 'BEGIN {print (r <= t) ? "meets" : "MISSES"}'; }
RESULTS="$TMP/results.jsonl"
: > "$RESULTS"
record() { echo "$1" >> "$RESULTS"; }
# A ratio for the JSON file: null when ratios are refused.
jratio() {
  if ((LOADED && !ALLOW_LOADED)); then echo null; else awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; fi
}

echo "machine: $(nproc) CPUs, load average $LOADAVG_START at start"
if ((LOADED)); then
  echo "LOADED: load average $LOAD_START > 1.5 at start: other processes share the cores, ratios are not evidence"
  ((ALLOW_LOADED)) || echo "  (ratios refused; --allow-loaded prints them marked as loaded)"
fi
echo "onnxruntime-node $(field bench/ort/node_modules/onnxruntime-node/package.json version)"

# ---- 1. float32 models
for M in $MODELS; do
  MODEL=.cache/models/$M.onnx
  if [ ! -f "$MODEL" ]; then
    echo "bench_executor: exporting $MODEL" >&2
    /usr/bin/python3 scripts/export_torchvision.py --out .cache/models "$M" >&2
  fi
  node "$ORT" pattern 1,3,224,224 "$TMP/x.npy"
  "$BUILD/qsim" run --model "$MODEL" --input "$TMP/x.npy" --output "$TMP/qsim.npy" --threads 2 >/dev/null
  node "$ORT" run "$MODEL" "$TMP/x.npy" "$TMP/ort.npy" --threads 2
  node "$ORT" compare "$TMP/qsim.npy" "$TMP/ort.npy" --rtol 1e-3 --atol 1e-4 > "$TMP/cmp.json" || {
    echo "bench_executor: $M: qsim and ONNX Runtime outputs differ: $(cat "$TMP/cmp.json")" >&2; exit 1; }
  echo
  echo "$M float32, batch 1, 224x224: outputs agree, max |qsim - ORT| = $(field "$TMP/cmp.json" max_abs_diff)" \
       "($(field "$TMP/cmp.json" max_abs_diff_over_max_abs) of the largest |output|)"
  for T in $THREADS; do
    q_ms=() q_cpu=() o_ms=() o_cpu=()
    for ((r = 1; r <= ROUNDS; ++r)); do
      "$BUILD/bench/executor_model_bench" --model "$MODEL" --threads "$T" --iterations "$RUNS" \
        --benchmark_format=json 2>/dev/null > "$TMP/q.json"
      node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).benchmarks[0];
               console.log(JSON.stringify(b))' "$TMP/q.json" > "$TMP/q1.json"
      q_ms+=("$(field "$TMP/q1.json" median_ms)"); q_cpu+=("$(field "$TMP/q1.json" cpu_ms_per_run)")
      node "$ORT" time "$MODEL" --threads "$T" --runs "$RUNS" --warmup 3 > "$TMP/o.json"
      o_ms+=("$(field "$TMP/o.json" median_ms)"); o_cpu+=("$(field "$TMP/o.json" cpu_ms_per_run)")
      printf '  %d thread(s), round %d: qsim %.1f ms, ORT %.1f ms\n' "$T" "$r" "${q_ms[-1]}" "${o_ms[-1]}"
    done
    QM=$(median "${q_ms[@]}") OM=$(median "${o_ms[@]}") QC=$(median "${q_cpu[@]}") OC=$(median "${o_cpu[@]}")
    R=$(ratio "$QM" "$OM")
    printf '  %d thread(s), median of %d rounds x %d runs: qsim %.1f ms (CPU %.1f), ORT %.1f ms (CPU %.1f)\n' \
      "$T" "$ROUNDS" "$RUNS" "$QM" "$QC" "$OM" "$OC"
    echo "  ratio qsim / ORT: $R$( ((LOADED)) || echo ", $(target "${R%% *}" 1.25) the target <= 1.25")"
    record "{\"section\":\"float32\",\"model\":\"$M\",\"threads\":$T,\"rounds\":$ROUNDS,\"runs\":$RUNS,\"qsim_ms\":$QM,\"ort_ms\":$OM,\"qsim_cpu_ms\":$QC,\"ort_cpu_ms\":$OC,\"ratio\":$(jratio "$QM" "$OM")}"
  done
done

# ---- 2. quantized resnet50
if ((SKIP_QUANT == 0)); then
  for T in $QTHREADS; do
    "$BUILD/bench/quant_bench" --model .cache/models/resnet50.onnx --threads "$T" --rounds "$ROUNDS" \
      --runs "$RUNS" --bits 8 --per-channel > "$TMP/quant.json"
    F=$(field "$TMP/quant.json" float_ms) Q=$(field "$TMP/quant.json" fake_ms) I=$(field "$TMP/quant.json" int_ms)
    echo
    printf 'resnet50 8/8 per-channel, %d thread(s), median of %d rounds x %d runs: float32 %.1f ms, fake-quant %.1f ms, integer %.1f ms\n' \
      "$T" "$ROUNDS" "$RUNS" "$F" "$Q" "$I"
    RI=$(ratio "$I" "$F") RQ=$(ratio "$Q" "$F")
    echo "  integer / float32: $RI$( ((LOADED)) || echo ", $(target "${RI%% *}" 0.8) the target <= 0.8")"
    echo "  fake-quant / float32: $RQ$( ((LOADED)) || echo ", $(target "${RQ%% *}" 1.3) the target <= 1.3")"
    record "{\"section\":\"quantized\",\"model\":\"resnet50\",\"threads\":$T,\"float_ms\":$F,\"fake_ms\":$Q,\"int_ms\":$I,\"int_ratio\":$(jratio "$I" "$F"),\"fake_ratio\":$(jratio "$Q" "$F")}"
  done
fi

# ---- 3. Fashion-MNIST
if ((SKIP_FMNIST == 0)); then
  T=$(echo "$THREADS" | cut -d' ' -f1)
  for FM in $FM_MODELS; do
    FM_MODEL=models/$FM.onnx
    [ -f "$FM_MODEL" ] || { echo "bench_executor: no $FM_MODEL; skipped" >&2; continue; }
    fq=() fo=()
    for ((r = 1; r <= FM_ROUNDS; ++r)); do
      "$BUILD/qsim" eval --model "$FM_MODEL" --data fashion-mnist --threads "$T" --json "$TMP/fq.json" >/dev/null
      fq+=("$(field "$TMP/fq.json" seconds)")
      node "$ORT" eval "$FM_MODEL" --threads "$T" > "$TMP/fo.json"
      fo+=("$(field "$TMP/fo.json" seconds)")
    done
    FQS=$(median "${fq[@]}") FOS=$(median "${fo[@]}")
    echo
    printf '%s, Fashion-MNIST 10k test images, %d thread(s), median of %d rounds: qsim eval %.2f s (top-1 %s), ORT loop %.2f s (top-1 %s)\n' \
      "$FM" "$T" "$FM_ROUNDS" "$FQS" "$(field "$TMP/fq.json" fp32_top1)" "$FOS" "$(field "$TMP/fo.json" top1)"
    echo "  ratio qsim / ORT: $(ratio "$FQS" "$FOS")"
    q8=""
    for MODE in int fake; do
      S0=$(date +%s.%N)
      "$BUILD/qsim" quantize --model "$FM_MODEL" --data fashion-mnist --bits 8 --per-channel --mode "$MODE" \
        --threads "$T" --json "$TMP/q8.json" >/dev/null
      S1=$(date +%s.%N)
      printf '  8/8 per-channel, %-4s: whole run %.2f s (calibration included), quantized evaluation %.2f s, top-1 %s\n' \
        "$MODE" "$(awk -v a="$S0" -v b="$S1" 'BEGIN {print b - a}')" "$(field "$TMP/q8.json" quant_seconds)" \
        "$(field "$TMP/q8.json" quant_top1)"
      q8="$q8,\"${MODE}_seconds\":$(field "$TMP/q8.json" quant_seconds),\"${MODE}_run_seconds\":$(awk -v a="$S0" -v b="$S1" 'BEGIN {print b - a}'),\"${MODE}_top1\":$(field "$TMP/q8.json" quant_top1)"
    done
    record "{\"section\":\"fashion_mnist\",\"model\":\"$FM\",\"threads\":$T,\"qsim_s\":$FQS,\"ort_s\":$FOS,\"ratio\":$(jratio "$FQS" "$FOS")$q8}"
  done
fi

LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
echo
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at end (start: $LOAD_START)"

if [ -n "$JSON" ]; then
  node -e '
    const fs = require("fs");
    const [file, start, end, loaded, out] = process.argv.slice(1);
    const rows = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map(JSON.parse);
    const doc = {load_average_start: Number(start), load_average_end: Number(end), loaded: loaded === "1",
                 note: loaded === "1" ? "load average above 1.5 at start: ratios are not evidence (null unless --allow-loaded)" : "",
                 results: rows};
    fs.writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
  ' "$RESULTS" "$LOAD_START" "$LOAD_END" "$LOADED" "$JSON"
  echo "wrote $JSON"
fi
