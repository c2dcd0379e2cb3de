// Helpers shared by the quant tests: random tensors, tolerant comparison, and
// small hand-built LayerGraphs.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/layer_graph.h"
#include "graph/tensor.h"

namespace qsim::testing {

inline std::vector<float> random_floats(int64_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

inline Tensor random_tensor(Shape s, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  const int64_t n = shape_numel(s);
  return Tensor::from<float>(std::move(s), random_floats(n, seed, lo, hi));
}

// ONNX's test tolerance: |got - want| <= atol + rtol * |want| for every element.
inline ::testing::AssertionResult all_close(std::span<const float> got, std::span<const float> want,
                                            double rtol = 1e-4, double atol = 1e-5) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(w) && std::isnan(g)) continue;
    if (!(std::abs(g - w) <= atol + rtol * std::abs(w)))
      return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

// Builds LayerGraphs by hand (what the importer would produce).
class GraphBuilder {
 public:
  ValueId input(const std::string& name, Shape s, DType t = DType::kFloat32) {
    const ValueId v = g.add_value({name, t, std::move(s), false, std::nullopt});
    inputs.push_back(v);
    return v;
  }
  ValueId constant(const std::string& name, Tensor t) {
    Shape s = t.shape();
    const DType dt = t.dtype();
    return g.add_value({name, dt, std::move(s), true, std::move(t)});
  }
  ValueId value(const std::string& name, Shape s, DType t = DType::kFloat32) {
    return g.add_value({name, t, std::move(s), false, std::nullopt});
  }
  NodeId node(const std::string& name, OpKind op, std::vector<ValueId> ins, std::vector<ValueId> outs,
              OpAttrs attrs = {}, Activation act = {}) {
    Node n;
    n.name = name;
    n.op = op;
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.attrs = std::move(attrs);
    n.act = act;
    return g.add_node(std::move(n));
  }
  LayerGraph finish(std::vector<ValueId> outputs) {
    g.set_inputs(inputs);
    g.set_outputs(std::move(outputs));
    g.finalize();
    return std::move(g);
  }

  LayerGraph g;
  std::vector<ValueId> inputs;
};

}  // namespace qsim::testing
