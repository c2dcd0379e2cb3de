#include "sim/analytical/analytical_backend.h"

#include "sim/analytical/fold_classes.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "graph/error.h"

namespace qsim {

namespace {

// Energy of one MAC at the widths the PE runs (sim/hw_spec.h semantics). An
// empty table means energy is not modelled (hand-built specs).
double mac_pj(const HwSpec& hw, const PeRate& pe, std::string_view layer) {
  if (hw.energy.mac_pj.empty() && hw.energy.mac_pj_pair.empty()) return 0.0;
  try {
    return mac_energy_pj(hw, pe.wbits, pe.abits);
  } catch (const Error& e) {
    fail("{} (layer '{}')", e.what(), layer);
  }
}

}  // namespace

LayerTiming time_schedule(const Schedule& s, const HwSpec& hw, std::string_view layer) {
  LayerTiming t;
  t.gemm = s.gemm;
  const int64_t F = s.folds();
  t.folds = F;
  t.compute_cycles = s.compute_cycles();

  const MemorySpec& mem = hw.memory;
  const bool timed = !mem.dram_unlimited;
  const double bw = mem.dram_bytes_per_cycle;
  const FoldWalk walk(s, mem);

  // Sum the FoldWalk's stages over the fold classes (docs/timing-model.md,
  // sections 4 and 7). A fold's cost depends only on its kind, so each kind is
  // evaluated once; neighbours are found by stepping the loop indices.
  struct Cost {
    int64_t in, out, cycles;
    int64_t ifmap_sram_rd, filter_sram_rd, ofmap_sram_wr, psum_sram_rd;
    int64_t ifmap_dram, filter_dram, psum_in, ofmap_out, psum_out;
  };
  Cost memo[kFoldKinds];
  bool have[kFoldKinds] = {};
  auto cost = [&](const FoldPosition& p) -> const Cost& {
    const int k = fold_kind(s, p);
    if (!have[k]) {
      const FoldStep f = s.fold(fold_index(s, p));
      memo[k] = {f.dram_in(),        f.dram_out(),        f.cycles,           f.ifmap_sram_read,
                 f.filter_sram_read, f.ofmap_sram_write,  f.psum_sram_read,   f.ifmap_dram_in,
                 f.filter_dram_in,   f.psum_dram_in,      f.ofmap_dram_out,   f.psum_dram_out};
      have[k] = true;
    }
    return memo[k];
  };
  auto stage = [](int64_t compute, int64_t in, int64_t out, bool latency) {
    FoldStage st;
    st.compute_cycles = compute;
    st.dram_in = in;
    st.dram_out = out;
    st.latency = latency;
    return st;
  };

  int64_t array_time = 0;
  int64_t ifmap_sram_rd = 0, filter_sram_rd = 0, ofmap_sram_wr = 0, psum_sram_rd = 0;
  int64_t ifmap_dram = 0, filter_dram = 0, psum_in = 0, ofmap_out = 0, psum_out = 0;
  const FoldClasses classes = fold_classes(s);
  for (const FoldClass& cl : classes) {
    const FoldPosition& p = cl.position;
    const Cost& f = cost(p);
    ifmap_sram_rd += cl.count * f.ifmap_sram_rd;
    filter_sram_rd += cl.count * f.filter_sram_rd;
    ofmap_sram_wr += cl.count * f.ofmap_sram_wr;
    psum_sram_rd += cl.count * f.psum_sram_rd;
    ifmap_dram += cl.count * f.ifmap_dram;
    filter_dram += cl.count * f.filter_dram;
    psum_in += cl.count * f.psum_in;
    ofmap_out += cl.count * f.ofmap_out;
    psum_out += cl.count * f.psum_out;
    switch (walk.overlap()) {
      case Overlap::kNone: break;
      case Overlap::kDoubleBuffer: {
        // Fold f computes while the channel prefetches fold f+1 and drains fold f-1.
        const int64_t in_next = cl.index + 1 < F ? cost(next_fold(s, p)).in : 0;
        const int64_t out_prev = cl.index > 0 ? cost(prev_fold(s, p)).out : 0;
        array_time += cl.count * walk.stage_cycles(stage(f.cycles, in_next, out_prev, false));
        break;
      }
      case Overlap::kSerial:  // load, compute, store
        array_time += cl.count * (walk.stage_cycles(stage(0, f.in, 0, f.in > 0)) +
                                  walk.stage_cycles(stage(f.cycles, 0, 0, false)) +
                                  walk.stage_cycles(stage(0, 0, f.out, false)));
        break;
    }
  }
  if (walk.overlap() == Overlap::kDoubleBuffer) {  // the first fill and the last drain
    const Cost& first = cost(fold_position(s, 0));
    const Cost& last = cost(fold_position(s, F - 1));
    array_time += walk.stage_cycles(stage(0, first.in, 0, first.in > 0)) +
                  walk.stage_cycles(stage(0, 0, last.out, false));
  }
  t.stall_cycles = timed ? array_time - t.compute_cycles : 0;
  t.total_cycles = t.compute_cycles + t.stall_cycles;

  // Every byte into or out of each SRAM: the array's accesses plus the DRAM side.
  t.sram_read = {ifmap_sram_rd, filter_sram_rd, psum_sram_rd + ofmap_out + psum_out};
  t.sram_write = {ifmap_dram, filter_dram, ofmap_sram_wr + psum_in};
  t.dram_read = {ifmap_dram, filter_dram, psum_in};
  t.dram_write = {0, 0, ofmap_out + psum_out};

  const double macs = static_cast<double>(s.gemm.macs());
  const double slots = static_cast<double>(s.rows * s.cols) * s.pe.macs_per_pe_cycle();
  t.utilization = t.total_cycles > 0 ? macs / (slots * static_cast<double>(t.total_cycles)) : 0.0;
  t.mapping_efficiency = s.mapping_efficiency();
  t.compute_util = s.compute_util();

  const EnergySpec& e = hw.energy;
  t.energy.mac = macs * mac_pj(hw, s.pe, layer);
  t.energy.sram = static_cast<double>(t.sram_read.total()) * e.sram_read_pj_per_byte +
                  static_cast<double>(t.sram_write.total()) * e.sram_write_pj_per_byte;
  t.energy.dram = static_cast<double>(t.dram_bytes()) * e.dram_pj_per_byte;

  // Memory-bound: the DRAM channel alone needs longer than the array computes.
  t.bound = timed && static_cast<double>(t.dram_bytes()) / bw > static_cast<double>(t.compute_cycles)
                ? Bound::kMemory
                : Bound::kCompute;
  return t;
}

LayerTiming time_vector_op(int64_t ops, int64_t read_bytes, int64_t write_bytes, const HwSpec& hw,
                           std::string_view what) {
  if (hw.vector.lanes < 1)
    fail("{}: vector.lanes must be positive: '{}' runs on the vector unit", hw_where(hw), what);
  LayerTiming t;
  t.is_compute = false;
  t.vector_ops = ops;
  t.vector_cycles = (ops + hw.vector.lanes - 1) / hw.vector.lanes;
  t.dram_read.ifmap = read_bytes;
  t.dram_write.ofmap = write_bytes;
  const MemorySpec& mem = hw.memory;
  if (!mem.dram_unlimited) {
    const int64_t x = dram_transfer_cycles(read_bytes + write_bytes, mem.dram_bytes_per_cycle);
    const int64_t lat = read_bytes > 0 ? mem.dram_latency_cycles : 0;
    const int64_t time = mem.double_buffer ? lat + std::max(t.vector_cycles, x) : lat + t.vector_cycles + x;
    t.stall_cycles = time - t.vector_cycles;
    t.bound = x > t.vector_cycles ? Bound::kMemory : Bound::kCompute;
  }
  t.total_cycles = t.vector_cycles + t.stall_cycles;
  t.utilization = 0.0;
  t.energy = vector_energy(ops, read_bytes + write_bytes, hw);
  return t;
}

EnergyBreakdown vector_energy(int64_t ops, int64_t dram_bytes, const HwSpec& hw) {
  EnergyBreakdown e;
  e.vector = static_cast<double>(ops) * hw.energy.vector_op_pj;
  e.dram = static_cast<double>(dram_bytes) * hw.energy.dram_pj_per_byte;
  return e;
}


TimingReport AnalyticalBackend::run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                                    const HwSpec& hw) const {
  const auto compute = graph.compute_layers();
  if (precision.size() != compute.size())
    fail("precision: {} entries for the {} compute layers of model '{}'", precision.size(), compute.size(),
         graph.name);
  const Lowering low(graph, hw);
  return run(low, low.lower(precision));
}

TimingReport AnalyticalBackend::run(const Lowering& low, const Program& program) const {
  const LayerGraph& graph = low.graph();
  const HwSpec& hw = low.hw();
  TimingReport rep;
  rep.backend = std::string(name());
  rep.model = graph.name;
  rep.hw = hw.name;
  rep.clock_mhz = hw.array.clock_mhz;
  rep.layers.reserve(program.steps.size());
  for (const Step& step : program.steps) {
    if (const auto* c = std::get_if<ComputeStep>(&step)) {
      const Node& n = graph.node(c->node);
      LayerTiming row = time_schedule(c->schedule, hw, n.name);
      row.name = n.name;
      row.op = op_name(n.op);
      row.wbits = c->wbits;
      row.abits = c->abits;
      rep.layers.push_back(std::move(row));
    } else if (const auto* r = std::get_if<RequantizeStep>(&step)) {
      const Node& n = graph.node(r->before);
      LayerTiming row = time_vector_op(r->elems, r->read_bytes, r->write_bytes, hw, n.name);
      row.name = n.name + ".requant";
      row.op = "Requantize";
      row.requant = true;
      row.wbits = r->from_bits;
      row.abits = r->to_bits;
      rep.layers.push_back(std::move(row));
    } else {
      const auto& v = std::get<VectorStep>(step);
      const Node& n = graph.node(v.node);
      LayerTiming row = time_vector_op(v.ops, v.read_bytes, v.write_bytes, hw, n.name);
      row.name = n.name;
      row.op = op_name(n.op);
      row.wbits = v.bits;
      row.abits = v.bits;
      rep.layers.push_back(std::move(row));
    }
  }
  return rep;
}

}  // namespace qsim
