#!/usr/bin/python3
"""What narrowing one layer buys on eyeriss.yaml and on edge-lowmem.yaml (docs/search.md,
"eyeriss.yaml vs edge-lowmem.yaml").

For each compute layer of each model, and each config, the latency gain of narrowing that
layer alone (every other layer at 8/8) -- 8/8 -> 4/4, 8/8 -> 2/2, weights only (4/8),
activations only (8/4) -- as a percentage of the network's all-8 latency on the same
config: the quantity the search's latency term, lambda * latency / latency(all 8-bit on
the same hardware), rewards. "4/4 among 4/4": the same gain with every other layer at
4/4 (the latency of keeping that layer alone at 8/8 in a 4/4 network, minus the all-4/4
latency): narrowing then removes the width conversions around the layer instead of adding
them. Latencies are the analytical model's (`qsim --precision
alloc.json --json`); each layer's bound is the one `qsim --csv` reports at 8 bits.

Usage: bench/search_marginal.py [MODEL ...]   (default: fmnist_vgg fmnist_mobilenetv2)
       QSIM=build/qsim by default; MODEL_DIR=DIR reads DIR/MODEL.onnx (default models/). Markdown on stdout.
"""
import json
import os
import subprocess
import sys
import tempfile

QSIM = os.environ.get("QSIM", "build/qsim")
MODEL_DIR = os.environ.get("MODEL_DIR", "models")  # DIR/<model>.onnx
CONFIGS = ["eyeriss", "edge-lowmem"]
VARIANTS = [(4, 4), (2, 2), (4, 8), (8, 4)]  # (wbits, abits)


def timing(hw, model, alloc, tmp, sets=()):
    """(total cycles, layers of the JSON report) with per-layer widths `alloc` (name -> (w, a));
    `sets`: further qsim arguments (--set KEY=VALUE overrides of the hardware)."""
    out = os.path.join(tmp, "t.json")
    cmd = [QSIM, "--hw", f"configs/{hw}.yaml", *sets, "--model", os.path.join(MODEL_DIR, f"{model}.onnx"), "--json", out]
    if alloc is not None:
        path = os.path.join(tmp, "alloc.json")
        with open(path, "w") as f:
            json.dump({"format": "qsim-precision", "version": 1,
                       "layers": [{"name": n, "wbits": w, "abits": a} for n, (w, a) in alloc.items()]}, f)
        cmd += ["--precision", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        j = json.load(f)
    return j["total_cycles"], j["layers"]


def compute_layers(layers):
    return [l for l in layers if l["is_compute"]]


def measure(model, tmp):
    rows = {}  # config -> (bounds by layer, {layer: {variant: gain %}}, share of all-8 by layer)
    names = None
    for hw in CONFIGS:
        t8, layers = timing(hw, model, None, tmp)
        comp = compute_layers(layers)
        if names is None:
            names = [l["name"] for l in comp]
        bound = {l["name"]: l["bound"] for l in comp}
        share = {l["name"]: 100.0 * l["total_cycles"] / t8 for l in comp}
        gains = {}
        for n in names:
            gains[n] = {}
            for w, a in VARIANTS:
                alloc = {m: (8, 8) for m in names}
                alloc[n] = (w, a)
                t, _ = timing(hw, model, alloc, tmp)
                gains[n][(w, a)] = 100.0 * (t8 - t) / t8
        # In a 4/4 network: what keeping this one layer at 8/8 costs (the other layers'
        # widths around it are the same as its own, so no conversion appears or goes).
        t4, _ = timing(hw, model, {m: (4, 4) for m in names}, tmp)
        for n in names:
            alloc = {m: (4, 4) for m in names}
            alloc[n] = (8, 8)
            t, _ = timing(hw, model, alloc, tmp)
            gains[n]["in4"] = 100.0 * (t - t4) / t8
        rows[hw] = (bound, gains, share)
    return names, rows


def table(model, names, rows):
    e, l = rows["eyeriss"], rows["edge-lowmem"]
    print(f"**{model}**: latency gain of narrowing one layer, % of the network's all-8 latency on the same "
          "config (each cell: eyeriss / edge-lowmem)\n")
    print("| layer | bound at 8 | share of the all-8 latency | 4/4 | 2/2 | w4 (4/8) | a4 (8/4) | 4/4 among 4/4 |")
    print("|---|---|---|---|---|---|---|---|")
    pair = lambda x, y: f"{x:.2f} / {y:.2f}"
    for n in names:
        cells = [f"{e[0][n]} / {l[0][n]}", f"{e[2][n]:.1f} / {l[2][n]:.1f}"]
        cells += [pair(e[1][n][v], l[1][n][v]) for v in VARIANTS + ["in4"]]
        print(f"| {n} | " + " | ".join(cells) + " |")
    # Summary over the layers memory-bound on edge-lowmem: where does narrowing gain more?
    mem = [n for n in names if l[0][n] == "memory"]
    for v, what in [((4, 4), "4/4 from all-8"), ((4, 8), "w4 from all-8"), ("in4", "4/4 among 4/4")]:
        more = sum(l[1][n][v] > e[1][n][v] + 1e-9 for n in mem)
        print(f"\n- {what}: of the {len(mem)} layers memory-bound on edge-lowmem, {more} gain more there than on "
              f"eyeriss; summed gain {sum(e[1][n][v] for n in mem):.2f} % (eyeriss) vs "
              f"{sum(l[1][n][v] for n in mem):.2f} % (edge-lowmem)", end="")
    print("\n")


def main():
    models = sys.argv[1:] or ["fmnist_vgg", "fmnist_mobilenetv2"]
    with tempfile.TemporaryDirectory() as tmp:
        for m in models:
            names, rows = measure(m, tmp)
            table(m, names, rows)


if __name__ == "__main__":
    main()
