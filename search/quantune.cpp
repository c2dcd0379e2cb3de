#include "search/quantune.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include <fmt/format.h>

#include "graph/error.h"
#include "graph/precision_plan.h"
#include "search/allocate.h"

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

int sensitivity_low_width(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o) {
  if (g.compute_layers().empty()) fail("model '{}' has no compute layers to allocate", g.name);
  const std::string sens = s.shown_name();
  const int wi = s.width_index(o.low_bits);
  if (wi < 0)
    fail("{} has no rows at the low width {} (it has {}); measure it with --bits including {}", sens, o.low_bits,
         fmt::join(s.bits, ","), o.low_bits);
  if (s.abits != o.abits)
    fail("{} was measured with activations at {}, the allocation asks for {}", sens,
         s.abits ? std::to_string(s.abits) + " bits" : "the candidate width",
         o.abits ? std::to_string(o.abits) + " bits" : "the weight width");
  return wi;
}

AllocateResult allocate_precision(const LayerGraph& g, const SensitivityResult& s, const AllocateOptions& o) {
  const auto compute = g.compute_layers();
  const int wi = sensitivity_low_width(g, s, o);

  // Scores by compute layer (layers without constant weights: unscored, kept high).
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < compute.size(); ++i) by_name[g.node(compute[i]).name] = i;
  std::vector<double> score(compute.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    const auto it = by_name.find(s.layers[l]);
    if (it == by_name.end())
      fail("{} (model '{}') names layer '{}', which is not a compute layer of '{}'", s.shown_name(), s.model,
           s.layers[l], g.name);
    score[it->second] = s.at(static_cast<std::size_t>(wi), l).score;
  }
  std::vector<char> scored(compute.size());
  for (std::size_t i = 0; i < compute.size(); ++i) scored[i] = !std::isnan(score[i]);
  const AllocationProblem prob(g, scored, o);
  std::vector<FusedGroup> groups = prob.groups();
  const std::size_t ng = groups.size();
  for (std::size_t gi = 0; gi < ng; ++gi) {
    double m = -std::numeric_limits<double>::infinity();
    for (std::size_t l : groups[gi].layers)
      if (!std::isnan(score[l])) m = std::max(m, score[l]);
    groups[gi].score = std::isfinite(m) ? m : 0.0;
  }

  std::vector<int> group_bits = prob.initial();
  std::vector<std::size_t> raised;
  double total_score = 0;
  // Candidate order.
  std::vector<std::size_t> order = prob.free_groups();
  if (o.random_order) {
    std::mt19937_64 rng(o.seed);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return groups[a].score > groups[b].score; });
  }

  // Greedy first fit, with the boundary tie-break.
  std::vector<std::size_t> remaining = order;
  while (!remaining.empty()) {
    if (o.high_count && prob.high_layers(group_bits) >= *o.high_count) break;
    std::vector<std::size_t> ties{0};
    if (o.prefer_fewer_boundaries && !o.random_order) {
      const double best = groups[remaining[0]].score;
      for (std::size_t k = 1; k < remaining.size(); ++k)
        if (best - groups[remaining[k]].score <= o.tie_tolerance) ties.push_back(k);
    }
    std::size_t pick = remaining.size();
    int pick_boundaries = std::numeric_limits<int>::max();
    std::vector<std::size_t> unfit;
    for (std::size_t k : ties) {
      std::vector<int> trial = group_bits;
      trial[remaining[k]] = o.high_bits;
      if (!prob.fits(trial)) {
        unfit.push_back(k);
        continue;
      }
      if (ties.size() == 1) {
        pick = k;
        break;
      }
      const auto p = prob.precision(trial);
      const int b = static_cast<int>(plan_precision(g, p).requants.size());
      if (b < pick_boundaries) {
        pick_boundaries = b;
        pick = k;
      }
    }
    if (pick < remaining.size()) {
      group_bits[remaining[pick]] = o.high_bits;
      raised.push_back(remaining[pick]);
      total_score += groups[remaining[pick]].score;
      unfit.push_back(pick);
    }
    std::sort(unfit.rbegin(), unfit.rend());
    for (std::size_t k : unfit) remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(k));
  }
  AllocateResult r = prob.result(std::move(group_bits), std::move(raised));
  r.groups = std::move(groups);
  r.total_score = total_score;
  return r;
}

}  // namespace qsim
