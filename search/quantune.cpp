#include "search/quantune.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "graph/error.h"
#include "search/allocate.h"
#include "sim/analytical/analytical_backend.h"

namespace qsim {

namespace {

struct UnionFind {
  std::vector<std::size_t> parent;
  explicit UnionFind(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), std::size_t{0}); }
  std::size_t find(std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);  // the earlier layer represents the group
  }
};

}  // namespace

std::vector<FusedGroup> fused_groups(const LayerGraph& g, bool fuse_elementwise) {
  const auto compute = g.compute_layers();
  const std::size_t nn = g.nodes().size();
  std::vector<int> layer_of(nn, -1);
  for (std::size_t i = 0; i < compute.size(); ++i) layer_of[static_cast<std::size_t>(compute[i])] = static_cast<int>(i);
  UnionFind uf(compute.size());
  // Per node: the compute layer whose output stage produced its output (through free
  // views and fused element-wise ops), or -1.
  std::vector<int> stage(nn, -1);
  // Per node: compute layers that produced it directly (through free views only).
  std::vector<std::vector<int>> direct(nn);
  std::vector<std::pair<std::size_t, std::string>> fused;  // (layer, fused op name)
  for (NodeId id : g.topo_order()) {
    const auto uid = static_cast<std::size_t>(id);
    const Node& n = g.node(id);
    if (layer_of[uid] >= 0) {
      stage[uid] = layer_of[uid];
      direct[uid] = {layer_of[uid]};
      continue;
    }
    std::vector<int> from_stage, from_compute;
    for (ValueId v : n.inputs) {
      if (v < 0 || g.value(v).is_constant) continue;
      const NodeId p = g.producer(v);
      if (p < 0) continue;
      const auto up = static_cast<std::size_t>(p);
      if (stage[up] >= 0) from_stage.push_back(stage[up]);
      for (int l : direct[up]) from_compute.push_back(l);
    }
    if (vector_kind(n.op) == VectorKind::kFree) {
      if (!from_stage.empty()) stage[uid] = from_stage.front();
      if (n.op != OpKind::kConcat) direct[uid] = from_compute;  // a view of a compute result
      continue;
    }
    if (vector_kind(n.op) == VectorKind::kElementwise && fuse_elementwise && !from_stage.empty()) {
      // Applied by an output stage: every compute layer feeding it directly shares it.
      for (std::size_t k = 1; k < from_compute.size(); ++k)
        uf.unite(static_cast<std::size_t>(from_compute[0]), static_cast<std::size_t>(from_compute[k]));
      const int owner = from_compute.empty() ? from_stage.front() : from_compute.front();
      stage[uid] = owner;
      fused.emplace_back(static_cast<std::size_t>(owner), n.name);
    }
  }
  std::map<std::size_t, std::size_t> index;  // representative -> group
  std::vector<FusedGroup> groups;
  for (std::size_t i = 0; i < compute.size(); ++i) {
    const std::size_t r = uf.find(i);
    auto it = index.find(r);
    if (it == index.end()) {
      it = index.emplace(r, groups.size()).first;
      groups.emplace_back();
    }
    FusedGroup& gr = groups[it->second];
    gr.layers.push_back(i);
    gr.names.push_back(g.node(compute[i]).name);
  }
  for (const auto& [layer, name] : fused) groups[index.at(uf.find(layer))].fused.push_back(name);
  return groups;
}

int requant_boundaries(const LayerGraph& g, std::span<const LayerPrecision> precision) {
  // The rule of the analytical backend: a compute layer reading a tensor stored at
  // another width converts it, once per (tensor, new width).
  const auto compute = g.compute_layers();
  if (precision.size() != compute.size()) throw std::logic_error("requant_boundaries: one precision per compute layer");
  const std::size_t nv = g.values().size(), nn = g.nodes().size();
  std::vector<int> width(nv, 0), requant_to(nv, 0), layer_of(nn, -1);
  for (std::size_t i = 0; i < compute.size(); ++i) layer_of[static_cast<std::size_t>(compute[i])] = static_cast<int>(i);
  const int default_width = compute.empty() ? 8 : precision[0].abits;
  const auto is_act = [&](ValueId v) { return v >= 0 && !g.value(v).is_constant; };
  int count = 0;
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    const int l = layer_of[static_cast<std::size_t>(id)];
    if (l >= 0) {
      const int ab = precision[static_cast<std::size_t>(l)].abits;
      const ValueId x = n.inputs.empty() ? -1 : n.inputs[0];
      if (is_act(x)) {
        const auto ux = static_cast<std::size_t>(x);
        if (width[ux] == 0) {
          width[ux] = ab;
        } else if (width[ux] != ab && requant_to[ux] != ab) {
          ++count;
          requant_to[ux] = ab;
        }
      }
      for (ValueId o : n.outputs)
        if (o >= 0) width[static_cast<std::size_t>(o)] = ab;
      continue;
    }
    int w = 0;
    for (ValueId v : n.inputs) {
      if (!is_act(v)) continue;
      int& wv = width[static_cast<std::size_t>(v)];
      if (wv == 0) wv = default_width;
      w = std::max(w, wv);
    }
    if (w == 0) w = default_width;
    for (ValueId o : n.outputs)
      if (o >= 0) width[static_cast<std::size_t>(o)] = w;
  }
  return count;
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
  const int wi = s.width_index(o.low_bits);
  if (wi < 0)
    fail("the sensitivity has no rows at the low width {} (it has {}); measure it with --bits including {}", o.low_bits,
         fmt::join(s.bits, ","), o.low_bits);
  if (s.abits != o.abits)
    fail("the sensitivity was measured with activations at {}, the allocation asks for {}",
         s.abits ? std::to_string(s.abits) + " bits" : "the candidate width",
         o.abits ? std::to_string(o.abits) + " bits" : "the weight width");

  // Scores by compute layer (layers without constant weights: unscored, kept high).
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < compute.size(); ++i) by_name[g.node(compute[i]).name] = i;
  std::vector<double> score(compute.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t l = 0; l < s.layers.size(); ++l) {
    const auto it = by_name.find(s.layers[l]);
    if (it == by_name.end())
      fail("the sensitivity (model '{}') names layer '{}', which is not a compute layer of '{}'", s.model, s.layers[l],
           g.name);
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
      const int b = requant_boundaries(g, p);
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
