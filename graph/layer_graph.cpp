#include "graph/layer_graph.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim {

std::string_view op_name(OpKind op) {
  switch (op) {
    case OpKind::kConv: return "Conv";
    case OpKind::kGemm: return "Gemm";
    case OpKind::kMatMul: return "MatMul";
    case OpKind::kBatchNorm: return "BatchNormalization";
    case OpKind::kRelu: return "Relu";
    case OpKind::kClip: return "Clip";
    case OpKind::kLeakyRelu: return "LeakyRelu";
    case OpKind::kSigmoid: return "Sigmoid";
    case OpKind::kHardSigmoid: return "HardSigmoid";
    case OpKind::kHardSwish: return "HardSwish";
    case OpKind::kAdd: return "Add";
    case OpKind::kMul: return "Mul";
    case OpKind::kSum: return "Sum";
    case OpKind::kConcat: return "Concat";
    case OpKind::kMaxPool: return "MaxPool";
    case OpKind::kAveragePool: return "AveragePool";
    case OpKind::kGlobalAveragePool: return "GlobalAveragePool";
    case OpKind::kFlatten: return "Flatten";
    case OpKind::kReshape: return "Reshape";
    case OpKind::kTranspose: return "Transpose";
    case OpKind::kSqueeze: return "Squeeze";
    case OpKind::kUnsqueeze: return "Unsqueeze";
    case OpKind::kSoftmax: return "Softmax";
    case OpKind::kLRN: return "LRN";
    case OpKind::kPad: return "Pad";
    case OpKind::kIdentity: return "Identity";
    case OpKind::kQuantizeLinear: return "QuantizeLinear";
    case OpKind::kDequantizeLinear: return "DequantizeLinear";
  }
  return "?";
}

bool is_compute(OpKind op) {
  return op == OpKind::kConv || op == OpKind::kGemm || op == OpKind::kMatMul;
}

std::string_view act_name(ActKind a) {
  switch (a) {
    case ActKind::kNone: return "";
    case ActKind::kRelu: return "Relu";
    case ActKind::kClip: return "Clip";
    case ActKind::kLeakyRelu: return "LeakyRelu";
    case ActKind::kSigmoid: return "Sigmoid";
    case ActKind::kHardSigmoid: return "HardSigmoid";
    case ActKind::kHardSwish: return "HardSwish";
  }
  return "?";
}

ValueId LayerGraph::add_value(Value v) {
  values_.push_back(std::move(v));
  return static_cast<ValueId>(values_.size() - 1);
}

NodeId LayerGraph::add_node(Node n) {
  nodes_.push_back(std::move(n));
  dead_.push_back(false);
  return static_cast<NodeId>(nodes_.size() - 1);
}

void LayerGraph::remove_node(NodeId id) { dead_.at(static_cast<std::size_t>(id)) = true; }

void LayerGraph::finalize() {
  // 1. Drop dead nodes.
  std::vector<Node> nodes;
  nodes.reserve(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (!dead_[i]) nodes.push_back(std::move(nodes_[i]));
  nodes_ = std::move(nodes);
  dead_.assign(nodes_.size(), false);

  // 2. Keep only values that are referenced (graph inputs/outputs or node ports).
  std::vector<char> used(values_.size(), 0);
  auto mark = [&](ValueId v) {
    if (v >= 0) used.at(static_cast<std::size_t>(v)) = 1;
  };
  for (ValueId v : inputs_) mark(v);
  for (ValueId v : outputs_) mark(v);
  for (const Node& n : nodes_) {
    for (ValueId v : n.inputs) mark(v);
    for (ValueId v : n.outputs) mark(v);
  }
  std::vector<ValueId> remap(values_.size(), -1);
  std::vector<Value> values;
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<ValueId>(values.size());
    values.push_back(std::move(values_[i]));
  }
  values_ = std::move(values);
  auto re = [&](ValueId v) { return v < 0 ? v : remap[static_cast<std::size_t>(v)]; };
  for (ValueId& v : inputs_) v = re(v);
  for (ValueId& v : outputs_) v = re(v);
  for (Node& n : nodes_) {
    for (ValueId& v : n.inputs) v = re(v);
    for (ValueId& v : n.outputs) v = re(v);
  }

  // 3. Producers and consumers; every non-constant, non-input value needs exactly one producer.
  producer_.assign(values_.size(), -1);
  consumers_.assign(values_.size(), {});
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const auto id = static_cast<NodeId>(i);
    for (ValueId v : nodes_[i].outputs) {
      if (v < 0) continue;
      auto& p = producer_[static_cast<std::size_t>(v)];
      if (p != -1)
        fail("tensor '{}' is produced by both '{}' and '{}'", values_[static_cast<std::size_t>(v)].name,
             nodes_[static_cast<std::size_t>(p)].name, nodes_[i].name);
      p = id;
    }
    for (ValueId v : nodes_[i].inputs)
      if (v >= 0) consumers_[static_cast<std::size_t>(v)].push_back(id);
  }
  std::vector<char> is_input(values_.size(), 0);
  for (ValueId v : inputs_) is_input[static_cast<std::size_t>(v)] = 1;
  for (std::size_t v = 0; v < values_.size(); ++v) {
    if (producer_[v] == -1 && !values_[v].is_constant && !is_input[v])
      fail("tensor '{}' is used but neither a graph input, an initializer nor produced by a node",
           values_[v].name);
  }

  // 4. Boost graph: one vertex per node, one edge per (producer -> consumer, tensor).
  Bgl bgl(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) bgl[i].node = static_cast<NodeId>(i);
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    for (ValueId v : nodes_[i].inputs) {
      if (v < 0) continue;
      NodeId p = producer_[static_cast<std::size_t>(v)];
      if (p >= 0) boost::add_edge(static_cast<std::size_t>(p), i, EdgeProp{v}, bgl);
    }
  bgl_.swap(bgl);

  // 5. Topological order: Kahn's algorithm over the Boost graph, always taking the
  // ready node that came first in the source model, so independent layers keep
  // their file order. Nodes left over sit on a cycle.
  std::vector<std::size_t> indeg(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) indeg[i] = boost::in_degree(i, bgl_);
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (indeg[i] == 0) ready.push(i);
  topo_.clear();
  topo_.reserve(nodes_.size());
  while (!ready.empty()) {
    const std::size_t u = ready.top();
    ready.pop();
    topo_.push_back(static_cast<NodeId>(u));
    for (auto [e, end] = boost::out_edges(u, bgl_); e != end; ++e) {
      const std::size_t w = boost::target(*e, bgl_);
      if (--indeg[w] == 0) ready.push(w);
    }
  }
  if (topo_.size() != nodes_.size()) {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (indeg[i] > 0) fail("the graph has a cycle through node '{}'", nodes_[i].name);
  }
  compute_.clear();
  for (NodeId n : topo_)
    if (is_compute(nodes_[static_cast<std::size_t>(n)].op)) compute_.push_back(n);
}

std::optional<ValueId> LayerGraph::find_value(std::string_view name) const {
  for (std::size_t i = 0; i < values_.size(); ++i)
    if (values_[i].name == name) return static_cast<ValueId>(i);
  return std::nullopt;
}

std::optional<NodeId> LayerGraph::find_node(std::string_view name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == name) return static_cast<NodeId>(i);
  return std::nullopt;
}

NodeId LayerGraph::producer(ValueId v) const { return producer_.at(static_cast<std::size_t>(v)); }

std::span<const NodeId> LayerGraph::consumers(ValueId v) const {
  return consumers_.at(static_cast<std::size_t>(v));
}

namespace {
int64_t numel_of(const LayerGraph& g, ValueId v) { return v < 0 ? 0 : shape_numel(g.value(v).shape); }
int64_t const_numel(const LayerGraph& g, ValueId v) {
  return (v >= 0 && g.value(v).is_constant) ? shape_numel(g.value(v).shape) : 0;
}
// Overflow is reported as qsim::Error (the caller adds model and layer).
struct Overflow {};
int64_t mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw Overflow{};
  return r;
}
int64_t add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) throw Overflow{};
  return r;
}
int64_t prod(std::span<const int64_t> s) {
  int64_t p = 1;
  for (int64_t d : s) p = mul(p, d);
  return p;
}
}  // namespace

int64_t GemmView::macs() const {
  try {
    return mul(mul(mul(M, N), K), repeats);
  } catch (const Overflow&) {
    fail("GEMM {} x {} x {} x {} repeats: the MAC count overflows 64 bits", M, N, K, repeats);
  }
}

LayerStats LayerGraph::stats(NodeId id) const {
  try {
    return stats_unchecked(id);
  } catch (const Overflow&) {
    const Node& n = node(id);
    fail("model '{}': layer '{}' ({}): its GEMM sizes or MAC count overflow 64 bits", name, n.name, op_name(n.op));
  } catch (const Error& e) {
    const Node& n = node(id);
    fail("model '{}': layer '{}' ({}): {}", name, n.name, op_name(n.op), e.what());
  }
}

LayerStats LayerGraph::stats_unchecked(NodeId id) const {
  const Node& n = node(id);
  LayerStats s;
  auto in = [&](std::size_t i) { return i < n.inputs.size() ? n.inputs[i] : ValueId{-1}; };
  switch (n.op) {
    case OpKind::kConv: {
      const auto& a = std::get<ConvAttrs>(n.attrs);
      const Shape& x = value(in(0)).shape;
      const Shape& w = value(in(1)).shape;
      const Shape& y = value(n.outputs.at(0)).shape;
      const int64_t g = a.group;
      s.gemm.M = mul(y.at(0), prod(std::span(y).subspan(2)));
      s.gemm.N = w.at(0) / g;
      s.gemm.K = mul(x.at(1) / g, prod(std::span(w).subspan(2)));
      s.gemm.repeats = g;
      s.operands = {numel_of(*this, in(0)), numel_of(*this, in(1)), numel_of(*this, in(2)),
                    numel_of(*this, n.outputs.at(0))};
      break;
    }
    case OpKind::kGemm: {
      const auto& a = std::get<GemmAttrs>(n.attrs);
      const Shape& A = value(in(0)).shape;
      const Shape& B = value(in(1)).shape;
      s.gemm.M = a.trans_a ? A.at(1) : A.at(0);
      s.gemm.K = a.trans_a ? A.at(0) : A.at(1);
      s.gemm.N = a.trans_b ? B.at(0) : B.at(1);
      s.operands = {numel_of(*this, in(0)), numel_of(*this, in(1)), numel_of(*this, in(2)),
                    numel_of(*this, n.outputs.at(0))};
      break;
    }
    case OpKind::kMatMul: {
      Shape A = value(in(0)).shape;
      Shape B = value(in(1)).shape;
      if (A.size() == 1) A.insert(A.begin(), 1);
      if (B.size() == 1) B.push_back(1);
      s.gemm.K = A.back();
      s.gemm.N = B.back();
      if (B.size() == 2) {  // weights: all leading dims of A are rows
        s.gemm.M = prod(std::span(A).first(A.size() - 1));
      } else {
        s.gemm.M = A[A.size() - 2];
        // Every output element is one M x N product entry; the rest are broadcast
        // batch repeats (also right when A is a vector and Y has no M axis).
        const int64_t mn = mul(s.gemm.M, s.gemm.N);
        s.gemm.repeats = mn > 0 ? shape_numel(value(n.outputs.at(0)).shape) / mn : 1;
      }
      s.operands = {numel_of(*this, in(0)), numel_of(*this, in(1)), 0, numel_of(*this, n.outputs.at(0))};
      break;
    }
    default:
      throw std::logic_error(fmt::format("stats() on non-compute node '{}' ({})", n.name, op_name(n.op)));
  }
  s.macs = mul(mul(mul(s.gemm.M, s.gemm.N), s.gemm.K), s.gemm.repeats);
  s.params = add(const_numel(*this, in(1)), n.op == OpKind::kMatMul ? 0 : const_numel(*this, in(2)));
  if (n.op == OpKind::kGemm || n.op == OpKind::kMatMul) s.params = add(s.params, const_numel(*this, in(0)));
  return s;
}

int64_t LayerGraph::total_macs() const {
  int64_t t = 0;
  for (NodeId n : compute_) {
    if (__builtin_add_overflow(t, stats(n).macs, &t)) fail("model '{}': the total MAC count overflows 64 bits", name);
  }
  return t;
}

int64_t LayerGraph::total_params() const {
  int64_t t = 0;
  for (NodeId n : compute_) {
    if (__builtin_add_overflow(t, stats(n).params, &t))
      fail("model '{}': the total parameter count overflows 64 bits", name);
  }
  return t;
}

}  // namespace qsim
