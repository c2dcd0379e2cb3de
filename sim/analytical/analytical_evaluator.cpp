#include "sim/analytical/analytical_evaluator.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "graph/error.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/program.h"

namespace qsim {

// The parts of the evaluator's State. A named namespace, not an anonymous one: State
// has external linkage, and GCC warns (-Wsubobject-linkage) when its fields' types have
// none, which it checks wherever this file is included (the unity build includes it).
namespace evaluator_parts {

// What one step adds to the totals.
struct StepCost {
  int64_t total = 0, compute = 0, stall = 0, vector = 0, sram = 0, dram = 0;
  double energy = 0.0;
};

StepCost cost_of(const LayerTiming& t) {
  return {t.total_cycles, t.compute_cycles, t.stall_cycles, t.vector_cycles, t.sram_bytes(), t.dram_bytes(),
          t.energy_pj()};
}

constexpr int kMaxBits = 32;  // widths 1..32 are memoised (PrecisionAlloc's range)

// Compressed rows: row i of a CSR table.
struct Csr {
  std::vector<uint32_t> off{0};
  std::vector<uint32_t> data;
  void push_row(const std::vector<uint32_t>& r) {
    data.insert(data.end(), r.begin(), r.end());
    off.push_back(static_cast<uint32_t>(data.size()));
  }
  std::span<const uint32_t> row(std::size_t i) const {
    return std::span<const uint32_t>(data).subspan(off[i], off[i + 1] - off[i]);
  }
};

}  // namespace evaluator_parts

using namespace evaluator_parts;

struct AnalyticalEvaluator::State {
  const LayerGraph* g = nullptr;
  HwSpec hw;
  std::optional<Lowering> low;
  std::size_t n = 0;  // compute layers
  bool evaluated = false;

  std::vector<LayerPrecision> prec;
  std::vector<int> width;         // per value: current stored width
  std::vector<StepCost> compute;  // per layer
  std::vector<StepCost> requant;  // per layer: the conversion run before it (zero: none)
  std::vector<uint8_t> has_requant;
  std::vector<NodeId> vector_nodes;
  std::vector<StepCost> vector;      // per vector node
  std::vector<const double*> energy_order;  // step energies in program order
  EvalTotals totals;

  // Memo: (layer, wbits, abits) -> index into costs (>= 0), -1 unknown, -2 - k: errors[k].
  std::vector<int32_t> memo;
  std::vector<StepCost> costs;
  std::vector<std::string> errors;
  int last_error = -1;

  // Dependencies of a layer's abits (graph/precision_plan.h width sources).
  Csr dep_values;   // values whose stored width depends on the layer
  Csr dep_sites;    // values whose readers' conversions must be re-derived
  Csr dep_vectors;  // indices into vector_nodes

  int32_t& memo_at(std::size_t layer, int w, int a) {
    return memo[(layer * kMaxBits + static_cast<std::size_t>(w - 1)) * kMaxBits + static_cast<std::size_t>(a - 1)];
  }

  // The memoised Compute step cost, or -1 with last_error set.
  int32_t compute_cost(std::size_t layer, int w, int a) {
    if (w < 1 || w > kMaxBits || a < 1 || a > kMaxBits) {
      errors.push_back(fmt::format("layer '{}': widths must be 1..{} (wbits {}, abits {})",
                                   g->node(low->rule().layer_node(layer)).name, kMaxBits, w, a));
      last_error = static_cast<int>(errors.size()) - 1;
      return -1;
    }
    const int32_t m = memo_at(layer, w, a);
    if (m >= 0) return m;
    if (m <= -2) {
      last_error = -2 - m;
      return -1;
    }
    int32_t result;
    try {
      const ComputeStep c = low->compute_step(layer, w, a);
      const LayerTiming t = time_schedule(c.schedule, hw, g->node(c.node).name);
      result = static_cast<int32_t>(costs.size());
      costs.push_back(cost_of(t));
    } catch (const Error& e) {
      errors.emplace_back(e.what());
      last_error = static_cast<int>(errors.size()) - 1;
      result = -2 - last_error;
    }
    memo_at(layer, w, a) = result;
    return result >= 0 ? result : -1;
  }

  void add(const StepCost& c, int64_t sign) {
    totals.total_cycles += sign * c.total;
    totals.compute_cycles += sign * c.compute;
    totals.stall_cycles += sign * c.stall;
    totals.vector_cycles += sign * c.vector;
    totals.sram_bytes += sign * c.sram;
    totals.dram_bytes += sign * c.dram;
  }
  void replace(StepCost& slot, const StepCost& c) {
    add(slot, -1);
    slot = c;
    add(slot, 1);
  }

  // The conversions of value x's readers: one per new width, run before the first
  // reader at that width (graph/precision_plan.h).
  void derive_site(ValueId x) {
    const int stored = width[static_cast<std::size_t>(x)];
    const int64_t elems = shape_numel(g->value(x).shape);
    uint64_t seen = 0;
    for (uint32_t r : low->rule().readers(x)) {
      const int to = prec[r].abits;
      const uint64_t bit = uint64_t{1} << (to & 63);
      StepCost c;
      bool now = false;
      if (to != stored && !(seen & bit)) {
        seen |= bit;
        now = true;
        const RequantizeStep q = low->requantize_step(x, r, stored, to);
        c = cost_of(time_vector_op(elems, q.read_bytes, q.write_bytes, hw, "requantize"));
      }
      replace(requant[r], c);
      totals.requant_boundaries += static_cast<int>(now) - static_cast<int>(has_requant[r]);
      has_requant[r] = now;
    }
  }

  void derive_vector(std::size_t k) {
    const VectorStep v =
        low->vector_step(vector_nodes[k], [&](ValueId x) { return width[static_cast<std::size_t>(x)]; });
    replace(vector[k], cost_of(time_vector_op(v.ops, v.read_bytes, v.write_bytes, hw, "vector")));
  }

  void finish() {
    double e = 0.0;
    for (const double* p : energy_order) e += *p;
    totals.energy_pj = e;
    totals.latency_ms =
        hw.array.clock_mhz > 0 ? static_cast<double>(totals.total_cycles) / (hw.array.clock_mhz * 1e3) : 0.0;
  }
};

AnalyticalEvaluator::AnalyticalEvaluator() = default;
AnalyticalEvaluator::~AnalyticalEvaluator() = default;
AnalyticalEvaluator::AnalyticalEvaluator(AnalyticalEvaluator&&) noexcept = default;
AnalyticalEvaluator& AnalyticalEvaluator::operator=(AnalyticalEvaluator&&) noexcept = default;

void AnalyticalEvaluator::prepare(const LayerGraph& graph, const HwSpec& hw) {
  auto s = std::make_unique<State>();
  s->g = &graph;
  s->hw = hw;
  s->low.emplace(graph, s->hw);
  const Lowering& low = *s->low;
  const PrecisionRule& rule = low.rule();
  const std::size_t n = rule.layers(), nv = graph.values().size(), nn = graph.nodes().size();
  s->n = n;

  // Steps in program order: per compute layer its conversion (if any) then itself;
  // vector nodes where they stand.
  std::vector<int> vector_of(nn, -1);
  for (NodeId id : graph.topo_order())
    if (rule.role(id) == NodeRole::kVector) {
      vector_of[static_cast<std::size_t>(id)] = static_cast<int>(s->vector_nodes.size());
      s->vector_nodes.push_back(id);
    }
  // The vector unit runs vector steps and conversions; a conversion can appear when
  // some reader of a tensor is not the only layer its stored width comes from.
  bool needs_vector_unit = !s->vector_nodes.empty();
  for (std::size_t v = 0; v < nv && !needs_vector_unit; ++v) {
    const auto src = rule.width_sources(static_cast<ValueId>(v));
    for (uint32_t r : rule.readers(static_cast<ValueId>(v)))
      needs_vector_unit = needs_vector_unit || !(src.size() == 1 && src[0] == r);
  }
  if (hw.vector.lanes < 1 && needs_vector_unit)
    fail("{}: vector.lanes must be positive: model '{}' needs the vector unit",
         hw.source.empty() ? hw.name : hw.source, graph.name);

  s->compute.assign(n, {});
  s->requant.assign(n, {});
  s->has_requant.assign(n, 0);
  s->vector.assign(s->vector_nodes.size(), {});
  for (NodeId id : graph.topo_order()) {
    const int l = rule.layer_of(id);
    if (l >= 0) {
      s->energy_order.push_back(&s->requant[static_cast<std::size_t>(l)].energy);
      s->energy_order.push_back(&s->compute[static_cast<std::size_t>(l)].energy);
    } else if (vector_of[static_cast<std::size_t>(id)] >= 0) {
      s->energy_order.push_back(&s->vector[static_cast<std::size_t>(vector_of[static_cast<std::size_t>(id)])].energy);
    }
  }

  // Dependencies of each layer's abits.
  std::vector<std::vector<uint32_t>> values(n), sites(n), vectors(n);
  for (std::size_t v = 0; v < nv; ++v)
    for (uint32_t l : rule.width_sources(static_cast<ValueId>(v))) values[l].push_back(static_cast<uint32_t>(v));
  std::vector<uint8_t> touched(nv, 0);
  for (std::size_t l = 0; l < n; ++l) {
    for (uint32_t v : values[l]) touched[v] = 1;
    auto site = [&](ValueId x) {
      if (x >= 0 && !rule.readers(x).empty()) sites[l].push_back(static_cast<uint32_t>(x));
    };
    site(rule.layer_input(l));
    for (uint32_t v : values[l]) site(static_cast<ValueId>(v));
    for (std::size_t k = 0; k < s->vector_nodes.size(); ++k) {
      const Node& node = graph.node(s->vector_nodes[k]);
      bool hit = false;
      for (ValueId x : node.inputs) hit = hit || (x >= 0 && touched[static_cast<std::size_t>(x)]);
      for (ValueId x : node.outputs) hit = hit || (x >= 0 && touched[static_cast<std::size_t>(x)]);
      if (hit) vectors[l].push_back(static_cast<uint32_t>(k));
    }
    for (uint32_t v : values[l]) touched[v] = 0;
    std::sort(sites[l].begin(), sites[l].end());
    sites[l].erase(std::unique(sites[l].begin(), sites[l].end()), sites[l].end());
    s->dep_values.push_row(values[l]);
    s->dep_sites.push_row(sites[l]);
    s->dep_vectors.push_row(vectors[l]);
  }

  s->memo.assign(n * kMaxBits * kMaxBits, -1);
  s->costs.reserve(n * 9);
  s->prec.assign(n, LayerPrecision{});
  s->width.assign(nv, 0);
  s_ = std::move(s);
}

Evaluation AnalyticalEvaluator::evaluate(std::span<const LayerPrecision> precision) {
  if (!s_) throw std::logic_error("AnalyticalEvaluator::evaluate before prepare");
  State& s = *s_;
  if (precision.size() != s.n)
    fail("precision: {} entries for the {} compute layers of model '{}'", precision.size(), s.n, s.g->name);
  // Every Compute step first: a refused width changes nothing.
  for (std::size_t i = 0; i < s.n; ++i)
    if (s.compute_cost(i, precision[i].wbits, precision[i].abits) < 0)
      return {EvalStatus::kUnsupported, i, s.totals};
  s.prec.assign(precision.begin(), precision.end());
  s.totals = {};
  for (std::size_t i = 0; i < s.n; ++i) {
    s.compute[i] = s.costs[static_cast<std::size_t>(s.memo_at(i, s.prec[i].wbits, s.prec[i].abits))];
    s.add(s.compute[i], 1);
    s.requant[i] = {};
    s.has_requant[i] = 0;
  }
  const PrecisionRule& rule = s.low->rule();
  for (std::size_t v = 0; v < s.width.size(); ++v) s.width[v] = rule.width(static_cast<ValueId>(v), s.prec);
  for (std::size_t v = 0; v < s.width.size(); ++v)
    if (!rule.readers(static_cast<ValueId>(v)).empty()) s.derive_site(static_cast<ValueId>(v));
  for (std::size_t k = 0; k < s.vector_nodes.size(); ++k) {
    s.vector[k] = {};
    s.derive_vector(k);
  }
  s.finish();
  s.evaluated = true;
  return {EvalStatus::kOk, 0, s.totals};
}

Evaluation AnalyticalEvaluator::update(std::size_t layer, int wbits, int abits) {
  if (!s_ || !s_->evaluated) throw std::logic_error("AnalyticalEvaluator::update before a successful evaluate");
  State& s = *s_;
  if (layer >= s.n) throw std::out_of_range("AnalyticalEvaluator::update: no such compute layer");
  const int32_t c = s.compute_cost(layer, wbits, abits);
  if (c < 0) return {EvalStatus::kUnsupported, layer, s.totals};
  s.replace(s.compute[layer], s.costs[static_cast<std::size_t>(c)]);
  LayerPrecision& p = s.prec[layer];
  p.wbits = wbits;
  if (abits != p.abits) {
    p.abits = abits;
    const PrecisionRule& rule = s.low->rule();
    for (uint32_t v : s.dep_values.row(layer)) s.width[v] = rule.width(static_cast<ValueId>(v), s.prec);
    for (uint32_t x : s.dep_sites.row(layer)) s.derive_site(static_cast<ValueId>(x));
    for (uint32_t k : s.dep_vectors.row(layer)) s.derive_vector(k);
  }
  s.finish();
  return {EvalStatus::kOk, 0, s.totals};
}

std::optional<int64_t> AnalyticalEvaluator::compute_step_cycles(std::size_t layer, int wbits, int abits) {
  if (!s_) throw std::logic_error("AnalyticalEvaluator::compute_step_cycles before prepare");
  if (layer >= s_->n) throw std::out_of_range("AnalyticalEvaluator::compute_step_cycles: no such compute layer");
  const int32_t c = s_->compute_cost(layer, wbits, abits);
  if (c < 0) return std::nullopt;
  return s_->costs[static_cast<std::size_t>(c)].total;
}

const EvalTotals& AnalyticalEvaluator::totals() const {
  if (!s_) throw std::logic_error("AnalyticalEvaluator::totals before prepare");
  return s_->totals;
}

std::span<const LayerPrecision> AnalyticalEvaluator::precision() const {
  if (!s_) return {};
  return s_->prec;
}

std::size_t AnalyticalEvaluator::layers() const { return s_ ? s_->n : 0; }

std::string_view AnalyticalEvaluator::error() const {
  if (!s_ || s_->last_error < 0) return {};
  return s_->errors[static_cast<std::size_t>(s_->last_error)];
}

}  // namespace qsim
