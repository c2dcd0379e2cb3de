#include "search/optimum.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "graph/precision_plan.h"
#include "search/knapsack.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/program.h"

namespace qsim {

EstimateOptimum estimate_optimum(const SearchProblem& p, const HwSpec& hw, AnalyticalEvaluator& ev,
                                 std::span<const std::vector<double>> est, double lambda, int64_t cycles8,
                                 std::optional<int64_t> max_cycles) {
  EstimateOptimum out;
  const LayerGraph& g = p.graph();
  const double c8 = static_cast<double>(cycles8);
  std::vector<std::vector<uint32_t>> layers(p.groups());
  for (std::size_t gi = 0; gi < p.groups(); ++gi)
    for (std::size_t l : p.group(gi).layers) layers[gi].push_back(static_cast<uint32_t>(l));

  // Options: each group's Compute steps.
  std::vector<std::vector<KnapsackOption>> items(p.groups());
  for (std::size_t gi = 0; gi < p.groups(); ++gi)
    for (std::size_t o = 0; o < p.options(gi).size(); ++o) {
      const WidthOption w = p.options(gi)[o];
      int64_t cy = 0;
      bool ok = true;
      for (uint32_t l : layers[gi]) {
        ++out.compute_timings;
        const auto c = ev.compute_step_cycles(l, w.wbits, w.abits);
        ok = ok && c.has_value();
        cy += c.value_or(0);
      }
      items[gi].push_back({cy, est[gi][o] + lambda * static_cast<double>(cy) / c8, ok});
    }

  // Factors: every Requantize site and Vector step, over the groups whose widths
  // decide it. Their costs are timed as the evaluator times them (the same Lowering
  // steps and time_vector_op).
  const Lowering low(g, hw);
  const PrecisionRule& rule = low.rule();
  auto scratch = std::make_shared<std::vector<LayerPrecision>>(p.layers(), LayerPrecision{8, 8, true});
  const auto scope_of = [&](const std::vector<ValueId>& values, bool with_readers) {
    std::vector<uint32_t> s;
    for (ValueId x : values) {
      for (uint32_t l : rule.width_sources(x)) s.push_back(static_cast<uint32_t>(p.group_of(l)));
      if (with_readers)
        for (uint32_t l : rule.readers(x)) s.push_back(static_cast<uint32_t>(p.group_of(l)));
    }
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    return s;
  };
  // Sets the widths of the scope's layers in the scratch allocation.
  const auto set_scope = [&p, &layers, scratch](std::span<const uint32_t> scope, std::span<const uint8_t> options) {
    for (std::size_t k = 0; k < scope.size(); ++k) {
      const WidthOption w = p.options(scope[k])[options[k]];
      for (uint32_t l : layers[scope[k]]) (*scratch)[l] = {w.wbits, w.abits, true};
    }
  };
  const auto cost = [lambda, c8](int64_t cycles) {
    return KnapsackOption{cycles, lambda * static_cast<double>(cycles) / c8, true};
  };
  std::vector<KnapsackFactor> factors;
  for (std::size_t v = 0; v < g.values().size(); ++v) {
    const auto x = static_cast<ValueId>(v);
    const auto readers = rule.readers(x);
    if (readers.empty() || !rule.is_activation(x)) continue;
    KnapsackFactor f;
    f.scope = scope_of({x}, true);
    const std::vector<uint32_t> scope = f.scope;
    // One conversion per new width, as AnalyticalEvaluator derives them.
    f.cost = [=, &rule, &low, &hw](std::span<const uint8_t> options) {
      set_scope(scope, options);
      const int stored = rule.width(x, *scratch);
      uint64_t seen = 0;
      int64_t cycles = 0;
      for (uint32_t r : readers) {
        const int to = (*scratch)[r].abits;
        const uint64_t bit = uint64_t{1} << (to & 63);
        if (to == stored || (seen & bit)) continue;
        seen |= bit;
        const RequantizeStep q = low.requantize_step(x, r, stored, to);
        cycles += time_vector_op(q.elems, q.read_bytes, q.write_bytes, hw, "requantize").total_cycles;
      }
      return cost(cycles);
    };
    factors.push_back(std::move(f));
  }
  for (NodeId id : g.topo_order()) {
    if (rule.role(id) != NodeRole::kVector) continue;
    std::vector<ValueId> values;
    for (ValueId x : g.node(id).inputs)
      if (rule.is_activation(x)) values.push_back(x);
    for (ValueId x : g.node(id).outputs)
      if (rule.is_activation(x)) values.push_back(x);
    KnapsackFactor f;
    f.scope = scope_of(values, false);
    const std::vector<uint32_t> scope = f.scope;
    f.cost = [=, &rule, &low, &hw](std::span<const uint8_t> options) {
      set_scope(scope, options);
      const VectorStep vs = low.vector_step(id, [&](ValueId y) { return rule.width(y, *scratch); });
      return cost(time_vector_op(vs.ops, vs.read_bytes, vs.write_bytes, hw, "vector").total_cycles);
    };
    factors.push_back(std::move(f));
  }
  out.factors = static_cast<int64_t>(factors.size());

  const KnapsackResult dp = multiple_choice_knapsack(items, factors, max_cycles);
  out.exact = dp.exact;
  out.largest_states = dp.largest_states;
  out.largest_front = dp.largest_front;
  out.factor_timings = dp.factor_evaluations;
  if (dp.points.empty()) return out;
  // Pareto mode: the least value within the limit is the front's last point.
  const KnapsackPoint& q = dp.points.back();
  const Evaluation e = ev.evaluate(p.precision(q.choice));
  if (!e.ok() || e.totals.total_cycles != q.weight)
    throw std::logic_error(fmt::format("estimate_optimum: the DP's {} cycles differ from the evaluator's {}", q.weight,
                                       e.ok() ? e.totals.total_cycles : -1));
  out.option = q.choice;
  out.cycles = q.weight;
  out.value = q.value;
  return out;
}

}  // namespace qsim
