#!/usr/bin/env python3
"""Validation of qsim's QuantuneV2 reproduction (docs/quantune.md), through the qsim CLI.

Per bundled Fashion-MNIST model:
  (a) the Spearman rank correlation between the combined sensitivity score at the low
      width (`qsim sensitivity`) and the measured top-1 drop when only that layer is
      quantized to the low weight width (every other layer at w8, activations at 8 bits;
      `qsim quantize --precision`, one evaluation per layer);
  (b) top-1 of QuantuneV2's allocation (`qsim allocate`) with a fixed number of layers
      at 8 bits against the mean of 10 random allocations with the same count
      (`qsim allocate --order random --seed 1..10`).
Writes a JSON with every figure (--out) and prints the Markdown tables of docs/quantune.md.
Plain python3 (standard library only). Exit 1 when (b) fails on some model.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

MODELS = ["fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet", "fmnist_vgg"]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"quantune_validate: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return float("nan") if sxx == 0 or syy == 0 else sxy / (sxx * syy) ** 0.5


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qsim", default=os.path.join(root, "build", "qsim"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--data", default="fashion-mnist", help="qsim --data source (default: Debian's Fashion-MNIST)")
    ap.add_argument("--low", type=int, default=2, help="low weight width (default 2)")
    ap.add_argument("--abits", type=int, default=8, help="activation width of every layer (default 8)")
    ap.add_argument("--high-fraction", type=float, default=0.5, help="layers at 8 bits, as a fraction (default 0.5)")
    ap.add_argument("--random", type=int, default=10, help="random allocations per model (seeds 1..N)")
    ap.add_argument("--limit", type=int, default=0, help="evaluate the first N test images (default: all 10k)")
    ap.add_argument("--calib-samples", type=int, default=512)
    ap.add_argument("--weights", default="", help="qsim --weights for the score (default: qsim's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="write every figure as JSON")
    ap.add_argument("--reuse-drops", default="",
                    help="take the per-layer top-1 drops from this --out JSON of an earlier run with the same "
                         "--low/--abits/--limit/--calib-samples (they do not depend on the score weights)")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="quantune_validate.")
    common = ["--threads", str(a.threads)]
    limit = ["--limit", str(a.limit)] if a.limit else []
    weights = ["--weights", a.weights] if a.weights else []
    report = {"low": a.low, "abits": a.abits, "high_fraction": a.high_fraction, "limit": a.limit,
              "calib_samples": a.calib_samples, "weights": a.weights, "models": {}}
    failed = []
    prev = None
    if a.reuse_drops:
        with open(a.reuse_drops) as f:
            prev = json.load(f)
        for k in ("low", "abits", "limit", "calib_samples"):
            if prev[k] != getattr(a, k):
                sys.exit(f"quantune_validate: {a.reuse_drops} was run with {k} {prev[k]}, not {getattr(a, k)}")

    def top1(model, alloc_layers, tag):
        path = os.path.join(tmp, f"{tag}.alloc.json")
        with open(path, "w") as f:
            json.dump({"format": "qsim-precision", "version": 1, "layers": alloc_layers}, f)
        return evaluate(model, path, tag)

    def evaluate(model, alloc_path, tag):
        out = os.path.join(tmp, f"{tag}.result.json")
        run([a.qsim, "quantize", "--model", model, "--data", a.data, "--precision", alloc_path,
             "--calib-samples", str(a.calib_samples), "--json", out] + limit + common)
        with open(out) as f:
            return json.load(f)["quant_top1"]

    for name in a.models.split(","):
        model = os.path.join(root, "models", name + ".onnx")
        sens = os.path.join(tmp, f"{name}.sens.json")
        run([a.qsim, "sensitivity", "--model", model, "--data", a.data, "--bits", str(a.low), "--abits",
             str(a.abits), "--calib-samples", str(a.calib_samples), "--json", sens] + weights + common)
        with open(sens) as f:
            s = json.load(f)
        layers = s["layers"]
        rows = s["rows"]

        def layer(n, w):
            return {"name": n, "wbits": w, "abits": a.abits, "per_channel": True}

        if prev and name in prev["models"]:
            base, drops = prev["models"][name]["w8_top1"], prev["models"][name]["drops"]
        else:
            base = top1(model, [layer(n, 8) for n in layers], f"{name}.w8")
            drops = []
            for i, n in enumerate(layers):
                t = top1(model, [layer(m, a.low if m == n else 8) for m in layers], f"{name}.only{i}")
                drops.append(base - t)
        scores = [r["score"] for r in rows]
        metrics = {
            "score": scores,
            "-w_sqnr_db": [-(r["w_sqnr_db"] if r["w_sqnr_db"] is not None else 400.0) for r in rows],
            "-a_sqnr_db": [-(r["a_sqnr_db"] if r["a_sqnr_db"] is not None else 400.0) for r in rows],
            "a_sqnr_delta_db": [r["a_sqnr_delta_db"] if r["a_sqnr_delta_db"] is not None else 0.0 for r in rows],
            "w_mse": [r["w_mse"] for r in rows],
            "a_mse": [r["a_mse"] for r in rows],
        }
        rho = {k: spearman(v, drops) for k, v in metrics.items()}

        n_layers = len(layers)
        count = round(a.high_fraction * n_layers)
        alloc_common = ["--sensitivity", sens, "--model", model, "--high", "8", "--low", str(a.low), "--abits",
                        str(a.abits), "--high-count", str(count)]
        qpath = os.path.join(tmp, f"{name}.quantune.alloc.json")
        run([a.qsim, "allocate"] + alloc_common + ["--out", qpath])
        with open(qpath) as f:
            q_high = json.load(f)["allocation"]["high_layers"]
        q_top1 = evaluate(model, qpath, f"{name}.quantune")
        rand = []
        for seed in range(1, a.random + 1):
            rpath = os.path.join(tmp, f"{name}.random{seed}.alloc.json")
            run([a.qsim, "allocate"] + alloc_common + ["--order", "random", "--seed", str(seed), "--out", rpath])
            with open(rpath) as f:
                r_high = json.load(f)["allocation"]["high_layers"]
            if r_high != q_high:
                sys.exit(f"quantune_validate: {name}: random seed {seed} has {r_high} high layers, QuantuneV2 {q_high}")
            rand.append(evaluate(model, rpath, f"{name}.random{seed}"))
        r_mean = sum(rand) / len(rand)
        if not q_top1 > r_mean:
            failed.append(name)
        report["models"][name] = {"layers": layers, "w8_top1": base, "drops": drops, "metrics": metrics, "spearman": rho,
                                  "high_layers": q_high, "quantune_top1": q_top1, "random_top1": rand,
                                  "random_mean_top1": r_mean}
        print(f"{name}: spearman(score, drop) = {rho['score']:.3f}; QuantuneV2 {100 * q_top1:.2f}% vs random "
              f"mean {100 * r_mean:.2f}% ({q_high} of {n_layers} layers at 8 bits)", flush=True)

    print()
    print(f"| model | layers | w8 top-1 | Spearman(score, drop) | " + " | ".join(
        f"Spearman({k})" for k in ["-w_sqnr_db", "-a_sqnr_db", "a_sqnr_delta_db", "w_mse", "a_mse"]) + " |")
    print("|---|---|---|---|" + "---|" * 5)
    for name, m in report["models"].items():
        r = m["spearman"]
        print(f"| {name} | {len(m['layers'])} | {100 * m['w8_top1']:.2f} % | {r['score']:.3f} | " + " | ".join(
            f"{r[k]:.3f}" for k in ["-w_sqnr_db", "-a_sqnr_db", "a_sqnr_delta_db", "w_mse", "a_mse"]) + " |")
    print()
    print("| model | layers at 8 bits | QuantuneV2 top-1 | random top-1 (mean of "
          f"{a.random}) | random min .. max |")
    print("|---|---|---|---|---|")
    for name, m in report["models"].items():
        print(f"| {name} | {m['high_layers']} of {len(m['layers'])} | {100 * m['quantune_top1']:.2f} % | "
              f"{100 * m['random_mean_top1']:.2f} % | {100 * min(m['random_top1']):.2f} .. "
              f"{100 * max(m['random_top1']):.2f} % |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
    if failed:
        print(f"QuantuneV2 does not beat the random mean on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
