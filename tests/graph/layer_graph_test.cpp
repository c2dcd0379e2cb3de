#include "graph/layer_graph.h"

#include <gtest/gtest.h>

#include "graph/error.h"

namespace qsim {
namespace {

// x(1x4x8x8) -> conv(8 filters 3x3, pad 1) -> relu -> conv depthwise(group 8) -> y
LayerGraph small_net() {
  LayerGraph g;
  g.name = "small";
  auto x = g.add_value({"x", DType::kFloat32, {1, 4, 8, 8}, false, {}});
  auto w1 = g.add_value({"w1", DType::kFloat32, {8, 4, 3, 3}, true, {}});
  auto b1 = g.add_value({"b1", DType::kFloat32, {8}, true, {}});
  auto h = g.add_value({"h", DType::kFloat32, {1, 8, 8, 8}, false, {}});
  auto w2 = g.add_value({"w2", DType::kFloat32, {8, 1, 3, 3}, true, {}});
  auto y = g.add_value({"y", DType::kFloat32, {1, 8, 6, 6}, false, {}});
  ConvAttrs a1{{3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, true};
  ConvAttrs a2{{3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 8, false};
  // Added out of order on purpose: finalize() must sort them.
  g.add_node({"dw", OpKind::kConv, {h, w2}, {y}, a2, {}, {}});
  g.add_node({"conv", OpKind::kConv, {x, w1, b1}, {h}, a1, {ActKind::kRelu}, {}});
  g.set_inputs({x});
  g.set_outputs({y});
  g.finalize();
  return g;
}

TEST(LayerGraph, TopologicalOrderAndGemmView) {
  LayerGraph g = small_net();
  ASSERT_EQ(g.topo_order().size(), 2u);
  EXPECT_EQ(g.node(g.topo_order()[0]).name, "conv");
  ASSERT_EQ(g.compute_layers().size(), 2u);

  const LayerStats s1 = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(s1.gemm.M, 64);
  EXPECT_EQ(s1.gemm.N, 8);
  EXPECT_EQ(s1.gemm.K, 36);
  EXPECT_EQ(s1.gemm.repeats, 1);
  EXPECT_EQ(s1.macs, 64 * 8 * 36);
  EXPECT_EQ(s1.params, 8 * 4 * 9 + 8);
  EXPECT_EQ(s1.operands.ifmap, 256);
  EXPECT_EQ(s1.operands.ofmap, 512);

  const LayerStats s2 = g.stats(g.compute_layers()[1]);  // depthwise: 8 GEMMs of 36x1x9
  EXPECT_EQ(s2.gemm.M, 36);
  EXPECT_EQ(s2.gemm.N, 1);
  EXPECT_EQ(s2.gemm.K, 9);
  EXPECT_EQ(s2.gemm.repeats, 8);
  EXPECT_EQ(g.total_macs(), 64 * 8 * 36 + 36 * 9 * 8);
}

TEST(LayerGraph, BoostGraphHasTheEdge) {
  LayerGraph g = small_net();
  EXPECT_EQ(boost::num_vertices(g.bgl()), 2u);
  EXPECT_EQ(boost::num_edges(g.bgl()), 1u);
  const auto h = *g.find_value("h");
  EXPECT_EQ(g.node(g.producer(h)).name, "conv");
  ASSERT_EQ(g.consumers(h).size(), 1u);
  EXPECT_EQ(g.node(g.consumers(h)[0]).name, "dw");
}

TEST(LayerGraph, RemoveNodeAndFinalizeRenumbers) {
  LayerGraph g = small_net();
  const NodeId dw = *g.find_node("dw");
  g.remove_node(dw);
  g.set_outputs({*g.find_value("h")});
  g.finalize();
  EXPECT_EQ(g.nodes().size(), 1u);
  EXPECT_FALSE(g.find_value("w2").has_value());  // unreferenced values are dropped
}

TEST(LayerGraph, CycleIsAnError) {
  LayerGraph g;
  auto a = g.add_value({"a", DType::kFloat32, {1}, false, {}});
  auto b = g.add_value({"b", DType::kFloat32, {1}, false, {}});
  g.add_node({"n1", OpKind::kRelu, {a}, {b}, {}, {}, {}});
  g.add_node({"n2", OpKind::kRelu, {b}, {a}, {}, {}, {}});
  g.set_outputs({b});
  EXPECT_THROW(g.finalize(), Error);
}

TEST(LayerGraph, DanglingInputIsAnError) {
  LayerGraph g;
  auto a = g.add_value({"a", DType::kFloat32, {1}, false, {}});
  auto b = g.add_value({"b", DType::kFloat32, {1}, false, {}});
  g.add_node({"n1", OpKind::kRelu, {a}, {b}, {}, {}, {}});
  g.set_outputs({b});
  try {
    g.finalize();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos);
  }
}

}  // namespace
}  // namespace qsim
