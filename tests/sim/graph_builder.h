// GraphBuilder — small layer graphs built by hand for the timing tests (vector-unit
// ops, precision changes), shared by tests/sim and tests/systemc.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph/layer_graph.h"

namespace qsim {

struct GraphBuilder {
  LayerGraph g;
  ValueId act(const std::string& name, Shape s) { return g.add_value({name, DType::kFloat32, std::move(s), false, {}}); }
  ValueId weight(const std::string& name, Shape s) { return g.add_value({name, DType::kFloat32, std::move(s), true, {}}); }
  // 1x1 convolution with `out` filters, no padding.
  ValueId conv1x1(const std::string& name, ValueId x, int64_t out) {
    const Shape xs = g.value(x).shape;
    const ValueId w = weight(name + ".w", {out, xs[1], 1, 1});
    const ValueId y = act(name + ".y", {xs[0], out, xs[2], xs[3]});
    g.add_node({name, OpKind::kConv, {x, w}, {y}, ConvAttrs{{1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, false}, {}, {}});
    return y;
  }
  ValueId op(const std::string& name, OpKind kind, std::vector<ValueId> in, Shape out, OpAttrs attrs = {}) {
    const ValueId y = act(name + ".y", std::move(out));
    g.add_node({name, kind, std::move(in), {y}, std::move(attrs), {}, {}});
    return y;
  }
};

}  // namespace qsim
