#!/usr/bin/env bash
# Float32 executor against ONNX Runtime, side by side on this machine, in one run.
#
#   scripts/bench_executor.sh [--rounds N] [--runs N] [--threads N] [--model M.onnx]
#                             [--fmnist-model M.onnx] [--fmnist-rounds N] [--json FILE]
#
# 1. Checks that both engines give the same resnet50 output on the benchmark input.
# 2. resnet50 (torchvision export, 224x224, batch 1): `rounds` rounds, alternating
#    which engine goes first; each round times `runs` inferences after 3 warm-ups
#    (qsim: bench/executor_model_bench; ONNX Runtime: bench/ort/ort_bench.js).
#    Reports the median over rounds of each round's median, CPU ms per inference
#    (user + system, all threads) and peak RSS (GNU time's maximum resident set of
#    the whole process), and the ratios qsim / ONNX Runtime.
# 3. Fashion-MNIST, 10k test images, a bundled batch-1 CNN: `qsim eval` against the
#    same loop in ONNX Runtime (one image per run), alternating, `fmnist-rounds` rounds.
# Same thread count for both (default 2). Other processes on the machine inflate both
# sides; the load average is printed so a noisy run can be recognised.
#
# Needs: the build (QSIM_BUILD_DIR, default build/), node + `npm install --ignore-scripts`
# in bench/ort (done here when missing), .cache/models/resnet50.onnx (exported here
# when missing, with Debian's python3-torch), dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=5 RUNS=20 THREADS=2 FM_ROUNDS=3 JSON=""
MODEL=.cache/models/resnet50.onnx
FM_MODEL=models/fmnist_resnet.onnx
while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --fmnist-model) FM_MODEL=$2; shift 2 ;;
    --fmnist-rounds) FM_ROUNDS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench_executor: unknown option $1" >&2; exit 2 ;;
  esac
done

BUILD=${QSIM_BUILD_DIR:-build}
ORT=bench/ort/ort_bench.js
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ ! -f "$MODEL" ]; then
  echo "bench_executor: exporting $MODEL" >&2
  /usr/bin/python3 scripts/export_torchvision.py --out "$(dirname "$MODEL")" "$(basename "$MODEL" .onnx)" >&2
fi
if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  echo "bench_executor: npm install --ignore-scripts (onnxruntime-node 1.20.1)" >&2
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund >&2)
fi
if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" --target qsim executor_model_bench >&2

# JSON field of a one-line JSON document: field FILE key [key...]
field() {
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
           let v=j; for (const k of process.argv.slice(2)) v=v[k]; console.log(v);' "$@"
}
# Median of numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# Runs a command under GNU time; its peak RSS (MiB) goes to $TMP/rss.
timed() { /usr/bin/time -f '%M' -o "$TMP/rss.kb" "$@"; awk '{printf "%.1f", $1 / 1024}' "$TMP/rss.kb" > "$TMP/rss"; }

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "onnxruntime-node $(field bench/ort/node_modules/onnxruntime-node/package.json version), threads $THREADS"

# ---- 1. the same output from both engines
node "$ORT" pattern 1,3,224,224 "$TMP/x.npy"
"$BUILD/qsim" run --model "$MODEL" --input "$TMP/x.npy" --output "$TMP/qsim.npy" --threads "$THREADS" >/dev/null
node "$ORT" run "$MODEL" "$TMP/x.npy" "$TMP/ort.npy" --threads "$THREADS"
node "$ORT" compare "$TMP/qsim.npy" "$TMP/ort.npy" --rtol 1e-3 --atol 1e-4 > "$TMP/cmp.json" || {
  echo "bench_executor: qsim and ONNX Runtime outputs differ: $(cat "$TMP/cmp.json")" >&2; exit 1; }
echo "outputs agree: max |qsim - ORT| = $(field "$TMP/cmp.json" max_abs_diff) (max |logit| scale: $(field "$TMP/cmp.json" max_abs_diff_over_max_abs) relative)"

# ---- 2. resnet50 latency
q_ms=() q_cpu=() q_rss=() o_ms=() o_cpu=() o_rss=()
run_qsim() {
  timed "$BUILD/bench/executor_model_bench" --model "$MODEL" --threads "$THREADS" --iterations "$RUNS" \
    --benchmark_format=json 2>/dev/null > "$TMP/q.json"
  node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).benchmarks[0];
           console.log(JSON.stringify(b))' "$TMP/q.json" > "$TMP/q1.json"
  q_ms+=("$(field "$TMP/q1.json" median_ms)"); q_cpu+=("$(field "$TMP/q1.json" cpu_ms_per_run)"); q_rss+=("$(cat "$TMP/rss")")
}
run_ort() {
  timed node "$ORT" time "$MODEL" --threads "$THREADS" --runs "$RUNS" --warmup 3 > "$TMP/o.json"
  o_ms+=("$(field "$TMP/o.json" median_ms)"); o_cpu+=("$(field "$TMP/o.json" cpu_ms_per_run)"); o_rss+=("$(cat "$TMP/rss")")
}
for ((r = 1; r <= ROUNDS; ++r)); do
  if ((r % 2)); then run_qsim; run_ort; else run_ort; run_qsim; fi
  printf 'round %d: qsim %.1f ms, ORT %.1f ms\n' "$r" "${q_ms[-1]}" "${o_ms[-1]}"
done
QM=$(median "${q_ms[@]}") OM=$(median "${o_ms[@]}") QC=$(median "${q_cpu[@]}") OC=$(median "${o_cpu[@]}")
QR=$(median "${q_rss[@]}") OR=$(median "${o_rss[@]}")
echo
echo "resnet50 float32, batch 1, 224x224, $THREADS threads: median of $ROUNDS rounds x $RUNS runs"
printf '  %-18s %10s %14s %14s\n' "" "ms/run" "CPU ms/run" "peak RSS MiB"
printf '  %-18s %10.1f %14.1f %14.1f\n' "qsim executor" "$QM" "$QC" "$QR"
printf '  %-18s %10.1f %14.1f %14.1f\n' "ONNX Runtime" "$OM" "$OC" "$OR"
echo "  ratio qsim / ORT: time $(ratio "$QM" "$OM"), CPU $(ratio "$QC" "$OC"), peak RSS $(ratio "$QR" "$OR") (target: time <= 2)"

# ---- 3. Fashion-MNIST evaluation loop
fq_s=() fq_cpu=() fq_rss=() fo_s=() fo_cpu=() fo_rss=()
run_qsim_eval() {
  timed "$BUILD/qsim" eval --model "$FM_MODEL" --data fashion-mnist --threads "$THREADS" --json "$TMP/fq.json" >/dev/null
  fq_s+=("$(field "$TMP/fq.json" seconds)"); fq_cpu+=("$(field "$TMP/fq.json" cpu_seconds)"); fq_rss+=("$(cat "$TMP/rss")")
  FQ_TOP1=$(field "$TMP/fq.json" fp32_top1)
}
run_ort_eval() {
  timed node "$ORT" eval "$FM_MODEL" --threads "$THREADS" > "$TMP/fo.json"
  fo_s+=("$(field "$TMP/fo.json" seconds)"); fo_cpu+=("$(field "$TMP/fo.json" cpu_seconds)"); fo_rss+=("$(cat "$TMP/rss")")
  FO_TOP1=$(field "$TMP/fo.json" top1)
}
if [ -f "$FM_MODEL" ]; then
  for ((r = 1; r <= FM_ROUNDS; ++r)); do
    if ((r % 2)); then run_qsim_eval; run_ort_eval; else run_ort_eval; run_qsim_eval; fi
    printf 'fashion-mnist round %d: qsim %.2f s, ORT %.2f s\n' "$r" "${fq_s[-1]}" "${fo_s[-1]}"
  done
  FQS=$(median "${fq_s[@]}") FOS=$(median "${fo_s[@]}") FQC=$(median "${fq_cpu[@]}") FOC=$(median "${fo_cpu[@]}")
  FQR=$(median "${fq_rss[@]}") FOR=$(median "${fo_rss[@]}")
  echo
  echo "Fashion-MNIST 10k test images, $FM_MODEL (batch 1), $THREADS threads: median of $FM_ROUNDS rounds"
  printf '  %-18s %10s %14s %14s %8s\n' "" "seconds" "CPU seconds" "peak RSS MiB" "top-1"
  printf '  %-18s %10.2f %14.2f %14.1f %8s\n' "qsim eval" "$FQS" "$FQC" "$FQR" "$FQ_TOP1"
  printf '  %-18s %10.2f %14.2f %14.1f %8s\n' "ONNX Runtime loop" "$FOS" "$FOC" "$FOR" "$FO_TOP1"
  echo "  ratio qsim / ORT: time $(ratio "$FQS" "$FOS"), CPU $(ratio "$FQC" "$FOC") (target: time <= 2)"
else
  echo "bench_executor: no $FM_MODEL; Fashion-MNIST part skipped" >&2
fi
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at end"

if [ -n "$JSON" ]; then
  node -e '
    const [m, q, o, qc, oc, qr, or_, fm, fqs, fos, fqc, foc, fqr, forr, fq1, fo1, th, rounds, runs] = process.argv.slice(1);
    const num = (x) => (x === "" ? null : Number(x));
    const out = {threads: Number(th), resnet50: {model: m, rounds: Number(rounds), runs: Number(runs),
      qsim_ms: num(q), ort_ms: num(o), ratio: num(q) / num(o), qsim_cpu_ms: num(qc), ort_cpu_ms: num(oc),
      qsim_peak_rss_mb: num(qr), ort_peak_rss_mb: num(or_)}};
    if (fqs) out.fashion_mnist = {model: fm, qsim_s: num(fqs), ort_s: num(fos), ratio: num(fqs) / num(fos),
      qsim_cpu_s: num(fqc), ort_cpu_s: num(foc), qsim_peak_rss_mb: num(fqr), ort_peak_rss_mb: num(forr),
      qsim_top1: num(fq1), ort_top1: num(fo1)};
    require("fs").writeFileSync(process.argv.slice(-1)[0], JSON.stringify(out, null, 2) + "\n");
  ' "$MODEL" "$QM" "$OM" "$QC" "$OC" "$QR" "$OR" "$FM_MODEL" "${FQS:-}" "${FOS:-}" "${FQC:-}" "${FOC:-}" \
    "${FQR:-}" "${FOR:-}" "${FQ_TOP1:-}" "${FO_TOP1:-}" "$THREADS" "$ROUNDS" "$RUNS" "$JSON"
  echo "wrote $JSON"
fi
