#include "graph/passes.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "graph/error.h"

namespace qsim {

namespace {

bool is_graph_output(const LayerGraph& g, ValueId v) {
  const auto outs = g.outputs();
  return std::find(outs.begin(), outs.end(), v) != outs.end();
}

// Records the provenance of `into` before `from` is merged into it.
void add_fused(Node& into, const Node& from) {
  if (into.fused.empty()) into.fused.push_back(into.name);
  if (from.fused.empty()) {
    into.fused.push_back(from.name);
  } else {
    into.fused.insert(into.fused.end(), from.fused.begin(), from.fused.end());
  }
}

// A value name not yet used in `g`, derived from `base`.
std::string fresh_value_name(const LayerGraph& g, const std::string& base) {
  std::string name = base;
  for (int i = 2; g.find_value(name).has_value(); ++i) name = base + "_" + std::to_string(i);
  return name;
}

// The single-consumer intermediate that a fusion may swallow: produced by node
// `p` as its only output, consumed only by `c`, not a graph output.
bool fusible_edge(const LayerGraph& g, NodeId p, ValueId v) {
  const Node& pn = g.node(p);
  return pn.outputs.size() == 1 && pn.outputs[0] == v && g.consumers(v).size() == 1 && !is_graph_output(g, v);
}

template <typename T>
void fold_bn_data(Tensor& w, Tensor& b, const Tensor& scale, const Tensor& beta, const Tensor& mean,
                  const Tensor& var, double eps) {
  auto wd = w.data<T>();
  auto bd = b.data<T>();
  const int64_t channels = w.dim(0);
  const std::size_t per = static_cast<std::size_t>(channels == 0 ? 0 : w.numel() / channels);
  for (int64_t c = 0; c < channels; ++c) {
    const double s = scale.as_double(c) / std::sqrt(var.as_double(c) + eps);
    const std::size_t off = static_cast<std::size_t>(c) * per;
    for (std::size_t i = 0; i < per; ++i) wd[off + i] = static_cast<T>(static_cast<double>(wd[off + i]) * s);
    const auto cc = static_cast<std::size_t>(c);
    bd[cc] = static_cast<T>((static_cast<double>(bd[cc]) - mean.as_double(c)) * s + beta.as_double(c));
  }
}

}  // namespace

void remove_identities(LayerGraph& g) {
  // alias[v] = the value that replaces v everywhere; resolved transitively.
  std::vector<ValueId> alias(g.values().size());
  for (std::size_t i = 0; i < alias.size(); ++i) alias[i] = static_cast<ValueId>(i);
  auto resolve = [&](ValueId v) {
    while (v >= 0 && alias[static_cast<std::size_t>(v)] != v) v = alias[static_cast<std::size_t>(v)];
    return v;
  };
  bool changed = false;
  for (NodeId id : g.topo_order()) {
    Node& n = g.node(id);
    if (n.op != OpKind::kIdentity) continue;
    const ValueId in = resolve(n.inputs.at(0));
    const ValueId out = n.outputs.at(0);
    if (!is_graph_output(g, out)) {
      alias[static_cast<std::size_t>(out)] = in;  // consumers read the input directly
    } else if (g.producer(in) >= 0 && !is_graph_output(g, in) && g.value(in).dtype == g.value(out).dtype) {
      alias[static_cast<std::size_t>(in)] = out;  // the producer writes the graph output itself
    } else {
      n.inputs[0] = in;
      continue;  // graph input/constant/output -> graph output: the Identity is the interface
    }
    g.remove_node(id);
    changed = true;
  }
  if (!changed) return;
  for (NodeId id = 0; id < static_cast<NodeId>(g.nodes().size()); ++id) {
    Node& n = g.node(id);
    for (ValueId& v : n.inputs) v = resolve(v);
    for (ValueId& v : n.outputs) v = resolve(v);
  }
  g.finalize();
}

void fold_batchnorm(LayerGraph& g) {
  bool changed = false;
  for (NodeId id : g.topo_order()) {
    const Node& bn = g.node(id);
    if (bn.op != OpKind::kBatchNorm) continue;
    const auto& bn_attrs = std::get<BatchNormAttrs>(bn.attrs);
    if (bn_attrs.training_mode || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
    const ValueId x = bn.inputs[0];
    const NodeId pid = g.producer(x);
    if (pid < 0 || g.node(pid).op != OpKind::kConv || !fusible_edge(g, pid, x)) continue;
    if (g.node(pid).act.kind != ActKind::kNone) continue;
    bool params_const = true;
    for (std::size_t i = 1; i < 5; ++i) params_const = params_const && g.value(bn.inputs[i]).is_constant;
    const ValueId w = g.node(pid).inputs.at(1);
    const ValueId b = g.node(pid).inputs.size() > 2 ? g.node(pid).inputs[2] : ValueId{-1};
    if (!params_const || !g.value(w).is_constant || (b >= 0 && !g.value(b).is_constant)) continue;
    const DType dt = g.value(w).dtype;
    if (dt != DType::kFloat32 && dt != DType::kFloat64) continue;

    bool with_data = g.value(w).data.has_value() && (b < 0 || g.value(b).data.has_value());
    for (std::size_t i = 1; i < 5; ++i) with_data = with_data && g.value(bn.inputs[i]).data.has_value();
    const int64_t channels = g.value(w).shape.at(0);
    const std::string conv_name = g.node(pid).name;
    const Node bn_copy = bn;  // add_value below may not move nodes, but keep the BN stable anyway

    // New weight/bias values unless this Conv is their only user: a shared
    // initializer must keep its original data for the other users.
    auto own = [&](ValueId v, const std::string& suffix) -> ValueId {
      if (g.consumers(v).size() == 1) return v;
      Value copy = g.value(v);
      copy.name = fresh_value_name(g, conv_name + suffix);
      return g.add_value(std::move(copy));
    };
    const ValueId w2 = own(w, "_weight_bnfold");
    ValueId b2 = -1;
    if (b >= 0) {
      b2 = own(b, "_bias_bnfold");
    } else {
      Value bias;
      bias.name = fresh_value_name(g, conv_name + "_bias_bnfold");
      bias.dtype = dt;
      bias.shape = {channels};
      bias.is_constant = true;
      if (with_data) bias.data = Tensor(dt, {channels});
      b2 = g.add_value(std::move(bias));
    }
    if (with_data) {
      Tensor& wt = *g.value(w2).data;
      Tensor& bt = *g.value(b2).data;
      const Tensor& scale = *g.value(bn_copy.inputs[1]).data;
      const Tensor& beta = *g.value(bn_copy.inputs[2]).data;
      const Tensor& mean = *g.value(bn_copy.inputs[3]).data;
      const Tensor& var = *g.value(bn_copy.inputs[4]).data;
      if (dt == DType::kFloat32) {
        fold_bn_data<float>(wt, bt, scale, beta, mean, var, bn_attrs.epsilon);
      } else {
        fold_bn_data<double>(wt, bt, scale, beta, mean, var, bn_attrs.epsilon);
      }
    }
    Node& conv = g.node(pid);
    conv.inputs.resize(3);
    conv.inputs[1] = w2;
    conv.inputs[2] = b2;
    std::get<ConvAttrs>(conv.attrs).has_bias = true;
    conv.outputs[0] = bn_copy.outputs[0];
    add_fused(conv, bn_copy);
    g.remove_node(id);
    changed = true;
  }
  if (changed) g.finalize();
}

void fuse_activations(LayerGraph& g) {
  bool changed = false;
  for (NodeId id : g.topo_order()) {
    const Node& a = g.node(id);
    const bool any_act = a.op == OpKind::kRelu || a.op == OpKind::kClip || a.op == OpKind::kLeakyRelu ||
                         a.op == OpKind::kSigmoid || a.op == OpKind::kHardSigmoid || a.op == OpKind::kHardSwish;
    if (!any_act) continue;
    const ValueId x = a.inputs.at(0);
    const NodeId pid = g.producer(x);
    if (pid < 0 || !fusible_edge(g, pid, x)) continue;
    const Node& p = g.node(pid);
    if (p.act.kind != ActKind::kNone) continue;
    const bool relu_or_clip = a.op == OpKind::kRelu || a.op == OpKind::kClip;
    const bool ok = is_compute(p.op) || ((p.op == OpKind::kAdd || p.op == OpKind::kSum) && relu_or_clip);
    if (!ok) continue;
    const Node act_copy = a;
    Node& pn = g.node(pid);
    pn.act = std::get<ActAttrs>(act_copy.attrs).act;
    pn.outputs[0] = act_copy.outputs.at(0);
    add_fused(pn, act_copy);
    g.remove_node(id);
    changed = true;
  }
  if (changed) g.finalize();
}

std::vector<Pass> import_passes(bool fold_bn, bool fuse_act) {
  std::vector<Pass> passes{{"remove_identities", remove_identities}};
  if (fold_bn) passes.push_back({"fold_batchnorm", fold_batchnorm});
  if (fuse_act) passes.push_back({"fuse_activations", fuse_activations});
  return passes;
}

void run_passes(LayerGraph& g, std::span<const Pass> passes) {
  for (const Pass& p : passes) p.run(g);
}

}  // namespace qsim
