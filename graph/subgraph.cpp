#include "graph/subgraph.h"

#include <algorithm>
#include <stdexcept>

namespace qsim {

std::vector<std::size_t> topo_positions(const LayerGraph& g) {
  std::vector<std::size_t> pos(g.nodes().size(), 0);
  const auto topo = g.topo_order();
  for (std::size_t i = 0; i < topo.size(); ++i) pos[static_cast<std::size_t>(topo[i])] = i;
  return pos;
}

std::vector<ValueId> live_values(const LayerGraph& g, std::size_t position) {
  const std::vector<std::size_t> pos = topo_positions(g);
  std::vector<char> is_output(g.values().size(), 0);
  for (ValueId v : g.outputs()) is_output[static_cast<std::size_t>(v)] = 1;
  std::vector<ValueId> live;
  for (std::size_t i = 0; i < g.values().size(); ++i) {
    const auto v = static_cast<ValueId>(i);
    if (g.value(v).is_constant) continue;
    const NodeId p = g.producer(v);
    if (p >= 0 && pos[static_cast<std::size_t>(p)] >= position) continue;
    if (p < 0 && std::find(g.inputs().begin(), g.inputs().end(), v) == g.inputs().end()) continue;
    bool read_later = is_output[i] != 0;
    for (NodeId c : g.consumers(v)) read_later = read_later || pos[static_cast<std::size_t>(c)] >= position;
    if (read_later) live.push_back(v);
  }
  return live;
}

LayerGraph extract_subgraph(const LayerGraph& g, std::span<const NodeId> nodes, std::span<const ValueId> outputs) {
  const std::vector<std::size_t> pos = topo_positions(g);
  std::vector<NodeId> order(nodes.begin(), nodes.end());
  std::sort(order.begin(), order.end(),
            [&](NodeId a, NodeId b) { return pos[static_cast<std::size_t>(a)] < pos[static_cast<std::size_t>(b)]; });
  order.erase(std::unique(order.begin(), order.end()), order.end());

  const std::size_t nv = g.values().size();
  std::vector<char> produced(nv, 0), read(nv, 0);
  for (NodeId id : order) {
    for (ValueId v : g.node(id).outputs)
      if (v >= 0) produced[static_cast<std::size_t>(v)] = 1;
    for (ValueId v : g.node(id).inputs)
      if (v >= 0) read[static_cast<std::size_t>(v)] = 1;
  }
  LayerGraph s;
  s.name = g.name;
  std::vector<ValueId> map(nv, -1);
  const auto copy_value = [&](ValueId v) {
    auto& m = map[static_cast<std::size_t>(v)];
    if (m < 0) m = s.add_value(g.value(v));
    return m;
  };
  std::vector<ValueId> inputs;
  for (std::size_t i = 0; i < nv; ++i) {
    const auto v = static_cast<ValueId>(i);
    if (read[i] && !produced[i] && !g.value(v).is_constant) inputs.push_back(copy_value(v));
  }
  for (NodeId id : order) {
    Node n = g.node(id);
    for (ValueId& v : n.inputs)
      if (v >= 0) v = copy_value(v);
    for (ValueId& v : n.outputs)
      if (v >= 0) v = copy_value(v);
    s.add_node(std::move(n));
  }
  std::vector<ValueId> outs;
  for (ValueId v : outputs) {
    const auto uv = static_cast<std::size_t>(v);
    if (!produced[uv] && map[uv] < 0)
      throw std::logic_error("extract_subgraph: output '" + g.value(v).name + "' is neither produced nor an input");
    outs.push_back(copy_value(v));
  }
  s.set_inputs(std::move(inputs));
  s.set_outputs(std::move(outs));
  s.finalize();
  return s;
}

}  // namespace qsim
