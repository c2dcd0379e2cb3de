#!/usr/bin/env python3
"""Where SCALE-Sim v2's USER-mode stalls come from: counts its read-buffer prefetches.

Runs SCALE-Sim's own single-layer simulation (its unmodified code, imported from --src)
on every layer of a topology with a .cfg, and wraps two of its methods to count, per
read buffer (ifmap, filter):
  - prefetches: calls of read_buffer.new_prefetch (each one fetches a whole prefetch
    half, ceil(half / Bandwidth) lines of Bandwidth words, and is charged at Bandwidth);
  - misses ahead of the window, served by one prefetch (streaming) or by several;
  - misses behind the window: the line was passed by a recent move (it lies at most one
    window behind the window's start); the window only moves forward, circularly, so it
    goes round the whole operand to come back to it (the prefetches that took are listed).
It also prints each buffer's window geometry (hashed lines of ceil(words/100) words).

Usage (SCALE-Sim's source is not part of qsim: from a clone of scalesim-project/scale-sim-v2,
export the commit that made tests/data/scalesim, 22f88b17, first):
  mkdir -p /tmp/ss && git -C scale-sim-v2 archive 22f88b17 scalesim | tar x -C /tmp/ss
  /usr/bin/python3 scripts/scalesim_prefetch_stats.py --src /tmp/ss \
      --cfg tests/data/scalesim/configs/eyeriss_user_bw10_ws.cfg \
      --topology tests/data/scalesim/topologies/Resnet18_subset_small.csv
Needs numpy (python3-numpy); tqdm is replaced by a no-op when absent. SCALE-Sim runs
at its own speed (minutes for a large layer).
"""
import argparse
import sys
import types


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, help="directory holding SCALE-Sim's `scalesim` package")
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--topology", required=True)
    ap.add_argument("--gemm", action="store_true", help="the topology is in SCALE-Sim's -i gemm form")
    a = ap.parse_args()

    try:
        import tqdm  # noqa: F401
    except ImportError:  # progress bars only; SCALE-Sim disables them when not verbose
        class _NoBar:
            def __init__(self, it=None, **_):
                self.it = it

            def __iter__(self):
                return iter(self.it)

            def update(self, n=1):
                pass

            def close(self):
                pass
        sys.modules["tqdm"] = types.SimpleNamespace(tqdm=_NoBar)

    sys.path.insert(0, a.src)
    from scalesim.memory import read_buffer as rb
    from scalesim.scale_config import scale_config
    from scalesim.single_layer_sim import single_layer_sim
    from scalesim.topology_utils import topologies

    cfg = scale_config()
    cfg.read_conf_file(a.cfg)
    topo = topologies()
    topo.load_arrays(topofile=a.topology, mnk_inputs=a.gemm)

    pending, stats = {}, {}
    orig_prefetch, orig_hit = rb.read_buffer.new_prefetch, rb.read_buffer.active_buffer_hit

    first_miss = {}  # buffer -> True when the missed line lay just behind the window

    def new_prefetch(self):
        if not pending.get(id(self)):
            # Where the missed line is: behind the window's start by at most one window
            # (it was passed by a recent move) or ahead of it.
            start = self.active_buffer_set_limits[0]
            line = next((l for l, s in self.hashed_buffer.items() if self._qsim_addr in s), None)
            behind = line is not None and 0 < (start - line) % self.num_lines <= self.num_active_buf_lines
            first_miss[id(self)] = behind
        pending[id(self)] = pending.get(id(self), 0) + 1
        return orig_prefetch(self)

    def active_buffer_hit(self, addr):
        self._qsim_addr = addr
        hit = orig_hit(self, addr)
        n = pending.get(id(self), 0)
        if hit and n:
            pending[id(self)] = 0
            # prefetches, misses served by one prefetch, misses ahead needing more, misses behind
            s = stats.setdefault(id(self), [0, 0, 0, 0, 0])
            s[0] += n
            if first_miss[id(self)]:
                s[3] += 1
                s[4] += n
            elif n == 1:
                s[1] += 1
            else:
                s[2] += 1
        return hit

    rb.read_buffer.new_prefetch = new_prefetch
    rb.read_buffer.active_buffer_hit = active_buffer_hit

    print("| layer | total | stall | buffer | lines x words | window (active + prefetch lines) | words per prefetch "
          "| prefetches | misses ahead: one prefetch / several | misses behind the window (their prefetches) "
          "| DRAM words |")
    print("|---|---:|---:|---|---|---|---:|---:|---|---|---:|")
    for lid in range(topo.get_num_layers()):
        stats.clear()
        sim = single_layer_sim()
        sim.set_params(layer_id=lid, config_obj=cfg, topology_obj=topo, verbose=False)
        sim.run()
        total, stall = sim.get_compute_report_items()[:2]
        detail = sim.get_detail_report_items()
        mem = sim.memory_system
        name = topo.get_layer_name(lid) if hasattr(topo, "get_layer_name") else str(lid)
        for label, buf, dram in (("ifmap", mem.ifmap_buf, detail[11]), ("filter", mem.filter_buf, detail[14])):
            pf, one, several, behind, behind_pf = stats.get(id(buf), [0, 0, 0, 0, 0])
            per_line = -(-buf.total_size_elems // 100)
            words = -(-int(buf.prefetch_buf_size) // buf.req_gen_bandwidth) * buf.req_gen_bandwidth
            print(f"| {name} | {total} | {stall} | {label} | {buf.num_lines} x {per_line} | "
                  f"{buf.num_active_buf_lines} + {buf.num_prefetch_buf_lines} | {words} | {pf} | {one} / {several} | "
                  f"{behind} ({behind_pf}) | {int(dram)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
