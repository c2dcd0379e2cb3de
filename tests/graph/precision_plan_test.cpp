// The one rule of stored widths, requantization points, node roles and fused groups
// (graph/precision_plan.h), on hand-built graphs with hand-derived expectations, and
// the width sources an incremental evaluator relies on.
#include "graph/precision_plan.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/model_import.h"

namespace qsim {
namespace {

struct GraphBuilder {
  LayerGraph g;
  ValueId act(const std::string& name, Shape s) { return g.add_value({name, DType::kFloat32, std::move(s), false, {}}); }
  ValueId weight(const std::string& name, Shape s) { return g.add_value({name, DType::kFloat32, std::move(s), true, {}}); }
  ValueId conv(const std::string& name, ValueId x, int64_t out = 4) {
    const Shape xs = g.value(x).shape;
    const ValueId w = weight(name + ".w", {out, xs[1], 1, 1});
    const ValueId y = act(name + ".y", {xs[0], out, xs[2], xs[3]});
    g.add_node({name, OpKind::kConv, {x, w}, {y}, ConvAttrs{{1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, false}, {}, {}});
    return y;
  }
  ValueId op(const std::string& name, OpKind kind, std::vector<ValueId> in, OpAttrs attrs = {}) {
    const ValueId y = act(name + ".y", g.value(in[0]).shape);
    g.add_node({name, kind, std::move(in), {y}, std::move(attrs), {}, {}});
    return y;
  }
  NodeId node(const std::string& name) const { return *g.find_node(name); }
  ValueId value(const std::string& name) const { return *g.find_value(name); }
};

std::vector<LayerPrecision> abits(std::initializer_list<int> a) {
  std::vector<LayerPrecision> p;
  for (int x : a) p.push_back({8, x, false});
  return p;
}

// x -> c0 -> h ; h -> c1, c2, c3 (three readers); c1 + c2 -> add -> pool -> c4
struct Fan {
  GraphBuilder b;
  Fan() {
    const ValueId x = b.act("x", {1, 4, 4, 4});
    const ValueId h = b.conv("c0", x);
    const ValueId y1 = b.conv("c1", h);
    const ValueId y2 = b.conv("c2", h);
    const ValueId y3 = b.conv("c3", h);
    const ValueId s = b.op("add", OpKind::kAdd, {y1, y2});
    const ValueId p = b.op("pool", OpKind::kMaxPool, {s}, PoolAttrs{});
    const ValueId o = b.conv("c4", p);
    b.g.set_inputs({x});
    b.g.set_outputs({o, y3});
    b.g.finalize();
  }
};

TEST(PrecisionPlan, WidthsFollowTheLayersThatProduceThem) {
  Fan f;
  const PrecisionRule rule(f.b.g, true);
  //                                c0 c1 c2 c3 c4
  const PrecisionPlan p = rule.plan(abits({6, 4, 2, 4, 8}));
  auto w = [&](const char* v) { return p.width[static_cast<std::size_t>(f.b.value(v))]; };
  EXPECT_EQ(w("x"), 6);      // a graph input: its first reader's abits
  EXPECT_EQ(w("c0.y"), 6);   // a compute layer writes at its abits
  EXPECT_EQ(w("c1.y"), 4);
  EXPECT_EQ(w("add.y"), 4);  // the widest input
  EXPECT_EQ(w("pool.y"), 4);
  EXPECT_EQ(w("c0.w"), 0);   // constants have no stored activation width
  EXPECT_EQ(rule.width(f.b.value("add.y"), abits({6, 4, 2, 4, 8})), 4);
  EXPECT_EQ(rule.width(f.b.value("add.y"), abits({6, 3, 5, 4, 8})), 5);
}

TEST(PrecisionPlan, OneRequantizationPerTensorAndWidthBeforeItsFirstReader) {
  Fan f;
  const PrecisionRule rule(f.b.g, true);
  // h (6 bits) is read at 4 by c1, at 2 by c2, at 4 again by c3: two conversions,
  // c3 shares c1's; pool.y (4 bits) is read at 8 by c4.
  const PrecisionPlan p = rule.plan(abits({6, 4, 2, 4, 8}));
  ASSERT_EQ(p.requants.size(), 3u);
  const ValueId h = f.b.value("c0.y");
  EXPECT_EQ(p.requants[0].value, h);
  EXPECT_EQ(p.requants[0].from_bits, 6);
  EXPECT_EQ(p.requants[0].to_bits, 4);
  EXPECT_EQ(p.requants[0].first_layer, 1u);
  EXPECT_EQ(p.requants[1].to_bits, 2);
  EXPECT_EQ(p.requants[1].first_layer, 2u);
  EXPECT_EQ(p.requants[2].value, f.b.value("pool.y"));
  EXPECT_EQ(p.requants[2].from_bits, 4);
  EXPECT_EQ(p.requants[2].to_bits, 8);
  EXPECT_EQ(p.requants[2].first_layer, 4u);
  EXPECT_EQ(p.input_requant, (std::vector<int>{-1, 0, 1, 0, 2}));
  // The same widths everywhere: no conversion. A reader at the stored width reads it as is.
  EXPECT_TRUE(rule.plan(abits({8, 8, 8, 8, 8})).requants.empty());
  const PrecisionPlan q = rule.plan(abits({6, 6, 2, 6, 6}));
  ASSERT_EQ(q.requants.size(), 1u);
  EXPECT_EQ(q.input_requant, (std::vector<int>{-1, -1, 0, -1, -1}));
  // Weights changing width are no boundary.
  std::vector<LayerPrecision> wb = abits({8, 8, 8, 8, 8});
  wb[2].wbits = 2;
  EXPECT_TRUE(rule.plan(wb).requants.empty());
}

TEST(PrecisionPlan, DefaultWidthForGraphInputsReadFirstByOtherOps) {
  // x -> relu -> c0 -> y: x is first read by a non-compute op, so it is stored at the
  // first compute layer's abits (the default width), and so is relu's output.
  GraphBuilder b;
  const ValueId x = b.act("x", {1, 4, 2, 2});
  const ValueId r = b.op("relu", OpKind::kRelu, {x});
  const ValueId y = b.conv("c0", r);
  const ValueId z = b.conv("c1", y);
  b.g.set_inputs({x});
  b.g.set_outputs({z});
  b.g.finalize();
  const PrecisionRule rule(b.g, true);
  const PrecisionPlan p = rule.plan(abits({4, 2}));
  EXPECT_EQ(p.width[static_cast<std::size_t>(x)], 4);
  EXPECT_EQ(p.width[static_cast<std::size_t>(r)], 4);
  EXPECT_EQ(rule.role(b.node("relu")), NodeRole::kVector);  // nothing to fuse into: a graph input
  EXPECT_EQ(p.requants.size(), 1u);                         // y (4) read at 2 by c1
}

TEST(PrecisionPlan, RolesAndFusedGroups) {
  // A residual block with a projection shortcut: c1 and c2 both feed the Add, which
  // their output stage applies when fusion is on: one group, the Add fused. The Relu
  // after the Add rides too; the Flatten is a view; the pool always runs on the
  // vector unit.
  GraphBuilder b;
  const ValueId x = b.act("x", {1, 4, 4, 4});
  const ValueId h = b.conv("c0", x);
  const ValueId y1 = b.conv("c1", h);
  const ValueId y2 = b.conv("shortcut", h);
  const ValueId s = b.op("add", OpKind::kAdd, {y1, y2});
  const ValueId r = b.op("relu", OpKind::kRelu, {s});
  const ValueId p = b.op("pool", OpKind::kGlobalAveragePool, {r});
  const ValueId fl = b.op("flat", OpKind::kFlatten, {p}, AxisAttrs{1});
  const ValueId o = b.conv("fc", fl);
  b.g.set_inputs({x});
  b.g.set_outputs({o});
  b.g.finalize();
  const PrecisionRule on(b.g, true);
  EXPECT_EQ(on.role(b.node("c0")), NodeRole::kCompute);
  EXPECT_EQ(on.role(b.node("add")), NodeRole::kFused);
  EXPECT_EQ(on.role(b.node("relu")), NodeRole::kFused);
  EXPECT_EQ(on.role(b.node("pool")), NodeRole::kVector);
  EXPECT_EQ(on.role(b.node("flat")), NodeRole::kFree);
  ASSERT_EQ(on.groups().size(), 3u);
  EXPECT_EQ(on.groups()[0].layers, (std::vector<std::size_t>{0}));
  EXPECT_EQ(on.groups()[1].layers, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(on.groups()[1].fused, (std::vector<NodeId>{b.node("add"), b.node("relu")}));
  EXPECT_EQ(on.groups()[2].layers, (std::vector<std::size_t>{3}));
  const PrecisionRule off(b.g, false);
  EXPECT_EQ(off.role(b.node("add")), NodeRole::kVector);
  EXPECT_EQ(off.role(b.node("relu")), NodeRole::kVector);
  EXPECT_EQ(off.groups().size(), 4u);
  // Fusion does not change widths or conversions.
  const auto prec = abits({8, 4, 2, 8});
  const PrecisionPlan a = on.plan(prec), c = off.plan(prec);
  EXPECT_EQ(a.width, c.width);
  EXPECT_EQ(a.requants.size(), c.requants.size());
}

// Every stored width is the largest abits over its width sources, and changing one
// layer's abits changes only the widths whose sources include it: what lets an
// incremental evaluator re-derive exactly the widths a move touches.
TEST(PrecisionPlan, WidthSourcesDecideEveryWidthOnRealModels) {
  std::mt19937 rng(5);
  for (const char* name : {"fmnist_resnet", "fmnist_mobilenetv2", "fmnist_squeezenet"}) {
    SCOPED_TRACE(name);
    OnnxImportOptions io;
    io.keep_weights = false;
    const LayerGraph g = import_model(std::string(QSIM_SOURCE_DIR) + "/models/" + name + ".onnx", io);
    const PrecisionRule rule(g, true);
    const int bits[] = {2, 3, 4, 8};
    std::vector<LayerPrecision> p(rule.layers());
    for (auto& x : p) x = {8, bits[rng() % 4], false};
    for (int trial = 0; trial < 50; ++trial) {
      const PrecisionPlan before = rule.plan(p);
      const std::size_t l = rng() % p.size();
      p[l].abits = bits[rng() % 4];
      const PrecisionPlan after = rule.plan(p);
      for (std::size_t v = 0; v < g.values().size(); ++v) {
        const auto src = rule.width_sources(static_cast<ValueId>(v));
        if (!rule.is_activation(static_cast<ValueId>(v))) {
          EXPECT_EQ(after.width[v], 0);
          continue;
        }
        int m = 0;
        for (uint32_t s : src) m = std::max(m, p[s].abits);
        EXPECT_EQ(after.width[v], m);
        if (std::find(src.begin(), src.end(), static_cast<uint32_t>(l)) == src.end()) {
          EXPECT_EQ(after.width[v], before.width[v]);
        }
      }
      // Conversions: exactly the readers whose abits differ from the stored width.
      for (std::size_t i = 0; i < rule.layers(); ++i) {
        const ValueId x = rule.layer_input(i);
        const bool differs = x >= 0 && after.width[static_cast<std::size_t>(x)] != p[i].abits;
        EXPECT_EQ(after.input_requant[i] >= 0, differs) << i;
        if (differs) {
          const Requantization& q = after.requants[static_cast<std::size_t>(after.input_requant[i])];
          EXPECT_EQ(q.value, x);
          EXPECT_EQ(q.to_bits, p[i].abits);
          EXPECT_LE(q.first_layer, i);
        }
      }
    }
  }
}

}  // namespace
}  // namespace qsim
