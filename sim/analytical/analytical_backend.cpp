#include "sim/analytical/analytical_backend.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "graph/error.h"

namespace qsim {

namespace {

std::string_view hw_where(const HwSpec& hw) {
  if (!hw.source.empty()) return hw.source;
  if (!hw.name.empty()) return hw.name;
  return "hardware";
}

void check_memory(const HwSpec& hw) {
  const MemorySpec& m = hw.memory;
  if (!m.dram_unlimited && !(m.dram_bytes_per_cycle > 0.0))
    fail("{}: memory.dram_bytes_per_cycle must be positive (or 'unlimited'), got {}", hw_where(hw),
         m.dram_bytes_per_cycle);
  if (m.dram_latency_cycles < 0)
    fail("{}: memory.dram_latency_cycles must not be negative, got {}", hw_where(hw), m.dram_latency_cycles);
}

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

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

// Elements the vector unit processes for a standalone op: one per output element,
// times the window for pooling and LRN (every input of every window is visited).
int64_t vector_ops(const LayerGraph& g, const Node& n) {
  const int64_t out = n.outputs.empty() ? 0 : shape_numel(g.value(n.outputs[0]).shape);
  switch (n.op) {
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
      if (const auto* a = std::get_if<PoolAttrs>(&n.attrs)) return out * product(a->kernel);
      return out;
    case OpKind::kGlobalAveragePool:
      return n.inputs.empty() || n.inputs[0] < 0 ? out : shape_numel(g.value(n.inputs[0]).shape);
    case OpKind::kLRN:
      if (const auto* a = std::get_if<LRNAttrs>(&n.attrs)) return out * std::max<int64_t>(1, a->size);
      return out;
    default:
      return out;
  }
}

// Overflow guard. Every count the backend produces (cycles, stalls, bytes per
// operand, vector ops) is an int64 sum of products of a layer's sizes and the
// array's. Instead of checking each product, a conservative bound of each layer's
// counts is computed in long double first: a layer whose bound exceeds 2^60, or a
// model whose layers together exceed 2^62, is refused (qsim::Error naming the
// model and layer) before any int64 arithmetic can overflow. Real networks are
// many orders of magnitude below (resnet50 on tpu-like.yaml: about 2^33).
constexpr long double kLayerBound = 0x1p60L;
constexpr long double kModelBound = 0x1p62L;

void check_timing_bounds(const LayerGraph& g, const HwSpec& hw) {
  using LD = long double;
  const LD R = static_cast<LD>(std::max<int64_t>(1, hw.array.rows));
  const LD C = static_cast<LD>(std::max<int64_t>(1, hw.array.cols));
  const LD base = static_cast<LD>(std::max(1, hw.pe.base_bits));
  const LD pack = base * base;  // Bit Fusion packs at most (B/1)^2 products per PE
  const LD cpm = base * base;   // bit-serial spends at most wbits * abits cycles per step
  // Bytes per element at the widest storage (acc_bits, or a whole wide word).
  const LD elem = static_cast<LD>(std::max<int>({hw.pe.acc_bits, hw.memory.word_bits, 64})) / 8.0L;
  const LD bw = hw.memory.dram_unlimited ? 0.0L : static_cast<LD>(hw.memory.dram_bytes_per_cycle);
  const LD lat = static_cast<LD>(std::max<int64_t>(0, hw.memory.dram_latency_cycles));
  const LD lanes = static_cast<LD>(std::max<int64_t>(1, hw.vector.lanes));
  auto numel = [&](ValueId v) { return v < 0 ? 0.0L : static_cast<LD>(shape_numel(g.value(v).shape)); };
  auto stalls = [&](LD bytes, LD transfers) { return bw > 0 ? bytes / bw + transfers * lat : 0.0L; };
  auto ceil_div = [](LD a, LD b) { return std::ceil(a / b); };
  auto refuse = [&](const Node& n, LD b) {
    fail("model '{}': layer '{}' ({}) is too large to time on {}: its cycle or byte counts could reach "
         "{:.3g} (more than 2^60)",
         g.name, n.name, op_name(n.op), hw.source.empty() ? hw.name : hw.source, static_cast<double>(b));
  };
  LD total = 0;
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    LD b = 0;
    if (is_compute(n.op)) {
      const LayerStats st = g.stats(id);  // checked: names the model and layer on overflow
      const LD M = static_cast<LD>(st.gemm.M), N = static_cast<LD>(st.gemm.N), K = static_cast<LD>(st.gemm.K);
      const LD rep = static_cast<LD>(std::max<int64_t>(1, st.gemm.repeats));
      LD Sr = M, Sc = N, T = K;  // os; ws: K, N, M; is: K, M, N (K before packing: an upper bound)
      if (hw.array.dataflow == Dataflow::kWS) Sr = K, Sc = N, T = M;
      if (hw.array.dataflow == Dataflow::kIS) Sr = K, Sc = M, T = N;
      const LD folds = rep * std::max(1.0L, ceil_div(Sr, R)) * std::max(1.0L, ceil_div(Sc, C));
      const LD steps = std::max(1.0L, T) + 1;  // chunks <= T: one more fill/drain per chunk at most
      const LD cycles = folds * steps * (2 * R + C + cpm);
      const LD sram = folds * steps * (R * pack + C + R * C) * elem;
      const LD dram = rep * (M * K + K * N + 2 * M * N) * elem * (folds / rep + 2);
      // Intermediate products of the mapper (unique ifmap elements x chunk rows).
      const LD inter = M * K * std::max({M, N, K, 1.0L}) * rep;
      b = std::max({cycles, sram, dram, stalls(sram + dram, folds * steps), inter});
    } else {
      LD ops = 0, bytes = 0;
      for (ValueId v : n.inputs) bytes += numel(v) * elem;
      for (ValueId v : n.outputs) {
        bytes += numel(v) * elem;
        ops = std::max(ops, numel(v));
      }
      LD window = 1;
      if (const auto* a = std::get_if<PoolAttrs>(&n.attrs))
        for (int64_t k : a->kernel) window *= static_cast<LD>(std::max<int64_t>(1, k));
      if (const auto* a = std::get_if<LRNAttrs>(&n.attrs)) window = static_cast<LD>(std::max<int64_t>(1, a->size));
      ops = std::max(ops * window, n.inputs.empty() ? 0.0L : numel(n.inputs[0]));
      b = std::max({ops, bytes, ops / lanes + stalls(bytes, 1)});
    }
    if (!(b <= kLayerBound)) refuse(n, b);
    total += b;
    if (!(total <= kModelBound))
      fail("model '{}' is too large to time on {}: its cycle or byte counts could reach {:.3g} by layer '{}' "
           "(more than 2^62)",
           g.name, hw.source.empty() ? hw.name : hw.source, static_cast<double>(total), n.name);
  }
}

}  // namespace

VectorKind vector_kind(OpKind op) {
  switch (op) {
    case OpKind::kFlatten:
    case OpKind::kReshape:
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze:
    case OpKind::kIdentity:
    case OpKind::kConcat:
      return VectorKind::kFree;
    case OpKind::kBatchNorm:
    case OpKind::kRelu:
    case OpKind::kClip:
    case OpKind::kLeakyRelu:
    case OpKind::kSigmoid:
    case OpKind::kHardSigmoid:
    case OpKind::kHardSwish:
    case OpKind::kAdd:
    case OpKind::kMul:
    case OpKind::kSum:
      return VectorKind::kElementwise;
    default:
      return VectorKind::kStandalone;
  }
}

int64_t dram_transfer_cycles(int64_t bytes, double bytes_per_cycle) {
  if (bytes <= 0) return 0;
  if (bytes_per_cycle >= 1.0 && bytes_per_cycle < 9.0e15 && bytes_per_cycle == std::floor(bytes_per_cycle)) {
    const auto bw = static_cast<int64_t>(bytes_per_cycle);  // whole bytes per cycle: exact integer ceil
    return (bytes + bw - 1) / bw;
  }
  const double q = static_cast<double>(bytes) / bytes_per_cycle;
  const double r = std::round(q);
  // bytes / bw can land a hair above an exact integer (3 / 0.1 = 30.000000000000004).
  if (std::fabs(q - r) <= 1e-9 * std::max(1.0, q)) return static_cast<int64_t>(r);
  return static_cast<int64_t>(std::ceil(q));
}

LayerTiming time_schedule(const Schedule& s, const HwSpec& hw, std::string_view layer) {
  LayerTiming t;
  t.gemm = s.gemm;
  const int64_t F = s.folds();
  t.folds = F;
  t.compute_cycles = s.compute_cycles();

  const MemorySpec& mem = hw.memory;
  const bool timed = !mem.dram_unlimited;
  const double bw = mem.dram_bytes_per_cycle;
  const int64_t L = mem.dram_latency_cycles;
  auto xfer = [&](int64_t bytes) { return dram_transfer_cycles(bytes, bw); };

  // Sum the per-fold quantities over the fold classes (docs/timing-model.md,
  // "Stalls"). A fold's cost depends only on its kind, so each kind is
  // evaluated once; neighbours are found by stepping the loop indices.
  struct Cost {
    int64_t in, out, cycles;
    int64_t ifmap_sram_rd, filter_sram_rd, ofmap_sram_wr, psum_sram_rd;
    int64_t ifmap_dram, filter_dram, psum_in, ofmap_out, psum_out;
  };
  Cost memo[Schedule::kKinds];
  bool have[Schedule::kKinds] = {};
  auto cost = [&](const Schedule::Position& p) -> const Cost& {
    const int k = s.kind(p);
    if (!have[k]) {
      const FoldStep f = s.fold(s.index_of(p));
      memo[k] = {f.dram_in(),        f.dram_out(),        f.cycles,           f.ifmap_sram_read,
                 f.filter_sram_read, f.ofmap_sram_write,  f.psum_sram_read,   f.ifmap_dram_in,
                 f.filter_dram_in,   f.psum_dram_in,      f.ofmap_dram_out,   f.psum_dram_out};
      have[k] = true;
    }
    return memo[k];
  };

  int64_t array_time = 0;
  int64_t ifmap_sram_rd = 0, filter_sram_rd = 0, ofmap_sram_wr = 0, psum_sram_rd = 0;
  int64_t ifmap_dram = 0, filter_dram = 0, psum_in = 0, ofmap_out = 0, psum_out = 0;
  const FoldClasses classes = s.fold_classes();
  for (const FoldClass& cl : classes) {
    const Schedule::Position p = s.position(cl.index);
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
    if (!timed) continue;
    if (mem.double_buffer) {
      // While fold f computes, the channel prefetches fold f+1 and drains fold f-1.
      const int64_t in_next = cl.index + 1 < F ? cost(s.next(p)).in : 0;
      const int64_t out_prev = cl.index > 0 ? cost(s.prev(p)).out : 0;
      array_time += cl.count * std::max(f.cycles, xfer(in_next + out_prev));
    } else {
      array_time += cl.count * ((f.in > 0 ? L : 0) + xfer(f.in) + f.cycles + xfer(f.out));
    }
  }
  if (timed && mem.double_buffer) {
    const Cost& first = cost(s.position(0));
    const Cost& last = cost(s.position(F - 1));
    array_time += (first.in > 0 ? L : 0) + xfer(first.in) + xfer(last.out);
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
  t.energy.vector = static_cast<double>(ops) * hw.energy.vector_op_pj;
  t.energy.dram = static_cast<double>(read_bytes + write_bytes) * hw.energy.dram_pj_per_byte;
  return t;
}

TimingReport AnalyticalBackend::run(const LayerGraph& graph, std::span<const LayerPrecision> precision,
                                    const HwSpec& hw) const {
  const auto compute = graph.compute_layers();
  if (precision.size() != compute.size())
    fail("precision: {} entries for the {} compute layers of model '{}'", precision.size(), compute.size(),
         graph.name);
  check_memory(hw);
  check_timing_bounds(graph, hw);

  TimingReport rep;
  rep.backend = std::string(name());
  rep.model = graph.name;
  rep.hw = hw.name;
  rep.clock_mhz = hw.array.clock_mhz;
  rep.layers.reserve(graph.nodes().size() + compute.size());

  const auto values = graph.values();
  const std::size_t nv = values.size(), nn = graph.nodes().size();
  std::vector<int> width(nv, 0);        // activation width each tensor is stored at (0: not yet known)
  std::vector<int> requant_to(nv, 0);   // width a tensor was last requantized to (shared by consumers)
  std::vector<int> layer_of(nn, -1);    // compute-layer index of a node
  std::vector<uint8_t> output_stage(nn, 0);  // compute layer or op fused into one's output stage
  for (std::size_t i = 0; i < compute.size(); ++i) layer_of[static_cast<std::size_t>(compute[i])] = static_cast<int>(i);
  const int default_width = compute.empty() ? 8 : precision[0].abits;  // graph inputs read by non-compute ops
  auto is_activation = [&](ValueId v) { return v >= 0 && !values[static_cast<std::size_t>(v)].is_constant; };
  auto numel = [&](ValueId v) { return shape_numel(values[static_cast<std::size_t>(v)].shape); };
  auto bytes = [&](int bits, int64_t elems) { return Storage::of(bits, hw.memory).bytes(elems); };

  for (NodeId id : graph.topo_order()) {
    const Node& n = graph.node(id);
    const auto uid = static_cast<std::size_t>(id);
    if (layer_of[uid] >= 0) {
      const LayerPrecision& p = precision[static_cast<std::size_t>(layer_of[uid])];
      const ValueId x = n.inputs.empty() ? -1 : n.inputs[0];
      if (is_activation(x)) {
        const auto ux = static_cast<std::size_t>(x);
        if (width[ux] == 0) {
          width[ux] = p.abits;  // a graph input arrives at its first consumer's width
        } else if (width[ux] != p.abits && requant_to[ux] != p.abits) {
          // Precision boundary: a vector-unit pass converts the tensor once per new width.
          const int64_t elems = numel(x);
          LayerTiming r = time_vector_op(elems, bytes(width[ux], elems), bytes(p.abits, elems), hw, n.name);
          r.name = n.name + ".requant";
          r.op = "Requantize";
          r.requant = true;
          r.wbits = width[ux];
          r.abits = p.abits;
          rep.layers.push_back(std::move(r));
          requant_to[ux] = p.abits;
        }
      }
      const LayerStats st = graph.stats(id);
      const MapRequest req{st.gemm, st.operands.ifmap, p.wbits, p.abits, p.abits};
      LayerTiming row = time_schedule(map_layer(req, hw, n.name), hw, n.name);
      row.name = n.name;
      row.op = op_name(n.op);
      row.wbits = p.wbits;
      row.abits = p.abits;
      rep.layers.push_back(std::move(row));
      for (ValueId o : n.outputs) width[static_cast<std::size_t>(o)] = p.abits;  // output stage emits abits
      output_stage[uid] = 1;
      continue;
    }

    // Non-compute op: runs at the widest of its activation inputs.
    int w = 0;
    bool after_output_stage = false;
    for (ValueId v : n.inputs) {
      if (!is_activation(v)) continue;
      int& wv = width[static_cast<std::size_t>(v)];
      if (wv == 0) wv = default_width;
      w = std::max(w, wv);
      const NodeId prod = graph.producer(v);
      if (prod >= 0 && output_stage[static_cast<std::size_t>(prod)]) after_output_stage = true;
    }
    if (w == 0) w = default_width;
    for (ValueId o : n.outputs) width[static_cast<std::size_t>(o)] = w;

    const VectorKind kind = vector_kind(n.op);
    if (kind == VectorKind::kFree) {
      output_stage[uid] = after_output_stage ? 1 : 0;  // a view of an output-stage result
      continue;
    }
    if (kind == VectorKind::kElementwise && hw.vector.fuse_elementwise && after_output_stage) {
      output_stage[uid] = 1;  // applied by the producer's output stage as it writes
      continue;
    }
    int64_t rd = 0, wr = 0;
    for (ValueId v : n.inputs)
      if (is_activation(v)) rd += bytes(width[static_cast<std::size_t>(v)], numel(v));
    for (ValueId o : n.outputs) wr += bytes(w, numel(o));
    LayerTiming row = time_vector_op(vector_ops(graph, n), rd, wr, hw, n.name);
    row.name = n.name;
    row.op = op_name(n.op);
    row.wbits = w;
    row.abits = w;
    rep.layers.push_back(std::move(row));
  }
  return rep;
}

}  // namespace qsim
