// qsim info: the fused layer graph as a table or JSON.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "graph/model_import.h"

namespace qsim::app {

namespace {

std::string shapes_of(const LayerGraph& g, const std::vector<ValueId>& ids, bool skip_constants) {
  std::string s;
  for (ValueId v : ids) {
    if (v < 0) continue;
    if (skip_constants && g.value(v).is_constant) continue;
    if (!s.empty()) s += ",";
    s += shape_str(g.value(v).shape);
  }
  return s;
}

std::string op_label(const Node& n) {
  std::string s(op_name(n.op));
  if (n.act.kind != ActKind::kNone) s += "+" + std::string(act_name(n.act.kind));
  return s;
}

}  // namespace

int run_info(const InfoOptions& o) {
  OnnxImportOptions io;
  io.keep_weights = false;  // info needs shapes only
  const LayerGraph g = import_model(o.model, io);

  if (o.json) {
    nlohmann::json j;
    j["model"] = g.name;
    auto layers = nlohmann::json::array();
    for (NodeId id : g.topo_order()) {
      const Node& n = g.node(id);
      nlohmann::json l;
      l["name"] = n.name;
      l["op"] = std::string(op_name(n.op));
      l["activation"] = std::string(act_name(n.act.kind));
      l["inputs"] = shapes_of(g, n.inputs, true);
      l["outputs"] = shapes_of(g, n.outputs, false);
      l["compute"] = is_compute(n.op);
      if (is_compute(n.op)) {
        const LayerStats s = g.stats(id);
        l["M"] = s.gemm.M;
        l["N"] = s.gemm.N;
        l["K"] = s.gemm.K;
        l["repeats"] = s.gemm.repeats;
        l["macs"] = s.macs;
        l["params"] = s.params;
        l["ifmap_elems"] = s.operands.ifmap;
        l["filter_elems"] = s.operands.filter;
        l["ofmap_elems"] = s.operands.ofmap;
      } else {
        l["M"] = 0;
        l["N"] = 0;
        l["K"] = 0;
        l["macs"] = 0;
        l["params"] = 0;
      }
      if (!n.fused.empty()) l["fused"] = n.fused;
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

  std::cout << fmt::format("model {}: {} layers, {} compute layers\n", g.name, g.nodes().size(),
                           g.compute_layers().size());
  std::cout << fmt::format("{:<32} {:<22} {:<20} {:<20} {:>8} {:>6} {:>7} {:>5} {:>14} {:>11}\n", "layer", "op",
                           "input", "output", "M", "N", "K", "rep", "MACs", "params");
  for (NodeId id : g.topo_order()) {
    const Node& n = g.node(id);
    const std::string in = shapes_of(g, n.inputs, true);
    const std::string out = shapes_of(g, n.outputs, false);
    if (is_compute(n.op)) {
      const LayerStats s = g.stats(id);
      std::cout << fmt::format("{:<32} {:<22} {:<20} {:<20} {:>8} {:>6} {:>7} {:>5} {:>14} {:>11}\n", n.name,
                               op_label(n), in, out, s.gemm.M, s.gemm.N, s.gemm.K, s.gemm.repeats, s.macs,
                               s.params);
    } else {
      std::cout << fmt::format("{:<32} {:<22} {:<20} {:<20} {:>8} {:>6} {:>7} {:>5} {:>14} {:>11}\n", n.name,
                               op_label(n), in, out, "", "", "", "", "", "");
    }
  }
  std::cout << fmt::format("total: {} MACs ({:.3f} G), {} params ({:.3f} M)\n", g.total_macs(),
                           static_cast<double>(g.total_macs()) * 1e-9, g.total_params(),
                           static_cast<double>(g.total_params()) * 1e-6);
  return 0;
}

}  // namespace qsim::app
