#include "search/quantune.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/precision_plan.h"
#include "sim/analytical/analytical_evaluator.h"

namespace qsim {

std::vector<FusedGroup> fused_groups(const LayerGraph& g, bool fuse_elementwise) {
  const PrecisionRule rule(g, fuse_elementwise);
  std::vector<FusedGroup> groups;
  groups.reserve(rule.groups().size());
  for (const LayerGroup& lg : rule.groups()) {
    FusedGroup& gr = groups.emplace_back();
    gr.layers = lg.layers;
    for (std::size_t l : lg.layers) gr.names.push_back(g.node(rule.layer_node(l)).name);
    for (NodeId n : lg.fused) gr.fused.push_back(g.node(n).name);
  }
  return groups;
}

double weight_bytes(const LayerGraph& g, std::span<const LayerPrecision> precision) {
  const auto compute = g.compute_layers();
  double bytes = 0;
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const Node& n = g.node(compute[i]);
    if (n.inputs.size() < 2 || n.inputs[1] < 0 || !g.value(n.inputs[1]).is_constant) continue;
    bytes += static_cast<double>(shape_numel(g.value(n.inputs[1]).shape)) * precision[i].wbits / 8.0;
  }
  return bytes;
}

AllocateResult allocate_precision(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o) {
  const auto compute = g.compute_layers();
  if (compute.empty()) fail("model '{}' has no compute layers to allocate", g.name);
  for (int b : {o.high_bits, o.low_bits, o.abits})
    if (b != 0 && (b < kMinQuantBits || b > kMaxQuantBits))
      fail("width {} is outside {}..{}, the widths qsim quantizes", b, kMinQuantBits, kMaxQuantBits);
  if (o.high_bits <= o.low_bits) fail("the high width ({}) must exceed the low width ({})", o.high_bits, o.low_bits);
  // A sensitivity read from a file is named by it: it may be another model's or another run's.
  const std::string sens = s.source.empty() ? std::string("the sensitivity") : s.source;
  const int wi = s.width_index(o.low_bits);
  if (wi < 0)
    fail("{} has no rows at the low width {} (it has {}); measure it with --bits including {}", sens, o.low_bits,
         fmt::join(s.bits, ","), o.low_bits);
  if (s.abits != o.abits)
    fail("{} was measured with activations at {}, the allocation asks for {}", sens,
         s.abits ? std::to_string(s.abits) + " bits" : "the candidate width",
         o.abits ? std::to_string(o.abits) + " bits" : "the weight width");
  if (o.latency_budget_ms && !o.hw) fail("a latency budget needs a hardware config (--hw)");

  // Scores by compute layer (layers without constant weights: unscored, kept high).
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < compute.size(); ++i) by_name[g.node(compute[i]).name] = i;
  std::vector<double> score(compute.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    const auto it = by_name.find(s.layers[l]);
    if (it == by_name.end())
      fail("{} (model '{}') names layer '{}', which is not a compute layer of '{}'", sens, s.model, s.layers[l],
           g.name);
    score[it->second] = s.at(static_cast<std::size_t>(wi), l).score;
  }

  AllocateResult r;
  r.groups = fused_groups(g, o.hw ? o.hw->vector.fuse_elementwise : true);
  const std::size_t ng = r.groups.size();
  std::vector<std::size_t> group_of(compute.size());
  for (std::size_t gi = 0; gi < ng; ++gi)
    for (std::size_t l : r.groups[gi].layers) group_of[l] = gi;

  // Forced widths.
  std::vector<int> forced(ng, 0);
  std::vector<std::string> forced_by(ng);
  auto force = [&](std::size_t layer, int bits, const std::string& why) {
    const std::size_t gi = group_of[layer];
    if (forced[gi] && forced[gi] != bits)
      fail("{} forces layer '{}' to {} bits, but {} puts its fused group at {} bits", why, g.node(compute[layer]).name,
           bits, forced_by[gi], forced[gi]);
    forced[gi] = bits;
    forced_by[gi] = why;
  };
  for (std::size_t i = 0; i < compute.size(); ++i)
    if (std::isnan(score[i])) force(i, o.high_bits, "an unscored layer (no constant weights)");
  if (o.keep_first_last) {
    force(0, o.high_bits, "keeping the first compute layer");
    force(compute.size() - 1, o.high_bits, "keeping the last compute layer");
  }
  for (const auto& [name, bits] : o.keep) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) fail("--keep {}={}: '{}' is not a compute layer of '{}' (see qsim info)", name, bits, name, g.name);
    if (bits < kMinQuantBits || bits > kMaxQuantBits)
      fail("--keep {}={}: width outside {}..{}", name, bits, kMinQuantBits, kMaxQuantBits);
    // A user's entry overrides the first/last default.
    const std::size_t gi = group_of[it->second];
    if (forced_by[gi].starts_with("keeping the")) forced[gi] = 0;
    force(it->second, bits, fmt::format("--keep {}={}", name, bits));
  }
  for (std::size_t gi = 0; gi < ng; ++gi) {
    double m = -std::numeric_limits<double>::infinity();
    for (std::size_t l : r.groups[gi].layers)
      if (!std::isnan(score[l])) m = std::max(m, score[l]);
    r.groups[gi].score = std::isfinite(m) ? m : 0.0;
  }

  // State: weight width per group; precision per layer.
  r.group_bits.assign(ng, o.low_bits);
  r.forced.assign(ng, 0);
  for (std::size_t gi = 0; gi < ng; ++gi)
    if (forced[gi]) {
      r.group_bits[gi] = forced[gi];
      r.forced[gi] = 1;
    }
  auto precision_of = [&](const std::vector<int>& gb) {
    std::vector<LayerPrecision> p(compute.size());
    for (std::size_t i = 0; i < compute.size(); ++i) {
      const int wb = gb[group_of[i]];
      p[i] = {wb, o.abits ? o.abits : wb, o.per_channel};
    }
    return p;
  };
  auto high_layers = [&](const std::vector<int>& gb) {
    int64_t n = 0;
    for (std::size_t gi = 0; gi < ng; ++gi)
      if (gb[gi] >= o.high_bits) n += static_cast<int64_t>(r.groups[gi].layers.size());
    return n;
  };
  // Candidate allocations are timed by the incremental evaluator: the analytical
  // backend's totals, each (layer, widths) mapped once for all candidates.
  AnalyticalEvaluator evaluator;
  if (o.hw) evaluator.prepare(g, *o.hw);
  auto latency = [&](const std::vector<int>& gb) {
    const Evaluation e = evaluator.evaluate(precision_of(gb));
    if (!e.ok()) fail("{}", evaluator.error());
    return e.totals.latency_ms;
  };
  auto fits = [&](const std::vector<int>& gb) {
    if (o.high_count && high_layers(gb) > *o.high_count) return false;
    if (o.size_budget_kib && weight_bytes(g, precision_of(gb)) / 1024.0 > *o.size_budget_kib + 1e-9) return false;
    if (o.latency_budget_ms && latency(gb) > *o.latency_budget_ms) return false;
    return true;
  };
  // The forced layers with every other group low must fit the budgets (a count
  // below the forced layers is not an error: nothing more is raised).
  if (o.size_budget_kib && weight_bytes(g, precision_of(r.group_bits)) / 1024.0 > *o.size_budget_kib + 1e-9)
    fail("--size-budget-kib {}: the weights take {:.2f} KiB with every free group at {} bits", *o.size_budget_kib,
         weight_bytes(g, precision_of(r.group_bits)) / 1024.0, o.low_bits);
  if (o.latency_budget_ms && latency(r.group_bits) > *o.latency_budget_ms)
    fail("--latency-budget-ms {}: the latency is {:.6f} ms with every free group at {} bits", *o.latency_budget_ms,
         latency(r.group_bits), o.low_bits);

  // Candidate order.
  std::vector<std::size_t> order;
  for (std::size_t gi = 0; gi < ng; ++gi)
    if (!r.forced[gi]) order.push_back(gi);
  if (o.random_order) {
    std::mt19937_64 rng(o.seed);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return r.groups[a].score > r.groups[b].score; });
  }

  // Greedy first fit, with the boundary tie-break.
  std::vector<std::size_t> remaining = order;
  while (!remaining.empty()) {
    if (o.high_count && high_layers(r.group_bits) >= *o.high_count) break;
    std::vector<std::size_t> ties{0};
    if (o.prefer_fewer_boundaries && !o.random_order) {
      const double best = r.groups[remaining[0]].score;
      for (std::size_t k = 1; k < remaining.size(); ++k)
        if (best - r.groups[remaining[k]].score <= o.tie_tolerance) ties.push_back(k);
    }
    std::size_t pick = remaining.size();
    int pick_boundaries = std::numeric_limits<int>::max();
    std::vector<std::size_t> unfit;
    for (std::size_t k : ties) {
      std::vector<int> trial = r.group_bits;
      trial[remaining[k]] = o.high_bits;
      if (!fits(trial)) {
        unfit.push_back(k);
        continue;
      }
      if (ties.size() == 1) {
        pick = k;
        break;
      }
      const auto p = precision_of(trial);
      const int b = static_cast<int>(plan_precision(g, p).requants.size());
      if (b < pick_boundaries) {
        pick_boundaries = b;
        pick = k;
      }
    }
    if (pick < remaining.size()) {
      r.group_bits[remaining[pick]] = o.high_bits;
      r.raised.push_back(remaining[pick]);
      r.total_score += r.groups[remaining[pick]].score;
      unfit.push_back(pick);
    }
    std::sort(unfit.rbegin(), unfit.rend());
    for (std::size_t k : unfit) remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(k));
  }

  const auto p = precision_of(r.group_bits);
  r.alloc.model = g.name;
  for (std::size_t i = 0; i < compute.size(); ++i) r.alloc.set(g.node(compute[i]).name, p[i]);
  r.high_layers = high_layers(r.group_bits);
  r.boundaries = static_cast<int>(plan_precision(g, p).requants.size());
  r.weight_kib = weight_bytes(g, p) / 1024.0;
  if (o.hw) r.latency_ms = latency(r.group_bits);
  return r;
}

}  // namespace qsim
