// qsim info: the fused layer graph as a table or JSON.
//
// Imports shapes only (OnnxImportOptions::keep_weights = false): the GEMM view,
// MACs and parameter counts need no weight data, so this stays fast on big models.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "graph/model_import.h"

namespace qsim::app {

namespace {

// Shapes of a node's tensors; constants (weights, biases) are left out of inputs.
std::vector<Shape> shapes_of(const LayerGraph& g, const std::vector<ValueId>& ids, bool skip_constants) {
  std::vector<Shape> out;
  for (ValueId v : ids) {
    if (v < 0) continue;
    if (skip_constants && g.value(v).is_constant) continue;
    out.push_back(g.value(v).shape);
  }
  return out;
}

std::string joined(const std::vector<Shape>& shapes) {
  std::string s;
  for (const Shape& sh : shapes) {
    if (!s.empty()) s += ",";
    s += shape_str(sh);
  }
  return s;
}

std::string op_label(const Node& n) {
  std::string s(op_name(n.op));
  if (n.act.kind != ActKind::kNone) {
    s += '+';
    s += act_name(n.act.kind);
  }
  return s;
}

nlohmann::json tensors_json(const LayerGraph& g, std::span<const ValueId> ids) {
  auto arr = nlohmann::json::array();
  for (ValueId v : ids)
    arr.push_back({{"name", g.value(v).name}, {"dtype", dtype_name(g.value(v).dtype)}, {"shape", g.value(v).shape}});
  return arr;
}

int print_json(const LayerGraph& g) {
  nlohmann::json j;
  j["model"] = g.name;
  j["inputs"] = tensors_json(g, g.inputs());
  j["outputs"] = tensors_json(g, g.outputs());
  auto layers = nlohmann::json::array();
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    nlohmann::json l;
    l["name"] = n.name;
    l["op"] = std::string(op_name(n.op));
    l["activation"] = std::string(act_name(n.act.kind));
    l["fused"] = n.fused;
    l["inputs"] = shapes_of(g, n.inputs, true);
    l["outputs"] = shapes_of(g, n.outputs, false);
    l["compute"] = is_compute(n.op);
    LayerStats s;
    if (is_compute(n.op)) s = g.stats(id);
    l["M"] = s.gemm.M;
    l["N"] = s.gemm.N;
    l["K"] = s.gemm.K;
    l["repeats"] = is_compute(n.op) ? s.gemm.repeats : 0;
    l["macs"] = s.macs;
    l["params"] = s.params;
    if (is_compute(n.op)) {
      l["ifmap_elems"] = s.operands.ifmap;
      l["filter_elems"] = s.operands.filter;
      l["bias_elems"] = s.operands.bias;
      l["ofmap_elems"] = s.operands.ofmap;
    }
    layers.push_back(std::move(l));
  }
  j["layers"] = std::move(layers);
  j["layer_count"] = g.nodes().size();
  j["compute_layers"] = g.compute_layers().size();
  j["total_macs"] = g.total_macs();
  j["total_params"] = g.total_params();
  std::cout << j.dump(2) << "\n";
  return 0;
}

int print_table(const LayerGraph& g) {
  struct Row {
    std::string name, op, in, out, M, N, K, rep, macs, params;
  };
  std::vector<Row> rows;
  rows.push_back({"layer", "op", "input", "output", "M", "N", "K", "rep", "MACs", "params"});
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    Row r{n.name, op_label(n), joined(shapes_of(g, n.inputs, true)), joined(shapes_of(g, n.outputs, false)),
          "", "", "", "", "", ""};
    if (is_compute(n.op)) {
      const LayerStats s = g.stats(id);
      r.M = std::to_string(s.gemm.M);
      r.N = std::to_string(s.gemm.N);
      r.K = std::to_string(s.gemm.K);
      r.rep = std::to_string(s.gemm.repeats);
      r.macs = std::to_string(s.macs);
      r.params = std::to_string(s.params);
    }
    rows.push_back(std::move(r));
  }
  // Column widths from the content, so long ONNX names and multi-input shapes stay aligned.
  std::size_t w[10] = {};
  for (const Row& r : rows) {
    const std::string* f[10] = {&r.name, &r.op, &r.in, &r.out, &r.M, &r.N, &r.K, &r.rep, &r.macs, &r.params};
    for (int i = 0; i < 10; ++i) w[i] = std::max(w[i], f[i]->size());
  }
  std::cout << fmt::format("model {}: {} layers, {} compute layers\n", g.name, g.nodes().size(),
                           g.compute_layers().size());
  for (const Row& r : rows) {
    std::string line = fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}",
                                   r.name, w[0], r.op, w[1], r.in, w[2], r.out, w[3], r.M, w[4], r.N, w[5], r.K,
                                   w[6], r.rep, w[7], r.macs, w[8], r.params, w[9]);
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << line << "\n";
  }
  std::cout << fmt::format("total: {} MACs ({:.3f} G), {} params ({:.3f} M)\n", g.total_macs(),
                           static_cast<double>(g.total_macs()) * 1e-9, g.total_params(),
                           static_cast<double>(g.total_params()) * 1e-6);
  return 0;
}

}  // namespace

int run_info(const InfoOptions& o) {
  OnnxImportOptions io;
  io.keep_weights = false;  // info needs shapes only
  const LayerGraph g = import_model(o.model, io);
  return o.json ? print_json(g) : print_table(g);
}

}  // namespace qsim::app
