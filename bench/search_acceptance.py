#!/usr/bin/python3
"""Tables of issue 14's acceptance from the summaries bench/search_acceptance.sh wrote.

Usage: search_acceptance.py OUT MODEL...
(OUT/<model>-<eyeriss|edge-lowmem|eyeriss-lowmem|codesign-seed<N>>/summary.json).
Markdown on stdout: per model on eyeriss (speed-up, top-1 lost, the 8-4 line, QuantuneV2,
gap to the optimum), bits per layer on eyeriss vs each low-memory config (edge-lowmem,
eyeriss-lowmem: eyeriss with edge-lowmem's memory) with each layer's bound at 8 bits (and,
for the layers memory-bound on the low-memory config that kept at least their eyeriss
width, the objective change of each narrower width there and the part of its latency change
that the requantization rows make), and co-design against the grid
sweep per seed (evaluations until the grid's best was reached, both totals).
"""
import json
import os
import sys
import tempfile

# The analytical model's cycles and layers of one allocation (qsim --json).
from search_marginal import compute_layers, timing


def hw_sets(summary):
    """The `--set KEY=VALUE` hardware overrides a run was given (its command line in `provenance`), as
    qsim arguments: the `fixed` part's fixed-width PEs are timed with what bench/search_acceptance.sh passed."""
    args, sets = summary["provenance"]["command_line"], []
    for i, a in enumerate(args):
        if a == "--set" and i + 1 < len(args):
            sets += ["--set", args[i + 1]]
        elif a.startswith("--set="):
            sets += ["--set", a[len("--set="):]]
    return sets


def load(out, model, kind):
    path = os.path.join(out, f"{model}-{kind}", "summary.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def baseline(s, name):
    for b in s["baselines"]:
        if b["name"] == name:
            return b
    return None


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def eyeriss_table(out, models):
    if not any(os.path.exists(os.path.join(out, f"{m}-eyeriss{x}")) for m in models for x in ("", ".err")):
        return
    print("### Every model on eyeriss.yaml (true top-1 on the 10k test set)\n")
    print("\"chosen from\": the chains' choice, or the baseline whose allocation measured a lower objective on the "
          "check samples (docs/search.md section 3); \"chain's own\": the chains' choice, true top-1 and speed-up.\n")
    print("| model | w8 top-1 | chosen top-1 | lost | speed-up | chosen from | chain's own | 8-4 line at its latency | "
          "above | QuantuneV2 (best of widths) | >= QV2 | gap to optimum | steps | seconds | pass |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m in models:
        s = load(out, m, "eyeriss")
        if not s:
            err = os.path.join(out, f"{m}-eyeriss.err")
            if os.path.exists(err) and os.path.getsize(err) > 0:
                with open(err) as f:
                    print(f"| {m} | refused: {f.read().strip().splitlines()[-1]} |" + " |" * 13)
            continue
        best = s["best"]
        w8, w4 = baseline(s, "uniform_w8a8"), baseline(s, "uniform_w4a4")
        lost = w8["true_top1"] - best["true_top1"]
        speed = w8["latency_ms"] / best["latency_ms"]
        # The line through (latency, top-1) of uniform 8 and uniform 4, at the chosen latency.
        t = (best["latency_ms"] - w8["latency_ms"]) / (w4["latency_ms"] - w8["latency_ms"])
        line = w8["true_top1"] + t * (w4["true_top1"] - w8["true_top1"])
        qv = [b for b in s["baselines"] if b["name"].startswith("quantunev2") and b.get("true_top1") is not None]
        qbest = max(qv, key=lambda b: b["true_top1"]) if qv else None
        ok_q = qbest is None or best["true_top1"] >= qbest["true_top1"]
        gap = best["optimum_gap"]
        source = best.get("source", "chain")
        own = baseline(s, "chain_choice") if source != "chain" else best
        own_text = f"{own['true_top1']:.2f}, {w8['latency_ms'] / own['latency_ms']:.2f}x"
        ok = speed >= 1.5 and lost <= 1.0 and best["true_top1"] >= line - 1e-9 and ok_q and gap is not None and gap <= 0.01
        print(f"| {m} | {w8['true_top1']:.2f} | {best['true_top1']:.2f} | {lost:.2f} | {speed:.2f}x | {source} | "
              f"{own_text} | {line:.2f} | "
              f"{'yes' if best['true_top1'] >= line - 1e-9 else 'no'} | "
              f"{fmt(qbest and qbest['true_top1'])} ({qbest['name'] if qbest else '-'}, {fmt(qbest and qbest['latency_ms'], '.4f')} ms) | "
              f"{'yes' if ok_q else 'no'} | {fmt(100 * gap if gap is not None else None, '.3f')} % | "
              f"{s['evaluations']['chain_steps']} | {s['timing']['total_seconds']:.0f} | {'yes' if ok else 'no'} |")
    print()


def all8(hw, model, sets=()):
    """(total cycles, compute layers) of MODEL at 8 bits on configs/HW.yaml; each layer's `bound` is
    what point 3 calls memory- or compute-bound."""
    with tempfile.TemporaryDirectory() as tmp:
        cycles, layers = timing(hw, model, None, tmp, sets)
    return cycles, compute_layers(layers)


def layer_table(out, models, low, pe=""):
    """Bits per layer on eyeriss.yaml against the low-memory config LOW (edge-lowmem or eyeriss-lowmem);
    with PE "fixed", the `fixed` part's runs of both on fixed-width PEs."""
    suffix = "-fixed" if pe == "fixed" else ""
    runs = [(m, load(out, m, "eyeriss" + suffix), load(out, m, low + suffix)) for m in models]
    runs = [(m, e, l) for m, e, l in runs if e and l]
    if not runs:
        return
    on = f", both with `{' '.join(hw_sets(runs[0][2]))}`: fewer bits save bytes, no cycles" if pe == "fixed" else ""
    print(f"### Bits per layer, eyeriss.yaml vs {low}.yaml{on} (weights/activations; bound at 8 bits)\n")
    for m, e, l in runs:
        sets = hw_sets(l)
        (_, be), (c8, bl) = all8("eyeriss", m, hw_sets(e)), all8(low, m, sets)
        we, wl = e["best"]["widths"].split(), l["best"]["widths"].split()
        print(f"**{m}** (eyeriss: {e['best']['true_top1']:.2f} %, {e['best']['speedup_vs_w8']:.2f}x; "
              f"{low}: {l['best']['true_top1']:.2f} %, {l['best']['speedup_vs_w8']:.2f}x)\n")
        print(f"| layer | eyeriss bound | eyeriss bits | {low} bound | {low} bits | direction |")
        print("|---|---|---|---|---|---|")
        fewer = more = 0
        fewer_mem = more_mem = 0
        for i, (a, b) in enumerate(zip(be, bl)):
            wa, wb = int(we[i].split("/")[0]), int(wl[i].split("/")[0])
            d = "fewer" if wb < wa else "more" if wb > wa else ""
            fewer += wb < wa
            more += wb > wa
            fewer_mem += wb < wa and b["bound"] == "memory"
            more_mem += wb > wa and b["bound"] == "memory"
            print(f"| {a['name']} | {a['bound']} | {we[i]} | {b['bound']} | {wl[i]} | {d} |")
        mean_e = sum(int(w.split("/")[0]) for w in we) / len(we)
        mean_l = sum(int(w.split("/")[0]) for w in wl) / len(wl)
        print(f"\nmean weight bits {mean_e:.2f} (eyeriss) vs {mean_l:.2f} ({low}); {fewer} layers fewer bits "
              f"under {low} ({fewer_mem} of them memory-bound there), {more} more ({more_mem} of them memory-bound "
              f"there)\n")
        narrower_moves(m, l, low, c8, {b["name"]: b["bound"] for b in bl}, dict(zip((a["name"] for a in be), we)),
                       sets)


def requant_cycles(layers):
    """Cycles of the requantization rows (`<layer>.requant`) of a JSON report."""
    return sum(l["total_cycles"] for l in layers if l.get("requant"))


def narrower_moves(model, s, low, c8, bound, eyeriss_widths, sets):
    """Why a layer memory-bound on the low-memory config LOW did not get fewer bits there than on
    eyeriss: from LOW's chosen allocation, each narrower width of its group, priced by the
    objective the chain runs on (the corrected additive estimate + lambda * cycles / all-8
    cycles, docs/search.md section 2; C8: those cycles on LOW). A positive change means the objective refuses
    the move."""
    lam = s["objective"]["lambda"]
    pair = lambda w: tuple(int(b) for b in w.split("/"))  # "w/a" -> (w, a)
    widths = {x["name"]: pair(w) for x, w in
              zip((x for x in s["best"]["layers"] if x["is_compute"]), s["best"]["widths"].split())}
    hw = os.path.splitext(os.path.basename(s["hw"]))[0]  # configs/<hw>.yaml
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        c0, layers0 = timing(hw, model, widths, tmp, sets)
        r0 = requant_cycles(layers0)
        for grp in s["estimate"]["groups"]:
            names = grp["layers"]
            if grp["pinned"] or not any(bound.get(n) == "memory" for n in names):
                continue
            cur = widths[names[0]]
            if cur[0] < pair(eyeriss_widths[names[0]])[0]:
                continue  # already fewer bits than on eyeriss
            opts = {(o["wbits"], o["abits"]): o["corrected"] for o in grp["options"]}
            for w in sorted((w for w in opts if w[0] < cur[0]), reverse=True):
                moved = dict(widths, **{n: w for n in names})
                c, layers = timing(hw, model, moved, tmp, sets)
                dlat, dreq = lam * (c - c0) / c8, lam * (requant_cycles(layers) - r0) / c8
                rows.append((", ".join(names), "%d/%d" % cur, "%d/%d" % w, opts[w] - opts[cur], dlat, dreq))
    if not rows:
        return
    print(f"Narrower widths for {model}'s layers memory-bound on {low} that kept at least their eyeriss "
          f"width, from {low}'s choice (lambda {lam:g}; terms in points of top-1):\n")
    print("| layer(s) | chosen | narrower | accuracy term change | latency term change | of it, requantization rows "
          "| objective change |")
    print("|---|---|---|---|---|---|---|")
    for names, cur, w, dacc, dlat, dreq in rows:
        print(f"| {names} | {cur} | {w} | {dacc:+.2f} | {dlat:+.2f} | {dreq:+.2f} | {dacc + dlat:+.2f} |")
    refused = sum(1 for r in rows if r[3] + r[4] > 0)
    slower = [r for r in rows if r[4] > 0]
    by_requant = sum(1 for r in slower if r[4] - r[5] <= 0)
    line = f"\n{refused} of {len(rows)} such moves raise the objective; {len(slower)} raise the latency."
    if slower:
        line += (f" In {by_requant} of those the other rows got faster or stayed, and the requantization rows the move"
                 " adds (a DRAM round trip per width change, docs/timing-model.md section 5) make the difference.")
    print(line + "\n")


def codesign_table(out, models):
    if not any(d.startswith(f"{m}-codesign-seed") for m in models for d in os.listdir(out)):
        return
    print("### Co-design on configs/spaces/eyeriss.yaml against the grid sweep\n")
    print("Evaluations counted by one rule on both sides (docs/search.md section 5). \"reached\": the evaluations of "
          "every chain up to the first step at which one of them evaluated a state as good as the grid's best.\n")
    print("| model | seed | steps per chain | joint objective | grid objective | joint <= grid | reached after "
          "(run) | per chain | joint total | grid total (references + Compute + Requantize/Vector timings) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in models:
        seeds = sorted((int(d.rsplit("seed", 1)[1]), d) for d in os.listdir(out)
                       if d.startswith(f"{m}-codesign-seed") and os.path.isdir(os.path.join(out, d)))
        reached = []
        for seed, d in seeds:
            with open(os.path.join(out, d, "summary.json")) as f:
                s = json.load(f)
            best, grid, ev = s["chain_best"], baseline(s, "grid"), s["evaluations"]
            if not grid:
                continue
            ok = best["objective"] <= grid["objective"] + 1e-9
            tg, gp = ev["to_grid"], ev["grid_parts"]
            chains = ", ".join(str(x) if x >= 0 else "never" for x in tg["chain_evaluations"])
            reach = tg["evaluations"] if tg["evaluations"] >= 0 else None
            reached.append(reach)
            print(f"| {m} | {seed} | {s['options']['steps']} | {best['objective']:.4f} | {grid['objective']:.4f} | "
                  f"{'yes' if ok else 'no'} | {reach if reach is not None else 'never'} | {chains} | {ev['total']} | "
                  f"{ev['grid']} ({gp['references']} + {gp['compute_timings']} + {gp['factor_timings']}) |")
        got = sorted(r for r in reached if r is not None)
        if got:
            print(f"\n{m}: the grid's best reached in {len(got)} of {len(reached)} runs; evaluations until then: "
                  f"min {got[0]}, median {got[len(got) // 2]}, max {got[-1]}\n")
    print()


def main():
    out, models = sys.argv[1], sys.argv[2:]
    eyeriss_table(out, models)
    for low in ("edge-lowmem", "eyeriss-lowmem"):
        layer_table(out, models, low)
    layer_table(out, models, "edge-lowmem", "fixed")
    codesign_table(out, models)


if __name__ == "__main__":
    main()
