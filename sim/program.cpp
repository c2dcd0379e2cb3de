#include "sim/program.h"

#include <cmath>

#include "graph/error.h"

namespace qsim {

namespace {

void check_memory(const HwSpec& hw) {
  const MemorySpec& m = hw.memory;
  if (!m.dram_unlimited && !(m.dram_bytes_per_cycle > 0.0))
    fail("{}: memory.dram_bytes_per_cycle must be positive (or 'unlimited'), got {}", hw_where(hw),
         m.dram_bytes_per_cycle);
  if (m.dram_latency_cycles < 0)
    fail("{}: memory.dram_latency_cycles must not be negative, got {}", hw_where(hw), m.dram_latency_cycles);
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

// Elements the vector unit processes for a standalone op: one per output element,
// times the window for pooling and LRN (every input of every window is visited).
int64_t vector_ops(const LayerGraph& g, const Node& n) {
  const int64_t out = n.outputs.empty() || n.outputs[0] < 0 ? 0 : shape_numel(g.value(n.outputs[0]).shape);
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

// Overflow guard. Every count a timing produces (cycles, stalls, bytes per operand,
// vector ops) is an int64 sum of products of a layer's sizes and the array's.
// Instead of checking each product, a conservative bound of each layer's counts is
// computed in long double first: a layer whose bound exceeds 2^60, or a model whose
// layers together exceed 2^62, is refused (qsim::Error naming the model and layer)
// before any int64 arithmetic can overflow. Real networks are many orders of
// magnitude below (resnet50 on tpu-like.yaml: about 2^33).
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
      // Spread over rows, over columns, streamed: os M, N, K; ws K, N, M; is K, M, N
      // (K before packing: an upper bound).
      LD rows_span = M, cols_span = N, stream = K;
      if (hw.array.dataflow == Dataflow::kWS) rows_span = K, cols_span = N, stream = M;
      if (hw.array.dataflow == Dataflow::kIS) rows_span = K, cols_span = M, stream = N;
      const LD folds = rep * std::max(1.0L, ceil_div(rows_span, R)) * std::max(1.0L, ceil_div(cols_span, C));
      const LD steps = std::max(1.0L, stream) + 1;  // chunks <= stream: one more fill/drain per chunk at most
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

// ---------------------------------------------------------------- fold walk

Overlap overlap_of(const MemorySpec& m) {
  if (m.dram_unlimited) return Overlap::kNone;
  return m.double_buffer ? Overlap::kDoubleBuffer : Overlap::kSerial;
}

namespace {
// bytes_per_cycle when it is a whole number of bytes (exact integer ceil), else 0.
int64_t whole(double bytes_per_cycle) {
  return bytes_per_cycle >= 1.0 && bytes_per_cycle < 9.0e15 && bytes_per_cycle == std::floor(bytes_per_cycle)
             ? static_cast<int64_t>(bytes_per_cycle)
             : 0;
}
}  // namespace

int64_t dram_transfer_cycles(int64_t bytes, double bytes_per_cycle) {
  if (bytes <= 0) return 0;
  if (const int64_t bw = whole(bytes_per_cycle)) return (bytes + bw - 1) / bw;
  const double q = static_cast<double>(bytes) / bytes_per_cycle;
  const double r = std::round(q);
  // bytes / bw can land a hair above an exact integer (3 / 0.1 = 30.000000000000004).
  if (std::fabs(q - r) <= 1e-9 * std::max(1.0, q)) return static_cast<int64_t>(r);
  return static_cast<int64_t>(std::ceil(q));
}

FoldWalk::FoldWalk(const Schedule& s, const MemorySpec& m)
    : s_(&s),
      overlap_(overlap_of(m)),
      bytes_per_cycle_(m.dram_bytes_per_cycle),
      whole_bytes_per_cycle_(whole(m.dram_bytes_per_cycle)),
      latency_(m.dram_latency_cycles) {}

int64_t FoldWalk::stages() const {
  const int64_t F = s_->folds();
  switch (overlap_) {
    case Overlap::kNone: return F;
    case Overlap::kDoubleBuffer: return F + 2;
    case Overlap::kSerial: return 3 * F;
  }
  return F;
}

FoldStage FoldWalk::stage(int64_t i) const {
  const int64_t F = s_->folds();
  FoldStage st;
  auto in = [&](int64_t f) {
    st.in_fold = f;
    st.dram_in = s_->fold(f).dram_in();
  };
  auto out = [&](int64_t f) {
    st.out_fold = f;
    st.dram_out = s_->fold(f).dram_out();
  };
  auto compute = [&](int64_t f) {
    st.fold = f;
    st.compute_cycles = s_->fold(f).cycles;
  };
  switch (overlap_) {
    case Overlap::kNone:
      compute(i);
      in(i);
      out(i);
      break;
    case Overlap::kSerial:
      switch (i % 3) {
        case 0:
          in(i / 3);
          st.latency = st.dram_in > 0;
          break;
        case 1: compute(i / 3); break;
        default: out(i / 3); break;
      }
      break;
    case Overlap::kDoubleBuffer:
      if (i == 0) {
        in(0);
        st.latency = st.dram_in > 0;
      } else if (i == F + 1) {
        out(F - 1);
      } else {
        const int64_t f = i - 1;
        compute(f);
        if (f + 1 < F) in(f + 1);
        if (f > 0) out(f - 1);
      }
      break;
  }
  return st;
}

int64_t FoldWalk::stage_cycles(const FoldStage& st) const {
  if (overlap_ == Overlap::kNone) return st.compute_cycles;
  const int64_t bytes = st.dram_in + st.dram_out, bw = whole_bytes_per_cycle_;
  const int64_t transfer = bw > 0 ? (bytes + bw - 1) / bw : dram_transfer_cycles(bytes, bytes_per_cycle_);
  return (st.latency ? latency_ : 0) + std::max(st.compute_cycles, transfer);
}

int64_t FoldWalk::total_cycles() const {
  int64_t t = 0;
  for_each_stage([&](const FoldStage& st) { t += stage_cycles(st); });
  return t;
}

// ---------------------------------------------------------------- lowering

Lowering::Lowering(const LayerGraph& g, const HwSpec& hw)
    : g_(&g), hw_(&hw), rule_(g, hw.vector.fuse_elementwise) {
  check_memory(hw);
  check_timing_bounds(g, hw);
  requests_.reserve(rule_.layers());
  for (std::size_t i = 0; i < rule_.layers(); ++i) {
    const LayerStats st = g.stats(rule_.layer_node(i));
    requests_.push_back({st.gemm, st.operands.ifmap, 8, 8, 8});
  }
  numel_.resize(g.values().size());
  for (std::size_t v = 0; v < numel_.size(); ++v) numel_[v] = shape_numel(g.values()[v].shape);
  vector_ops_.assign(g.nodes().size(), 0);
  for (std::size_t n = 0; n < g.nodes().size(); ++n)
    if (rule_.role(static_cast<NodeId>(n)) == NodeRole::kVector) vector_ops_[n] = vector_ops(g, g.nodes()[n]);
}

ComputeStep Lowering::compute_step(std::size_t layer, int wbits, int abits) const {
  ComputeStep c;
  c.layer = layer;
  c.node = rule_.layer_node(layer);
  c.wbits = wbits;
  c.abits = abits;
  MapRequest req = requests_[layer];
  req.wbits = wbits;
  req.abits = abits;
  req.obits = abits;  // the output stage emits the layer's activation width
  c.schedule = map_layer(req, *hw_, g_->node(c.node).name);
  return c;
}

RequantizeStep Lowering::requantize_step(ValueId value, std::size_t first_layer, int from_bits, int to_bits) const {
  RequantizeStep r;
  r.value = value;
  r.first_layer = first_layer;
  r.before = rule_.layer_node(first_layer);
  r.from_bits = from_bits;
  r.to_bits = to_bits;
  r.elems = numel_[static_cast<std::size_t>(value)];
  r.read_bytes = bytes(from_bits, r.elems);
  r.write_bytes = bytes(to_bits, r.elems);
  return r;
}

Program Lowering::lower(std::span<const LayerPrecision> precision) const {
  if (precision.size() != rule_.layers())
    fail("precision: {} entries for the {} compute layers of model '{}'", precision.size(), rule_.layers(), g_->name);
  const PrecisionPlan plan = rule_.plan(precision);
  Program p;
  p.steps.reserve(g_->nodes().size() + plan.requants.size());
  for (NodeId id : g_->topo_order()) {
    const int layer = rule_.layer_of(id);
    if (layer >= 0) {
      const auto i = static_cast<std::size_t>(layer);
      const int r = plan.input_requant[i];
      if (r >= 0 && plan.requants[static_cast<std::size_t>(r)].first_layer == i) {
        const Requantization& q = plan.requants[static_cast<std::size_t>(r)];
        p.steps.emplace_back(requantize_step(q.value, i, q.from_bits, q.to_bits));
      }
      p.steps.emplace_back(compute_step(i, precision[i].wbits, precision[i].abits));
    } else if (rule_.role(id) == NodeRole::kVector) {
      p.steps.emplace_back(vector_step(id, [&](ValueId v) { return plan.width[static_cast<std::size_t>(v)]; }));
    }
  }
  p.width = plan.width;
  p.groups.assign(rule_.groups().begin(), rule_.groups().end());
  p.roles.resize(g_->nodes().size());
  for (std::size_t n = 0; n < p.roles.size(); ++n) p.roles[n] = rule_.role(static_cast<NodeId>(n));
  return p;
}

Program lower(const LayerGraph& g, std::span<const LayerPrecision> precision, const HwSpec& hw) {
  return Lowering(g, hw).lower(precision);
}

}  // namespace qsim
