#include "graph/precision_plan.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

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

// Rows of a CSR table from per-row vectors.
void to_csr(const std::vector<std::vector<uint32_t>>& rows, std::vector<uint32_t>& off, std::vector<uint32_t>& data) {
  off.assign(rows.size() + 1, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) off[i + 1] = off[i] + static_cast<uint32_t>(rows[i].size());
  data.clear();
  data.reserve(off.back());
  for (const auto& r : rows) data.insert(data.end(), r.begin(), r.end());
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

std::string_view node_role_name(NodeRole r) {
  switch (r) {
    case NodeRole::kCompute: return "compute";
    case NodeRole::kFree: return "free";
    case NodeRole::kFused: return "fused";
    case NodeRole::kVector: return "vector";
  }
  return "?";
}

PrecisionRule::PrecisionRule(const LayerGraph& g, bool fuse_elementwise) : g_(&g), fuse_(fuse_elementwise) {
  const auto compute = g.compute_layers();
  compute_.assign(compute.begin(), compute.end());
  const std::size_t nv = g.values().size(), nn = g.nodes().size(), nl = compute_.size();
  layer_of_.assign(nn, -1);
  for (std::size_t i = 0; i < nl; ++i) layer_of_[static_cast<std::size_t>(compute_[i])] = static_cast<int>(i);
  role_.assign(nn, NodeRole::kVector);
  input_.assign(nl, -1);
  activation_.assign(nv, 0);

  auto is_act = [&](ValueId v) { return v >= 0 && !g.value(v).is_constant; };
  // The default width is the first compute layer's abits (8 without compute layers: no source).
  const std::vector<uint32_t> default_src = nl > 0 ? std::vector<uint32_t>{0} : std::vector<uint32_t>{};
  std::vector<std::vector<uint32_t>> src(nv), readers(nv);
  auto set = [&](ValueId v, std::vector<uint32_t> s) {
    src[static_cast<std::size_t>(v)] = std::move(s);
    activation_[static_cast<std::size_t>(v)] = 1;
  };

  // Fusion: per node, the compute layer whose output stage produced its output
  // (through views and fused element-wise ops), and the compute layers that
  // produced it directly (through views only).
  std::vector<int> stage(nn, -1);
  std::vector<std::vector<int>> direct(nn);
  std::vector<std::pair<std::size_t, NodeId>> fused;  // (owning layer, fused node)
  UnionFind uf(nl);

  for (NodeId id : g.topo_order()) {
    const auto uid = static_cast<std::size_t>(id);
    const Node& n = g.node(id);
    if (layer_of_[uid] >= 0) {
      const auto i = static_cast<uint32_t>(layer_of_[uid]);
      role_[uid] = NodeRole::kCompute;
      const ValueId x = n.inputs.empty() ? -1 : n.inputs[0];
      if (is_act(x)) {
        input_[i] = x;
        readers[static_cast<std::size_t>(x)].push_back(i);
        if (!activation_[static_cast<std::size_t>(x)]) set(x, {i});  // a graph input: its first reader's width
      }
      for (ValueId o : n.outputs)
        if (o >= 0) set(o, {i});
      stage[uid] = static_cast<int>(i);
      direct[uid] = {static_cast<int>(i)};
      continue;
    }

    std::vector<uint32_t> u;
    std::vector<int> from_stage, from_compute;
    for (ValueId v : n.inputs) {
      if (!is_act(v)) continue;
      if (!activation_[static_cast<std::size_t>(v)]) set(v, default_src);
      const auto& s = src[static_cast<std::size_t>(v)];
      u.insert(u.end(), s.begin(), s.end());
      const NodeId p = g.producer(v);
      if (p < 0) continue;
      const auto up = static_cast<std::size_t>(p);
      if (stage[up] >= 0) from_stage.push_back(stage[up]);
      from_compute.insert(from_compute.end(), direct[up].begin(), direct[up].end());
    }
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    if (u.empty()) u = default_src;
    for (ValueId o : n.outputs)
      if (o >= 0) set(o, u);

    const VectorKind kind = vector_kind(n.op);
    if (kind == VectorKind::kFree) {
      role_[uid] = NodeRole::kFree;
      if (!from_stage.empty()) stage[uid] = from_stage.front();     // a view of an output-stage result
      if (n.op != OpKind::kConcat) direct[uid] = std::move(from_compute);  // a view of a compute result
    } else if (kind == VectorKind::kElementwise && fuse_ && !from_stage.empty()) {
      // Applied by an output stage: every compute layer feeding it directly shares it.
      role_[uid] = NodeRole::kFused;
      for (std::size_t k = 1; k < from_compute.size(); ++k)
        uf.unite(static_cast<std::size_t>(from_compute[0]), static_cast<std::size_t>(from_compute[k]));
      const int owner = from_compute.empty() ? from_stage.front() : from_compute.front();
      stage[uid] = owner;
      fused.emplace_back(static_cast<std::size_t>(owner), id);
    }
  }
  for (ValueId v : g.inputs())
    if (!activation_[static_cast<std::size_t>(v)]) set(v, default_src);  // read by nothing the rule times
  to_csr(src, src_off_, src_);
  to_csr(readers, rd_off_, rd_);

  std::vector<std::size_t> group_of_rep(nl, nl);
  for (std::size_t i = 0; i < nl; ++i) {
    const std::size_t r = uf.find(i);
    if (group_of_rep[r] == nl) {
      group_of_rep[r] = groups_.size();
      groups_.emplace_back();
    }
    groups_[group_of_rep[r]].layers.push_back(i);
  }
  for (const auto& [layer, node] : fused) groups_[group_of_rep[uf.find(layer)]].fused.push_back(node);
}

int PrecisionRule::width(ValueId v, std::span<const LayerPrecision> precision) const {
  if (!is_activation(v)) return 0;
  const auto s = width_sources(v);
  if (s.empty()) return 8;  // no compute layers
  int w = 0;
  for (uint32_t l : s) w = std::max(w, precision[l].abits);
  return w;
}

PrecisionPlan PrecisionRule::plan(std::span<const LayerPrecision> precision) const {
  if (precision.size() != compute_.size())
    throw std::logic_error("PrecisionRule::plan: one precision per compute layer expected");
  PrecisionPlan p;
  const std::size_t nv = activation_.size();
  p.width.assign(nv, 0);
  for (std::size_t v = 0; v < nv; ++v) p.width[v] = width(static_cast<ValueId>(v), precision);
  p.input_requant.assign(compute_.size(), -1);
  for (std::size_t i = 0; i < compute_.size(); ++i) {
    const ValueId x = input_[i];
    if (x < 0) continue;
    const int to = precision[i].abits, from = p.width[static_cast<std::size_t>(x)];
    if (to == from) continue;
    // An earlier reader at the same width already converted it.
    for (uint32_t j : readers(x)) {
      if (j >= i) break;
      if (precision[j].abits == to) {
        p.input_requant[i] = p.input_requant[j];
        break;
      }
    }
    if (p.input_requant[i] < 0) {
      p.input_requant[i] = static_cast<int>(p.requants.size());
      p.requants.push_back({x, from, to, i});
    }
  }
  return p;
}

PrecisionPlan plan_precision(const LayerGraph& g, std::span<const LayerPrecision> precision) {
  return PrecisionRule(g, true).plan(precision);
}

}  // namespace qsim
