// ONNX importer: shape inference per operator and opset, constant folding,
// initializer decoding, BatchNormalization folding, fusion and every error path.
// Models are built in C++ with the protobuf classes (tests/graph/onnx_test_util.h).
#include "graph/onnx_import.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/passes.h"
#include "tests/graph/onnx_test_util.h"

namespace qsim {
namespace {

using testing::attr_f;
using testing::attr_i;
using testing::attr_ints;
using testing::attr_s;
using testing::attr_t;
using testing::OnnxModel;
using onnx::TensorProto;

// ---------------------------------------------------------------- helpers

const Node& node_of(const LayerGraph& g, OpKind op, int nth = 0) {
  for (NodeId id : g.topo_order())
    if (g.node(id).op == op && nth-- == 0) return g.node(id);
  throw std::runtime_error("no node of kind " + std::string(op_name(op)));
}

int count_of(const LayerGraph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

const Value& out0(const LayerGraph& g) { return g.value(g.outputs()[0]); }

// The message of the qsim::Error `f` throws; fails the test if it throws nothing.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no qsim::Error thrown";
  return {};
}

// One-line message naming the file, containing `part`.
void expect_import_error(const OnnxModel& m, const std::string& part, const OnnxImportOptions& o = {}) {
  const std::string msg = error_of([&] { m.import(o); });
  EXPECT_EQ(msg.rfind("m.onnx: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(part), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// A one-node model: every input is a graph input of the given shape; output "y".
struct OneOp {
  OnnxModel m;
  onnx::NodeProto* n;
  OneOp(const std::string& op, std::vector<std::pair<std::string, std::vector<int64_t>>> inputs, int64_t opset = 13,
        int elem = TensorProto::FLOAT, int outputs = 1)
      : m(opset) {
    std::vector<std::string> names;
    for (auto& [name, dims] : inputs) {
      m.input(name, dims, elem);
      names.push_back(name);
    }
    std::vector<std::string> outs{"y"};
    for (int i = 1; i < outputs; ++i) outs.push_back(fmt::format("y{}", i));
    n = m.node(op, names, outs, "op");
    for (auto& o : outs) m.output(o, 0);  // no declared type: nothing to check against
  }
  LayerGraph import(const OnnxImportOptions& o = {}) const { return m.import(o); }
  Shape shape(const OnnxImportOptions& o = {}) const { return out0(m.import(o)).shape; }
};

// ---------------------------------------------------------------- Conv

TEST(OnnxConv, PadsStridesDilations) {
  {
    OneOp t("Conv", {{"x", {1, 3, 32, 32}}, {"w", {8, 3, 3, 3}}});
    attr_ints(t.n, "pads", {1, 1, 1, 1});
    EXPECT_EQ(t.shape(), (Shape{1, 8, 32, 32}));
  }
  {
    OneOp t("Conv", {{"x", {1, 3, 32, 32}}, {"w", {8, 3, 3, 3}}});
    attr_ints(t.n, "strides", {2, 2});
    EXPECT_EQ(t.shape(), (Shape{1, 8, 15, 15}));
  }
  {
    OneOp t("Conv", {{"x", {1, 3, 32, 32}}, {"w", {8, 3, 3, 3}}});
    attr_ints(t.n, "dilations", {2, 2});
    EXPECT_EQ(t.shape(), (Shape{1, 8, 28, 28}));
  }
  {  // asymmetric pads, different strides per axis
    OneOp t("Conv", {{"x", {1, 1, 7, 5}}, {"w", {1, 1, 3, 3}}});
    attr_ints(t.n, "strides", {2, 2});
    attr_ints(t.n, "pads", {1, 0, 1, 0});
    EXPECT_EQ(t.shape(), (Shape{1, 1, 4, 2}));  // ONNX test_conv_with_strides_and_asymmetric_padding
  }
}

TEST(OnnxConv, GroupsAndDepthwiseGemmView) {
  OneOp t("Conv", {{"x", {1, 4, 10, 10}}, {"w", {6, 2, 3, 3}}});
  attr_i(t.n, "group", 2);
  const LayerGraph g = t.import();
  EXPECT_EQ(out0(g).shape, (Shape{1, 6, 8, 8}));
  const LayerStats s = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(s.gemm.M, 64);
  EXPECT_EQ(s.gemm.N, 3);
  EXPECT_EQ(s.gemm.K, 18);
  EXPECT_EQ(s.gemm.repeats, 2);
  EXPECT_EQ(s.macs, 1 * 6 * 8 * 8 * 2 * 9);

  OneOp dw("Conv", {{"x", {2, 8, 10, 10}}, {"w", {8, 1, 3, 3}}});
  attr_i(dw.n, "group", 8);
  attr_ints(dw.n, "pads", {1, 1, 1, 1});
  const LayerGraph gd = dw.import();
  EXPECT_EQ(out0(gd).shape, (Shape{2, 8, 10, 10}));
  const LayerStats d = gd.stats(gd.compute_layers()[0]);
  EXPECT_EQ(d.gemm.M, 200);
  EXPECT_EQ(d.gemm.N, 1);
  EXPECT_EQ(d.gemm.K, 9);
  EXPECT_EQ(d.gemm.repeats, 8);
  EXPECT_EQ(d.macs, 2 * 8 * 10 * 10 * 9);
}

TEST(OnnxConv, AutoPad) {
  auto pads_of = [](const std::string& mode, int64_t k, int64_t stride, Shape* y) {
    OneOp t("Conv", {{"x", {1, 1, 5, 5}}, {"w", {1, 1, k, k}}});
    attr_s(t.n, "auto_pad", mode);
    attr_ints(t.n, "strides", {stride, stride});
    const LayerGraph g = t.import();
    *y = out0(g).shape;
    return std::get<ConvAttrs>(node_of(g, OpKind::kConv).attrs).pads;
  };
  Shape y;
  // total padding 1 (odd): SAME_UPPER puts it at the end, SAME_LOWER at the beginning.
  EXPECT_EQ(pads_of("SAME_UPPER", 2, 2, &y), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(y, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(pads_of("SAME_LOWER", 2, 2, &y), (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(y, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(pads_of("SAME_LOWER", 3, 2, &y), (std::vector<int64_t>{1, 1, 1, 1}));  // test_conv_with_autopad_same
  EXPECT_EQ(y, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(pads_of("VALID", 3, 2, &y), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(y, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(pads_of("NOTSET", 3, 1, &y), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(y, (Shape{1, 1, 3, 3}));
}

TEST(OnnxConv, OneAndThreeSpatialDims) {
  OneOp c1("Conv", {{"x", {1, 2, 10}}, {"w", {4, 2, 3}}});
  const LayerGraph g1 = c1.import();
  EXPECT_EQ(out0(g1).shape, (Shape{1, 4, 8}));
  const LayerStats s1 = g1.stats(g1.compute_layers()[0]);
  EXPECT_EQ(s1.gemm.M, 8);
  EXPECT_EQ(s1.gemm.K, 6);

  OneOp c3("Conv", {{"x", {1, 2, 4, 8, 8}}, {"w", {3, 2, 3, 3, 3}}});
  attr_ints(c3.n, "pads", {1, 1, 1, 1, 1, 1});
  const LayerGraph g3 = c3.import();
  EXPECT_EQ(out0(g3).shape, (Shape{1, 3, 4, 8, 8}));
  const LayerStats s3 = g3.stats(g3.compute_layers()[0]);
  EXPECT_EQ(s3.gemm.M, 256);
  EXPECT_EQ(s3.gemm.N, 3);
  EXPECT_EQ(s3.gemm.K, 54);
  EXPECT_EQ(std::get<ConvAttrs>(node_of(g3, OpKind::kConv).attrs).kernel, (std::vector<int64_t>{3, 3, 3}));
}

TEST(OnnxConv, ShapeErrors) {
  {
    OneOp t("Conv", {{"x", {1, 3, 8, 8}}, {"w", {8, 4, 3, 3}}});
    expect_import_error(t.m, "input has 3 channels");
  }
  {
    OneOp t("Conv", {{"x", {1, 3, 8}}, {"w", {8, 3, 3, 3}}});
    expect_import_error(t.m, "rank");
  }
  {
    OneOp t("Conv", {{"x", {1, 3, 8, 8}}, {"w", {8, 3, 3, 3}}});
    attr_ints(t.n, "kernel_shape", {5, 5});
    expect_import_error(t.m, "kernel_shape 5 does not match");
  }
  {
    OneOp t("Conv", {{"x", {1, 3, 2, 2}}, {"w", {8, 3, 3, 3}}});
    expect_import_error(t.m, "larger than the padded input");
  }
  {
    OneOp t("Conv", {{"x", {1, 4, 8, 8}}, {"w", {6, 2, 3, 3}}, {"b", {5}}});
    attr_i(t.n, "group", 2);
    expect_import_error(t.m, "bias B has shape 5");
  }
  {
    OneOp t("Conv", {{"x", {1, 3, 8, 8}}, {"w", {8, 3, 3, 3}}});
    attr_s(t.n, "auto_pad", "SAME");
    expect_import_error(t.m, "auto_pad 'SAME'");
  }
}

// ---------------------------------------------------------------- pooling

TEST(OnnxPool, CeilModeDilationsIndices) {
  auto pool = [](const std::string& op, Shape x, std::vector<int64_t> k, std::function<void(onnx::NodeProto*)> f) {
    OneOp t(op, {{"x", x}});
    auto* a = t.n->add_attribute();
    a->set_name("kernel_shape");
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : k) a->add_ints(v);
    f(t.n);
    return t.shape();
  };
  EXPECT_EQ(pool("MaxPool", {1, 1, 4, 4}, {3, 3}, [](auto* n) { attr_ints(n, "strides", {2, 2}); }),
            (Shape{1, 1, 1, 1}));
  EXPECT_EQ(pool("MaxPool", {1, 1, 4, 4}, {3, 3},
                 [](auto* n) {
                   attr_ints(n, "strides", {2, 2});
                   attr_i(n, "ceil_mode", 1);
                 }),
            (Shape{1, 1, 2, 2}));  // test_maxpool_2d_ceil
  // ceil_mode drops a last window that would start inside the end padding.
  EXPECT_EQ(pool("MaxPool", {1, 1, 4}, {3},
                 [](auto* n) {
                   attr_ints(n, "strides", {2});
                   attr_ints(n, "pads", {0, 2});
                   attr_i(n, "ceil_mode", 1);
                 }),
            (Shape{1, 1, 2}));
  EXPECT_EQ(pool("MaxPool", {1, 1, 8, 8}, {2, 2}, [](auto* n) { attr_ints(n, "dilations", {2, 2}); }),
            (Shape{1, 1, 6, 6}));
  EXPECT_EQ(pool("AveragePool", {1, 3, 32}, {2}, [](auto*) {}), (Shape{1, 3, 31}));
  EXPECT_EQ(pool("AveragePool", {1, 3, 32, 32, 32}, {2, 2, 2}, [](auto*) {}), (Shape{1, 3, 31, 31, 31}));
  EXPECT_EQ(pool("AveragePool", {1, 1, 5, 5}, {3, 3}, [](auto* n) { attr_s(n, "auto_pad", "SAME_UPPER"); }),
            (Shape{1, 1, 5, 5}));

  OneOp mp("MaxPool", {{"x", {1, 3, 5, 5}}}, 12, TensorProto::FLOAT, 2);
  attr_ints(mp.n, "kernel_shape", {2, 2});
  attr_ints(mp.n, "strides", {2, 2});
  attr_i(mp.n, "storage_order", 1);
  const LayerGraph g = mp.import();
  const Node& n = node_of(g, OpKind::kMaxPool);
  ASSERT_EQ(n.outputs.size(), 2u);
  EXPECT_EQ(g.value(n.outputs[1]).dtype, DType::kInt64);
  EXPECT_EQ(g.value(n.outputs[1]).shape, (Shape{1, 3, 2, 2}));
  EXPECT_EQ(std::get<PoolAttrs>(n.attrs).storage_order, 1);

  OneOp ap("AveragePool", {{"x", {1, 1, 4, 4}}}, 11);
  attr_ints(ap.n, "kernel_shape", {3, 3});
  attr_ints(ap.n, "pads", {1, 1, 1, 1});
  attr_i(ap.n, "count_include_pad", 1);
  const LayerGraph ga = ap.import();
  const auto& pa = std::get<PoolAttrs>(node_of(ga, OpKind::kAveragePool).attrs);
  EXPECT_TRUE(pa.count_include_pad);
  EXPECT_EQ(pa.pads, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(out0(ga).shape, (Shape{1, 1, 4, 4}));

  OneOp nok("MaxPool", {{"x", {1, 1, 4, 4}}});
  expect_import_error(nok.m, "kernel_shape' is required");
}

TEST(OnnxPool, GlobalAveragePoolUint8MaxPool) {
  OneOp g("GlobalAveragePool", {{"x", {2, 16, 7, 5}}});
  EXPECT_EQ(g.shape(), (Shape{2, 16, 1, 1}));
  OneOp u("MaxPool", {{"x", {1, 1, 5, 5}}}, 12, TensorProto::UINT8);
  attr_ints(u.n, "kernel_shape", {5, 5});
  const LayerGraph gu = u.import();
  EXPECT_EQ(out0(gu).dtype, DType::kUInt8);
  EXPECT_EQ(out0(gu).shape, (Shape{1, 1, 1, 1}));
}

// ---------------------------------------------------------------- Gemm / MatMul

TEST(OnnxGemm, TransposesAndBias) {
  OneOp t("Gemm", {{"a", {4, 3}}, {"b", {5, 4}}, {"c", {5}}});
  attr_i(t.n, "transA", 1);
  attr_i(t.n, "transB", 1);
  attr_f(t.n, "alpha", 0.5f);
  const LayerGraph g = t.import();
  EXPECT_EQ(out0(g).shape, (Shape{3, 5}));
  const LayerStats s = g.stats(g.compute_layers()[0]);
  EXPECT_EQ(s.gemm.M, 3);
  EXPECT_EQ(s.gemm.N, 5);
  EXPECT_EQ(s.gemm.K, 4);
  const auto& a = std::get<GemmAttrs>(node_of(g, OpKind::kGemm).attrs);
  EXPECT_TRUE(a.trans_a && a.trans_b && a.has_c);
  EXPECT_FLOAT_EQ(a.alpha, 0.5f);

  OneOp bad("Gemm", {{"a", {4, 3}}, {"b", {3, 5}}, {"c", {4}}});
  expect_import_error(bad.m, "shapes 4x5 and 4 cannot be broadcast");
  OneOp k("Gemm", {{"a", {4, 3}}, {"b", {4, 5}}});
  expect_import_error(k.m, "inner dimensions differ");
}

TEST(OnnxMatMul, BatchDimsGemmView) {
  struct Case {
    Shape a, b, y;
    int64_t M, N, K, repeats;
  };
  const Case cases[] = {
      {{2, 3, 4, 5}, {5, 6}, {2, 3, 4, 6}, 24, 6, 5, 1},  // 2-D B: batch dims fold into M
      {{2, 1, 4, 5}, {3, 5, 6}, {2, 3, 4, 6}, 4, 6, 5, 6},  // broadcast batch
      {{5}, {3, 5, 6}, {3, 6}, 1, 6, 5, 3},                 // vector A, batched B
      {{2, 4, 5}, {5}, {2, 4}, 8, 1, 5, 1},                 // vector B
      {{5}, {5}, {}, 1, 1, 5, 1},                           // dot product
  };
  for (const Case& c : cases) {
    OneOp t("MatMul", {{"a", c.a}, {"b", c.b}});
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, c.y) << shape_str(c.a) << " x " << shape_str(c.b);
    const LayerStats s = g.stats(g.compute_layers()[0]);
    EXPECT_EQ(s.gemm.M, c.M) << shape_str(c.a) << " x " << shape_str(c.b);
    EXPECT_EQ(s.gemm.N, c.N) << shape_str(c.a) << " x " << shape_str(c.b);
    EXPECT_EQ(s.gemm.K, c.K) << shape_str(c.a) << " x " << shape_str(c.b);
    EXPECT_EQ(s.gemm.repeats, c.repeats) << shape_str(c.a) << " x " << shape_str(c.b);
    EXPECT_EQ(s.macs, std::max<int64_t>(1, shape_numel(c.y)) * c.K);
  }
  OneOp bad("MatMul", {{"a", {2, 3}}, {"b", {4, 5}}});
  expect_import_error(bad.m, "inner dimensions differ");
  OneOp bc("MatMul", {{"a", {2, 3, 4}}, {"b", {3, 4, 5}}});
  expect_import_error(bc.m, "cannot be broadcast");
}

// ---------------------------------------------------------------- shape ops

TEST(OnnxShapeOps, FlattenReshapeTranspose) {
  {
    OneOp t("Flatten", {{"x", {2, 3, 4, 5}}});
    attr_i(t.n, "axis", 0);
    EXPECT_EQ(t.shape(), (Shape{1, 120}));
  }
  {
    OneOp t("Flatten", {{"x", {2, 3, 4, 5}}});
    attr_i(t.n, "axis", -1);
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{24, 5}));
    EXPECT_EQ(std::get<AxisAttrs>(node_of(g, OpKind::kFlatten).attrs).axis, 3);
  }
  {
    OneOp t("Flatten", {{"x", {2, 3, 4, 5}}});
    EXPECT_EQ(t.shape(), (Shape{2, 60}));
  }
  auto reshape = [](Shape x, std::vector<int64_t> target, int64_t opset, bool allowzero) {
    OnnxModel m(opset);
    m.input("x", x);
    m.init_i64("s", {static_cast<int64_t>(target.size())}, target);
    auto* n = m.node("Reshape", {"x", "s"}, {"y"});
    if (allowzero) attr_i(n, "allowzero", 1);
    m.output("y");
    const LayerGraph g = m.import();
    EXPECT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).inputs.size(), 1u);  // the shape operand is resolved
    return out0(g).shape;
  };
  EXPECT_EQ(reshape({2, 3, 4}, {4, 0, -1}, 13, false), (Shape{4, 3, 2}));
  EXPECT_EQ(reshape({2, 3, 4}, {-1}, 13, false), (Shape{24}));
  EXPECT_EQ(reshape({0, 3, 4}, {3, 4, 0}, 14, true), (Shape{3, 4, 0}));  // test_reshape_allowzero_reordered
  EXPECT_EQ(reshape({2, 3, 4}, {2, 0, 0, 1}, 14, false), (Shape{2, 3, 4, 1}));
  {  // opset < 5: the shape is an attribute
    OneOp t("Reshape", {{"x", {2, 3, 4}}}, 1);
    attr_ints(t.n, "shape", {6, -1});
    EXPECT_EQ(t.shape(), (Shape{6, 4}));
  }
  {
    OnnxModel m(13);
    m.input("x", {2, 3, 4});
    m.init_i64("s", {2}, {5, -1});
    m.node("Reshape", {"x", "s"}, {"y"});
    m.output("y");
    expect_import_error(m, "cannot reshape 2x3x4");
  }
  {
    OneOp t("Transpose", {{"x", {2, 3, 4}}});
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{4, 3, 2}));
    EXPECT_EQ(std::get<AxesAttrs>(node_of(g, OpKind::kTranspose).attrs).axes, (std::vector<int64_t>{2, 1, 0}));
  }
  {
    OneOp t("Transpose", {{"x", {2, 3, 4}}});
    attr_ints(t.n, "perm", {1, 2, 0});
    EXPECT_EQ(t.shape(), (Shape{3, 4, 2}));
  }
  {
    OneOp t("Transpose", {{"x", {2, 3, 4}}});
    attr_ints(t.n, "perm", {1, 1, 0});
    expect_import_error(t.m, "not a permutation");
  }
}

TEST(OnnxShapeOps, SqueezeUnsqueezeAcrossOpsets) {
  {  // opset 11: axes attribute, negative allowed
    OneOp t("Squeeze", {{"x", {1, 3, 1, 5}}}, 11);
    attr_ints(t.n, "axes", {-2});
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{1, 3, 5}));
    EXPECT_EQ(std::get<AxesAttrs>(node_of(g, OpKind::kSqueeze).attrs).axes, (std::vector<int64_t>{2}));
  }
  {  // opset 13: axes input
    OnnxModel m(13);
    m.input("x", {1, 3, 1, 5});
    m.init_i64("axes", {2}, {0, 2});
    m.node("Squeeze", {"x", "axes"}, {"y"});
    m.output("y");
    EXPECT_EQ(out0(m.import()).shape, (Shape{3, 5}));
  }
  {  // no axes: every 1
    OneOp t("Squeeze", {{"x", {1, 3, 1, 5}}}, 13);
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{3, 5}));
    EXPECT_EQ(std::get<AxesAttrs>(node_of(g, OpKind::kSqueeze).attrs).axes, (std::vector<int64_t>{0, 2}));
  }
  {
    OneOp t("Squeeze", {{"x", {1, 3}}}, 11);
    attr_ints(t.n, "axes", {1});
    expect_import_error(t.m, "cannot squeeze axis 1 of size 3");
  }
  {  // opset 11 attribute, unsorted and negative (relative to the output rank)
    OneOp t("Unsqueeze", {{"x", {3, 4, 5}}}, 11);
    attr_ints(t.n, "axes", {5, 0, -3});
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{1, 3, 4, 1, 5, 1}));
    EXPECT_EQ(std::get<AxesAttrs>(node_of(g, OpKind::kUnsqueeze).attrs).axes, (std::vector<int64_t>{0, 3, 5}));
  }
  {
    OnnxModel m(13);
    m.input("x", {3, 4});
    m.init_i64("axes", {1}, {1});
    m.node("Unsqueeze", {"x", "axes"}, {"y"});
    m.output("y");
    EXPECT_EQ(out0(m.import()).shape, (Shape{3, 1, 4}));
  }
  {
    OneOp t("Unsqueeze", {{"x", {3, 4}}}, 13);  // opset 13 needs the axes input
    expect_import_error(t.m, "axes are required");
  }
  {
    OneOp t("Unsqueeze", {{"x", {3, 4}}}, 11);
    attr_ints(t.n, "axes", {1, 1});
    expect_import_error(t.m, "lists an axis twice");
  }
}

TEST(OnnxShapeOps, ConcatSoftmaxLrnPad) {
  {
    OneOp t("Concat", {{"a", {2, 3, 4}}, {"b", {2, 3, 5}}});
    attr_i(t.n, "axis", -1);
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{2, 3, 9}));
    EXPECT_EQ(std::get<AxisAttrs>(node_of(g, OpKind::kConcat).attrs).axis, 2);
  }
  {
    OneOp t("Concat", {{"a", {2, 3, 4}}, {"b", {2, 4, 4}}});
    attr_i(t.n, "axis", 2);
    expect_import_error(t.m, "incompatible");
  }
  {
    OneOp t("Concat", {{"a", {2, 3}}, {"b", {2, 3}}});
    expect_import_error(t.m, "attribute 'axis' is required");
  }
  {  // Softmax before 13: default axis 1, 2-D coercion
    OneOp t("Softmax", {{"x", {2, 3, 4}}}, 11);
    const LayerGraph g = t.import();
    const auto& a = std::get<AxisAttrs>(node_of(g, OpKind::kSoftmax).attrs);
    EXPECT_EQ(a.axis, 1);
    EXPECT_TRUE(a.legacy_softmax);
  }
  {  // from 13: default axis -1, per-axis
    OneOp t("Softmax", {{"x", {2, 3, 4}}}, 13);
    const LayerGraph g = t.import();
    const auto& a = std::get<AxisAttrs>(node_of(g, OpKind::kSoftmax).attrs);
    EXPECT_EQ(a.axis, 2);
    EXPECT_FALSE(a.legacy_softmax);
  }
  {
    OneOp t("LRN", {{"x", {1, 8, 5, 5}}});
    attr_i(t.n, "size", 3);
    attr_f(t.n, "alpha", 0.0002f);
    const LayerGraph g = t.import();
    const auto& a = std::get<LRNAttrs>(node_of(g, OpKind::kLRN).attrs);
    EXPECT_EQ(a.size, 3);
    EXPECT_FLOAT_EQ(a.alpha, 0.0002f);
    EXPECT_FLOAT_EQ(a.beta, 0.75f);
    EXPECT_FLOAT_EQ(a.bias, 1.0f);
  }
  {  // Pad-2: attributes
    OneOp t("Pad", {{"x", {1, 3, 4, 4}}}, 2);
    attr_ints(t.n, "pads", {0, 0, 1, 2, 0, 0, 3, 4});
    attr_s(t.n, "mode", "reflect");
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{1, 3, 8, 10}));
    EXPECT_EQ(std::get<PadAttrs>(node_of(g, OpKind::kPad).attrs).mode, PadMode::kReflect);
  }
  {  // Pad-11: pads and constant_value inputs; negative pads crop
    OnnxModel m(11);
    m.input("x", {1, 3, 4, 4});
    m.init_i64("pads", {8}, {0, 0, 1, -1, 0, 0, 1, -1});
    m.init_f("v", {}, {2.5f});
    m.node("Pad", {"x", "pads", "v"}, {"y"});
    m.output("y");
    const LayerGraph g = m.import();
    EXPECT_EQ(out0(g).shape, (Shape{1, 3, 6, 2}));
    const auto& a = std::get<PadAttrs>(node_of(g, OpKind::kPad).attrs);
    EXPECT_DOUBLE_EQ(a.value, 2.5);
    EXPECT_EQ(node_of(g, OpKind::kPad).inputs.size(), 1u);
  }
  {  // Pad-18: axes input expands to every axis
    OnnxModel m(18);
    m.input("x", {1, 3, 4, 4});
    m.init_i64("pads", {4}, {1, 2, 3, 4});
    m.init_i64("axes", {2}, {-1, 1});
    m.node("Pad", {"x", "pads", "", "axes"}, {"y"});
    m.output("y");
    const LayerGraph g = m.import();
    EXPECT_EQ(out0(g).shape, (Shape{1, 9, 4, 8}));
    EXPECT_EQ(std::get<PadAttrs>(node_of(g, OpKind::kPad).attrs).pads,
              (std::vector<int64_t>{0, 2, 0, 1, 0, 4, 0, 3}));
  }
  {
    OneOp t("Pad", {{"x", {1, 3}}}, 2);
    attr_ints(t.n, "pads", {0, 0, 0, 0});
    attr_s(t.n, "mode", "wrap");
    expect_import_error(t.m, "mode 'wrap' is not supported");
  }
}

TEST(OnnxElementwise, BroadcastingAndIntegerTypes) {
  {
    OneOp t("Add", {{"a", {2, 3, 4, 5}}, {"b", {5}}});
    EXPECT_EQ(t.shape(), (Shape{2, 3, 4, 5}));
  }
  {
    OneOp t("Mul", {{"a", {1, 3, 1}}, {"b", {2, 1, 4}}});
    EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  }
  {
    OneOp t("Sum", {{"a", {3, 1}}, {"b", {1, 4}}, {"c", {4}}});
    const LayerGraph g = t.import();
    EXPECT_EQ(out0(g).shape, (Shape{3, 4}));
    EXPECT_EQ(node_of(g, OpKind::kSum).inputs.size(), 3u);
  }
  {
    OneOp t("Add", {{"a", {3}}, {"b", {4}}});
    expect_import_error(t.m, "cannot be broadcast");
  }
  const std::pair<int, DType> int_types[] = {{TensorProto::UINT8, DType::kUInt8},
                                             {TensorProto::INT8, DType::kInt8},
                                             {TensorProto::INT32, DType::kInt32},
                                             {TensorProto::INT64, DType::kInt64}};
  for (const auto& [elem, dtype] : int_types) {
    OneOp add("Add", {{"a", {2, 3}}, {"b", {3}}}, 14, elem);
    EXPECT_EQ(out0(add.import()).dtype, dtype);
    OneOp clip("Clip", {{"x", {2, 3}}}, 13, elem);
    EXPECT_NO_THROW(clip.import());
    OneOp cat("Concat", {{"a", {2, 3}}, {"b", {2, 3}}}, 13, elem);
    attr_i(cat.n, "axis", 0);
    EXPECT_NO_THROW(cat.import());
    OneOp id("Identity", {{"x", {2, 3}}}, 13, elem);
    EXPECT_NO_THROW(id.import());
  }
  {  // int32 Reshape and uint8 Transpose
    OnnxModel m(14);
    m.input("x", {2, 3}, TensorProto::INT32);
    m.init_i64("s", {1}, {-1});
    m.node("Reshape", {"x", "s"}, {"y"});
    m.output("y", TensorProto::INT32);
    EXPECT_EQ(out0(m.import()).dtype, DType::kInt32);
  }
  {
    OnnxModel m(13);
    m.input("a", {2}, TensorProto::FLOAT);
    m.input("b", {2}, TensorProto::INT64);
    m.node("Add", {"a", "b"}, {"y"});
    m.output("y");
    expect_import_error(m, "A is float32 but B is int64");
  }
}

// ---------------------------------------------------------------- activations

TEST(OnnxActivation, ClipAcrossOpsets) {
  {  // Clip-6: attributes
    OneOp t("Clip", {{"x", {4}}}, 6);
    attr_f(t.n, "min", -1.0f);
    attr_f(t.n, "max", 6.0f);
    const LayerGraph g = t.import();
    const auto& a = std::get<ActAttrs>(node_of(g, OpKind::kClip).attrs).act;
    EXPECT_EQ(a.kind, ActKind::kClip);
    EXPECT_FLOAT_EQ(a.alpha, -1.0f);
    EXPECT_FLOAT_EQ(a.beta, 6.0f);
  }
  {  // Clip-11: inputs; a missing bound is infinite
    OnnxModel m(11);
    m.input("x", {4});
    m.init_f("hi", {}, {6.0f});
    m.node("Clip", {"x", "", "hi"}, {"y"});
    m.output("y");
    const LayerGraph g = m.import();
    const auto& a = std::get<ActAttrs>(node_of(g, OpKind::kClip).attrs).act;
    EXPECT_EQ(a.alpha, -std::numeric_limits<float>::infinity());
    EXPECT_FLOAT_EQ(a.beta, 6.0f);
    EXPECT_EQ(node_of(g, OpKind::kClip).inputs.size(), 1u);
  }
  {  // a bound fed by an unbound graph input cannot be static
    OneOp t("Clip", {{"x", {4}}, {"lo", {}}}, 13);
    expect_import_error(t.m, "must be a constant");
    OnnxImportOptions o;
    o.constant_inputs.emplace("lo", Tensor::scalar<float>(-2.0f));
    const LayerGraph g = t.import(o);
    EXPECT_FLOAT_EQ(std::get<ActAttrs>(node_of(g, OpKind::kClip).attrs).act.alpha, -2.0f);
  }
  {
    OneOp t("LeakyRelu", {{"x", {4}}});
    EXPECT_FLOAT_EQ(std::get<ActAttrs>(node_of(t.import(), OpKind::kLeakyRelu).attrs).act.alpha, 0.01f);
    OneOp h("HardSigmoid", {{"x", {4}}}, 6);
    const LayerGraph gh = h.import();
    const auto& a = std::get<ActAttrs>(node_of(gh, OpKind::kHardSigmoid).attrs).act;
    EXPECT_FLOAT_EQ(a.alpha, 0.2f);
    EXPECT_FLOAT_EQ(a.beta, 0.5f);
    OneOp s("HardSwish", {{"x", {4}}}, 14);
    EXPECT_EQ(node_of(s.import(), OpKind::kHardSwish).op, OpKind::kHardSwish);
  }
}

// ---------------------------------------------------------------- BatchNormalization / Dropout / Identity

TEST(OnnxBatchNorm, OpsetDifferencesAndErrors) {
  auto bn_model = [](int64_t opset) {
    OnnxModel m(opset);
    m.input("x", {1, 2, 3, 3});
    for (const char* p : {"s", "b", "m", "v"}) m.init_f(p, {2}, {1.0f, 1.0f});
    return m;
  };
  {  // BN after a graph input cannot fold: stays
    OnnxModel m = bn_model(9);
    auto* n = m.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, "bn");
    attr_f(n, "epsilon", 1e-3f);
    m.output("y");
    const LayerGraph g = m.import();
    EXPECT_EQ(count_of(g, OpKind::kBatchNorm), 1);
    EXPECT_FLOAT_EQ(std::get<BatchNormAttrs>(node_of(g, OpKind::kBatchNorm).attrs).epsilon, 1e-3f);
  }
  {  // opset 7 spatial=0
    OnnxModel m = bn_model(7);
    auto* n = m.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, "bn");
    attr_i(n, "spatial", 0);
    m.output("y");
    expect_import_error(m, "spatial=0");
  }
  {  // training outputs before opset 14
    OnnxModel m = bn_model(9);
    m.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "mean"}, "bn");
    m.output("y");
    expect_import_error(m, "training");
  }
  {  // opset 15 training_mode: running statistics outputs
    OnnxModel m = bn_model(15);
    auto* n = m.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "rm", "rv"}, "bn");
    attr_i(n, "training_mode", 1);
    attr_f(n, "momentum", 0.8f);
    m.output("y");
    m.output("rm");
    m.output("rv");
    const LayerGraph g = m.import();
    const Node& bn = node_of(g, OpKind::kBatchNorm);
    ASSERT_EQ(bn.outputs.size(), 3u);
    EXPECT_EQ(g.value(bn.outputs[2]).shape, (Shape{2}));
    const auto& a = std::get<BatchNormAttrs>(bn.attrs);
    EXPECT_TRUE(a.training_mode);
    EXPECT_FLOAT_EQ(a.momentum, 0.8f);
  }
  {
    OnnxModel m(15);
    m.input("x", {1, 2, 3, 3});
    for (const char* p : {"s", "b", "m"}) m.init_f(p, {2}, {1.0f, 1.0f});
    m.init_f("v", {3}, {1.0f, 1.0f, 1.0f});
    m.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, "bn");
    m.output("y");
    expect_import_error(m, "var has shape 3, expected 2");
  }
}

TEST(OnnxDropout, InferenceMaskAndTraining) {
  {  // opset 7: ratio attribute, mask output becomes a constant of ones
    OneOp t("Dropout", {{"x", {2, 3}}}, 7, TensorProto::FLOAT, 2);
    attr_f(t.n, "ratio", 0.3f);
    const LayerGraph g = t.import();
    EXPECT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).op, OpKind::kIdentity);  // graph input -> graph output stays an Identity
    const Value& mask = g.value(g.outputs()[1]);
    EXPECT_TRUE(mask.is_constant);
    EXPECT_EQ(mask.dtype, DType::kBool);
    ASSERT_TRUE(mask.data.has_value());
    for (bool b : mask.data->data<bool>()) EXPECT_TRUE(b);
  }
  {  // opset 12 training_mode=true with ratio 0 is a copy; ratio 0.5 is random
    OnnxModel m(12);
    m.input("x", {2, 3});
    m.init_f("r", {}, {0.0f});
    m.init("t", {}, TensorProto::BOOL)->add_int32_data(1);
    m.node("Dropout", {"x", "r", "t"}, {"y"});
    m.output("y");
    EXPECT_NO_THROW(m.import());
    m.proto().mutable_graph()->mutable_initializer(0)->set_float_data(0, 0.5f);
    expect_import_error(m, "random");
  }
  {  // Conv -> Dropout -> Relu: the Dropout disappears and the Relu fuses
    OnnxModel m(13);
    m.input("x", {1, 1, 4, 4});
    m.init_f("w", {1, 1, 1, 1}, {2.0f});
    m.node("Conv", {"x", "w"}, {"c"}, "conv");
    m.node("Dropout", {"c"}, {"d"}, "drop");
    m.node("Relu", {"d"}, {"y"}, "relu");
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).act.kind, ActKind::kRelu);
    EXPECT_EQ(g.node(0).fused, (std::vector<std::string>{"conv", "relu"}));
  }
}

TEST(OnnxIdentity, RemovedUnlessItIsTheInterface) {
  {  // input -> Identity -> output: kept
    OneOp t("Identity", {{"x", {3}}});
    const LayerGraph g = t.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).op, OpKind::kIdentity);
  }
  {  // Identity before and after a Conv: both removed; the Conv writes the graph output
    OnnxModel m(13);
    m.input("x", {1, 1, 4, 4});
    m.init_f("w", {1, 1, 1, 1}, {2.0f});
    m.node("Identity", {"x"}, {"xi"}, "id0");
    m.node("Conv", {"xi", "w"}, {"c"}, "conv");
    m.node("Identity", {"c"}, {"y"}, "id1");
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).op, OpKind::kConv);
    EXPECT_EQ(g.value(g.node(0).inputs[0]).name, "x");
    EXPECT_EQ(g.value(g.node(0).outputs[0]).name, "y");
    EXPECT_EQ(out0(g).name, "y");
  }
  {  // Identity of an initializer: an alias, no node, no copy
    OnnxModel m(13);
    m.input("x", {1, 1, 4, 4});
    m.init_f("w", {1, 1, 1, 1}, {2.0f});
    m.node("Identity", {"w"}, {"w2"});
    m.node("Conv", {"x", "w2"}, {"y"}, "conv");
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.value(g.node(0).inputs[1]).name, "w");
  }
  {  // both a tensor and its Identity are graph outputs: the Identity stays
    OnnxModel m(13);
    m.input("x", {3});
    m.node("Relu", {"x"}, {"r"}, "relu");
    m.node("Identity", {"r"}, {"y"}, "id");
    m.output("r");
    m.output("y");
    const LayerGraph g = m.import();
    EXPECT_EQ(count_of(g, OpKind::kIdentity), 1);
  }
}

// ---------------------------------------------------------------- folding

TEST(OnnxFolding, TorchFlattenShapeArithmetic) {
  for (int64_t opset : {11, 13}) {
    OnnxModel m(opset);
    m.input("x", {2, 3, 4, 4});
    m.node("Shape", {"x"}, {"shp"});
    auto* c0 = m.node("Constant", {}, {"zero"});
    TensorProto* t0 = attr_t(c0, "value");
    t0->set_data_type(TensorProto::INT64);
    t0->add_int64_data(0);
    m.node("Gather", {"shp", "zero"}, {"n"});
    if (opset < 13) {
      attr_ints(m.node("Unsqueeze", {"n"}, {"n1"}), "axes", {0});
    } else {
      attr_ints(m.node("Constant", {}, {"ax"}), "value_ints", {0});
      m.node("Unsqueeze", {"n", "ax"}, {"n1"});
    }
    m.init_i64("minus1", {1}, {-1});
    attr_i(m.node("Concat", {"n1", "minus1"}, {"target"}), "axis", 0);
    m.node("Reshape", {"x", "target"}, {"y"}, "flatten");
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u) << "opset " << opset;
    EXPECT_EQ(g.node(0).op, OpKind::kReshape);
    EXPECT_EQ(g.node(0).name, "flatten");
    EXPECT_EQ(out0(g).shape, (Shape{2, 48}));
  }
}

TEST(OnnxFolding, ConstantOfShapeWeightsLikeTheLightZoo) {
  OnnxModel m(9);
  m.input("x", {1, 3, 5, 5});
  m.init_i64("w_shape", {4}, {4, 3, 3, 3});
  m.init_i64("b_shape", {1}, {4});
  TensorProto* v = attr_t(m.node("ConstantOfShape", {"w_shape"}, {"w"}), "value");
  v->set_data_type(TensorProto::FLOAT);
  v->add_dims(1);
  v->add_float_data(0.5f);
  TensorProto* vb = attr_t(m.node("ConstantOfShape", {"b_shape"}, {"b0"}), "value");
  vb->set_data_type(TensorProto::FLOAT);
  vb->add_dims(1);
  vb->add_float_data(0.25f);
  m.node("Add", {"b0", "b0"}, {"b"});  // elementwise on constants folds too
  m.node("Conv", {"x", "w", "b"}, {"y"}, "conv");
  m.output("y");

  const LayerGraph g = m.import();
  ASSERT_EQ(g.nodes().size(), 1u);
  const Node& conv = g.node(0);
  const Value& w = g.value(conv.inputs[1]);
  const Value& b = g.value(conv.inputs[2]);
  EXPECT_TRUE(w.is_constant);
  EXPECT_EQ(w.shape, (Shape{4, 3, 3, 3}));
  ASSERT_TRUE(w.data.has_value());
  for (float f : w.data->data<float>()) EXPECT_EQ(f, 0.5f);
  ASSERT_TRUE(b.data.has_value());
  for (float f : b.data->data<float>()) EXPECT_EQ(f, 0.5f);
  EXPECT_EQ(g.total_params(), 4 * 27 + 4);

  OnnxImportOptions shapes_only;
  shapes_only.keep_weights = false;
  const LayerGraph gs = m.import(shapes_only);
  for (const Value& val : gs.values()) EXPECT_FALSE(val.data.has_value()) << val.name;
  EXPECT_EQ(gs.total_params(), 4 * 27 + 4);
}

TEST(OnnxFolding, CastConstantsGatherAndIntegerWrap) {
  OnnxModel m(13);
  m.input("x", {3});
  m.init_i64("k", {3}, {1, 2, 3});
  attr_i(m.node("Cast", {"k"}, {"kf"}), "to", TensorProto::FLOAT);
  m.node("Add", {"x", "kf"}, {"y"});
  m.init_raw<int8_t>("i8", {2}, TensorProto::INT8, {100, -100});
  m.node("Add", {"i8", "i8"}, {"wrap8"});
  m.init_raw<uint8_t>("u8", {1}, TensorProto::UINT8, {16});
  m.node("Mul", {"u8", "u8"}, {"wrapu8"});
  m.init_f("table", {3, 2}, {0, 1, 2, 3, 4, 5});
  m.init_i64("idx", {2}, {-1, 0});
  m.node("Gather", {"table", "idx"}, {"rows"});
  attr_f(m.node("Constant", {}, {"half"}), "value_float", 0.5f);
  m.output("y");
  m.output("wrap8", TensorProto::INT8);
  m.output("wrapu8", TensorProto::UINT8);
  m.output("rows");
  m.output("half");
  const LayerGraph g = m.import();
  ASSERT_EQ(g.nodes().size(), 1u);  // only x + kf
  const Value& kf = g.value(g.node(0).inputs[1]);
  ASSERT_TRUE(kf.data.has_value());
  EXPECT_EQ(kf.dtype, DType::kFloat32);
  EXPECT_EQ(kf.data->data<float>()[2], 3.0f);
  const auto w8 = g.value(g.outputs()[1]).data->data<int8_t>();
  EXPECT_EQ(w8[0], -56);  // 200 wraps
  EXPECT_EQ(w8[1], 56);
  EXPECT_EQ(g.value(g.outputs()[2]).data->data<uint8_t>()[0], 0);  // 256 wraps
  const Value& rows = g.value(g.outputs()[3]);
  EXPECT_EQ(rows.shape, (Shape{2, 2}));
  EXPECT_EQ(rows.data->data<float>()[0], 4.0f);
  EXPECT_EQ(rows.data->data<float>()[3], 1.0f);
  EXPECT_EQ(g.value(g.outputs()[4]).data->data<float>()[0], 0.5f);
}

TEST(OnnxFolding, FoldingOnlyOpsNeedConstants) {
  {
    OneOp t("Gather", {{"d", {3, 2}}, {"i", {2}}});
    t.m.proto().mutable_graph()->mutable_input(1)->mutable_type()->mutable_tensor_type()->set_elem_type(
        TensorProto::INT64);
    expect_import_error(t.m, "needs constant inputs");
  }
  {
    OneOp t("Cast", {{"x", {3}}});
    attr_i(t.n, "to", TensorProto::INT32);
    expect_import_error(t.m, "needs a constant input");
  }
  {  // Cast to the type it already has is a no-op
    OnnxModel m(13);
    m.input("x", {1, 1, 2, 2});
    m.init_f("w", {1, 1, 1, 1}, {1.0f});
    attr_i(m.node("Cast", {"x"}, {"xc"}), "to", TensorProto::FLOAT);
    m.node("Conv", {"xc", "w"}, {"y"}, "conv");
    m.output("y");
    EXPECT_EQ(m.import().nodes().size(), 1u);
  }
}

// ---------------------------------------------------------------- initializers

template <typename T>
std::vector<T> constant_output(const OnnxModel& m) {
  const LayerGraph g = m.import();
  const Value& v = out0(g);
  EXPECT_TRUE(v.is_constant);
  EXPECT_TRUE(v.data.has_value());
  const auto d = v.data->data<T>();
  return std::vector<T>(d.begin(), d.end());
}

// An initializer passed through Identity to the graph output.
OnnxModel passthrough(int64_t opset = 13) {
  OnnxModel m(opset);
  m.node("Identity", {"c"}, {"y"});
  return m;
}

TEST(OnnxInitializers, TypedFieldsEveryType) {
  {
    OnnxModel m = passthrough();
    m.init_f("c", {2}, {1.5f, -2.0f});
    m.output("y");
    EXPECT_EQ(constant_output<float>(m), (std::vector<float>{1.5f, -2.0f}));
  }
  {
    OnnxModel m = passthrough();
    auto* t = m.init("c", {2}, TensorProto::DOUBLE);
    t->add_double_data(0.25);
    t->add_double_data(1e300);
    m.output("y", TensorProto::DOUBLE);
    EXPECT_EQ(constant_output<double>(m), (std::vector<double>{0.25, 1e300}));
  }
  auto int32_field = [](int elem, std::vector<int32_t> v) {
    OnnxModel m = passthrough();
    auto* t = m.init("c", {static_cast<int64_t>(v.size())}, elem);
    for (int32_t x : v) t->add_int32_data(x);
    m.output("y", elem);
    return m;
  };
  EXPECT_EQ(constant_output<int8_t>(int32_field(TensorProto::INT8, {-128, 127})), (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(constant_output<uint8_t>(int32_field(TensorProto::UINT8, {0, 255})), (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(constant_output<int16_t>(int32_field(TensorProto::INT16, {-300, 300})),
            (std::vector<int16_t>{-300, 300}));
  EXPECT_EQ(constant_output<int32_t>(int32_field(TensorProto::INT32, {-70000, 70000})),
            (std::vector<int32_t>{-70000, 70000}));
  EXPECT_EQ(constant_output<bool>(int32_field(TensorProto::BOOL, {1, 0})), (std::vector<bool>{true, false}));
  {
    OnnxModel m = passthrough();
    m.init_i64("c", {2}, {-(int64_t{1} << 40), 7});
    m.output("y", TensorProto::INT64);
    EXPECT_EQ(constant_output<int64_t>(m), (std::vector<int64_t>{-(int64_t{1} << 40), 7}));
  }
  {  // scalar
    OnnxModel m = passthrough();
    m.init_f("c", {}, {3.0f});
    m.output("y");
    EXPECT_EQ(constant_output<float>(m), (std::vector<float>{3.0f}));
  }
}

TEST(OnnxInitializers, RawDataEveryType) {
  auto raw = [](int elem, auto values) {
    using T = typename decltype(values)::value_type;
    OnnxModel m = passthrough();
    m.init_raw<T>("c", {static_cast<int64_t>(values.size())}, elem, values);
    m.output("y", elem);
    EXPECT_EQ(constant_output<T>(m), values) << "elem type " << elem;
  };
  raw(TensorProto::FLOAT, std::vector<float>{1.0f, -0.5f});
  raw(TensorProto::DOUBLE, std::vector<double>{1e-300, 2.0});
  raw(TensorProto::INT8, std::vector<int8_t>{-1, 5});
  raw(TensorProto::UINT8, std::vector<uint8_t>{200, 5});
  raw(TensorProto::INT16, std::vector<int16_t>{-1000, 5});
  raw(TensorProto::INT32, std::vector<int32_t>{-100000, 5});
  raw(TensorProto::INT64, std::vector<int64_t>{-(int64_t{1} << 50), 5});
  raw(TensorProto::UINT16, std::vector<uint16_t>{65535, 5});
  raw(TensorProto::UINT32, std::vector<uint32_t>{4000000000u, 5});
  raw(TensorProto::UINT64, std::vector<uint64_t>{~uint64_t{0}, 5});
  OnnxModel b = passthrough();  // bool: one byte per element
  b.init_raw<uint8_t>("c", {3}, TensorProto::BOOL, {1, 0, 1});
  b.output("y", TensorProto::BOOL);
  EXPECT_EQ(constant_output<bool>(b), (std::vector<bool>{true, false, true}));
}

// Large payloads take the path that leaves them in the input buffer: check
// every field kind on it.
TEST(OnnxInitializers, LargePayloadsDecodedFromTheBuffer) {
  const int n = 600;
  {
    std::vector<float> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = 0.5f * static_cast<float>(i) - 7.0f;
    OnnxModel raw = passthrough();
    raw.init_raw<float>("c", {n}, TensorProto::FLOAT, v);
    raw.output("y");
    EXPECT_EQ(constant_output<float>(raw), v);
    OnnxModel typed = passthrough();
    typed.init_f("c", {n}, v);
    typed.output("y");
    EXPECT_EQ(constant_output<float>(typed), v);
  }
  {
    std::vector<int64_t> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = (int64_t{1} << 40) * (i % 2 ? -1 : 1) + i;
    OnnxModel m = passthrough();
    m.init_i64("c", {n}, v);
    m.output("y", TensorProto::INT64);
    EXPECT_EQ(constant_output<int64_t>(m), v);
  }
  {
    std::vector<int8_t> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<int8_t>(i % 256 - 128);
    OnnxModel m = passthrough();
    auto* t = m.init("c", {n}, TensorProto::INT8);
    for (int8_t x : v) t->add_int32_data(x);  // negative values: 10-byte varints
    m.output("y", TensorProto::INT8);
    EXPECT_EQ(constant_output<int8_t>(m), v);
  }
  {
    std::vector<double> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = 1.0 / (i + 1);
    OnnxModel m = passthrough();
    auto* t = m.init("c", {n}, TensorProto::DOUBLE);
    for (double x : v) t->add_double_data(x);
    m.output("y", TensorProto::DOUBLE);
    EXPECT_EQ(constant_output<double>(m), v);
  }
  {
    std::vector<uint32_t> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = 4000000000u + static_cast<uint32_t>(i);
    OnnxModel m = passthrough();
    auto* t = m.init("c", {n}, TensorProto::UINT32);
    for (uint32_t x : v) t->add_uint64_data(x);
    m.output("y", TensorProto::UINT32);
    EXPECT_EQ(constant_output<uint32_t>(m), v);
  }
  {  // a large Constant-node tensor, folded through Transpose
    OnnxModel m(13);
    auto* c = m.node("Constant", {}, {"k"});
    TensorProto* t = attr_t(c, "value");
    t->set_data_type(TensorProto::FLOAT);
    t->add_dims(2);
    t->add_dims(n / 2);
    std::vector<float> v(n);
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
    std::string bytes(v.size() * 4, '\0');
    std::memcpy(bytes.data(), v.data(), bytes.size());
    t->set_raw_data(bytes);
    m.node("Transpose", {"k"}, {"y"});
    m.output("y");
    const std::vector<float> got = constant_output<float>(m);
    ASSERT_EQ(got.size(), v.size());
    EXPECT_EQ(got[1], static_cast<float>(n / 2));  // y[0][1] = k[1][0]
    EXPECT_EQ(got[2], 1.0f);                       // y[1][0] = k[0][1]
  }
}

TEST(OnnxInitializers, Errors) {
  {
    OnnxModel m = passthrough();
    auto* t = m.init("c", {4}, TensorProto::FLOAT);
    t->set_data_location(TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("weights.bin");
    m.output("y");
    expect_import_error(m, "initializer 'c' stores its data in an external file ('weights.bin')");
  }
  {
    OnnxModel m = passthrough();
    m.init_raw<float>("c", {3}, TensorProto::FLOAT, {1.0f, 2.0f});
    m.output("y");
    expect_import_error(m, "initializer 'c' has 8 bytes of data, expected 12");
  }
  {
    OnnxModel m = passthrough();
    m.init_f("c", {3}, {1.0f});
    m.output("y");
    expect_import_error(m, "has 1 values of data, expected 3");
  }
  {
    OnnxModel m = passthrough();
    m.init("c", {2}, TensorProto::FLOAT16)->add_int32_data(0);
    m.output("y");
    expect_import_error(m, "element type FLOAT16, which is not supported");
  }
  {
    OnnxModel m = passthrough();
    m.init("c", {2, -1}, TensorProto::FLOAT);
    m.output("y");
    expect_import_error(m, "negative dimension");
  }
}

// ---------------------------------------------------------------- BatchNormalization folding

struct BnCase {
  std::vector<float> w{1.0f, 2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f, 1.0f};  // 2 x 2 x 1 x 2
  std::vector<float> b{0.5f, -1.0f};
  std::vector<float> scale{2.0f, 0.5f}, beta{0.1f, -0.2f}, mean{1.0f, -3.0f}, var{3.0f, 0.25f};
  float eps = 1e-3f;
};

OnnxModel conv_bn_relu(const BnCase& c, bool conv_bias) {
  OnnxModel m(13);
  m.input("x", {1, 2, 3, 4});
  m.init_f("w", {2, 2, 1, 2}, c.w);
  std::vector<std::string> conv_in{"x", "w"};
  if (conv_bias) {
    m.init_f("b", {2}, c.b);
    conv_in.push_back("b");
  }
  m.init_f("scale", {2}, c.scale);
  m.init_f("beta", {2}, c.beta);
  m.init_f("mean", {2}, c.mean);
  m.init_f("var", {2}, c.var);
  m.node("Conv", conv_in, {"c"}, "conv");
  attr_f(m.node("BatchNormalization", {"c", "scale", "beta", "mean", "var"}, {"bn_out"}, "bn"), "epsilon", c.eps);
  m.node("Relu", {"bn_out"}, {"y"}, "relu");
  m.output("y");
  return m;
}

TEST(OnnxBatchNormFolding, WeightsAndBiasMatchHandComputation) {
  const BnCase c;
  for (bool conv_bias : {true, false}) {
    const LayerGraph g = conv_bn_relu(c, conv_bias).import();
    ASSERT_EQ(g.nodes().size(), 1u);
    const Node& conv = g.node(0);
    EXPECT_EQ(conv.op, OpKind::kConv);
    EXPECT_EQ(conv.name, "conv");
    EXPECT_EQ(conv.act.kind, ActKind::kRelu);
    EXPECT_EQ(conv.fused, (std::vector<std::string>{"conv", "bn", "relu"}));
    EXPECT_TRUE(std::get<ConvAttrs>(conv.attrs).has_bias);
    ASSERT_EQ(conv.inputs.size(), 3u);
    const auto w = g.value(conv.inputs[1]).data->data<float>();
    const auto b = g.value(conv.inputs[2]).data->data<float>();
    for (int o = 0; o < 2; ++o) {
      const double s = c.scale[o] / std::sqrt(static_cast<double>(c.var[o]) + c.eps);
      for (int i = 0; i < 4; ++i)
        EXPECT_FLOAT_EQ(w[static_cast<std::size_t>(o * 4 + i)], static_cast<float>(c.w[o * 4 + i] * s));
      const double b0 = conv_bias ? c.b[o] : 0.0;
      EXPECT_FLOAT_EQ(b[static_cast<std::size_t>(o)], static_cast<float>((b0 - c.mean[o]) * s + c.beta[o]));
    }
    EXPECT_EQ(g.value(conv.outputs[0]).name, "y");
  }
  // By hand for output channel 0 with bias: s = 2 / sqrt(3.001) = 1.154508...
  const LayerGraph g = conv_bn_relu(c, true).import();
  EXPECT_NEAR(g.value(g.node(0).inputs[1]).data->data<float>()[0], 1.1545085f, 1e-6f);
  EXPECT_NEAR(g.value(g.node(0).inputs[2]).data->data<float>()[0], -0.4772543f, 1e-6f);
}

TEST(OnnxBatchNormFolding, ShapeOnlyWithoutWeights) {
  OnnxImportOptions o;
  o.keep_weights = false;
  const LayerGraph g = conv_bn_relu(BnCase{}, false).import(o);
  ASSERT_EQ(g.nodes().size(), 1u);
  const Node& conv = g.node(0);
  ASSERT_EQ(conv.inputs.size(), 3u);
  EXPECT_EQ(g.value(conv.inputs[2]).shape, (Shape{2}));
  EXPECT_FALSE(g.value(conv.inputs[2]).data.has_value());
  EXPECT_EQ(g.total_params(), 8 + 2);
}

TEST(OnnxBatchNormFolding, SharedWeightsAreCopiedNotOverwritten) {
  OnnxModel m(13);
  m.input("x", {1, 1, 2, 2});
  m.init_f("w", {1, 1, 1, 1}, {1.0f});
  m.init_f("s1", {1}, {2.0f});
  m.init_f("s2", {1}, {3.0f});
  m.init_f("zero", {1}, {0.0f});
  m.init_f("one", {1}, {1.0f});
  m.node("Conv", {"x", "w"}, {"c1"}, "conv1");
  m.node("Conv", {"x", "w"}, {"c2"}, "conv2");
  attr_f(m.node("BatchNormalization", {"c1", "s1", "zero", "zero", "one"}, {"y1"}, "bn1"), "epsilon", 0.0f);
  attr_f(m.node("BatchNormalization", {"c2", "s2", "zero", "zero", "one"}, {"y2"}, "bn2"), "epsilon", 0.0f);
  m.output("y1");
  m.output("y2");
  const LayerGraph g = m.import();
  ASSERT_EQ(g.compute_layers().size(), 2u);
  const Node& a = g.node(*g.find_node("conv1"));
  const Node& b = g.node(*g.find_node("conv2"));
  EXPECT_NE(a.inputs[1], b.inputs[1]);
  EXPECT_FLOAT_EQ(g.value(a.inputs[1]).data->data<float>()[0], 2.0f);
  EXPECT_FLOAT_EQ(g.value(b.inputs[1]).data->data<float>()[0], 3.0f);
}

TEST(OnnxBatchNormFolding, NotFoldedWhenUnsafeOrDisabled) {
  {  // the Conv output is also a graph output
    OnnxModel m = conv_bn_relu(BnCase{}, true);
    m.output("c");
    const LayerGraph g = m.import();
    EXPECT_EQ(count_of(g, OpKind::kBatchNorm), 1);
    EXPECT_EQ(g.node(*g.find_node("conv")).act.kind, ActKind::kNone);
  }
  {  // the Conv output has a second consumer
    OnnxModel m = conv_bn_relu(BnCase{}, true);
    m.node("Sigmoid", {"c"}, {"z"}, "sig");
    m.output("z");
    EXPECT_EQ(count_of(m.import(), OpKind::kBatchNorm), 1);
  }
  {
    OnnxImportOptions o;
    o.fold_batchnorm = false;
    o.fuse_activations = false;
    const LayerGraph g = conv_bn_relu(BnCase{}, true).import(o);
    EXPECT_EQ(g.nodes().size(), 3u);
    EXPECT_TRUE(g.node(*g.find_node("conv")).fused.empty());
  }
  {  // BN after a pooling layer (DenseNet's pre-activation BN) stays
    OnnxModel m(13);
    m.input("x", {1, 2, 4, 4});
    for (const char* p : {"s", "b", "m", "v"}) m.init_f(p, {2}, {1.0f, 1.0f});
    attr_ints(m.node("MaxPool", {"x"}, {"p"}, "pool"), "kernel_shape", {2, 2});
    m.node("BatchNormalization", {"p", "s", "b", "m", "v"}, {"y"}, "bn");
    m.output("y");
    EXPECT_EQ(count_of(m.import(), OpKind::kBatchNorm), 1);
  }
}

// ---------------------------------------------------------------- fusion

TEST(OnnxFusion, ComputeLayersTakeTheirActivation) {
  {
    OnnxModel m(13);
    m.input("a", {2, 3});
    m.init_f("b", {3, 4}, std::vector<float>(12, 1.0f));
    m.node("Gemm", {"a", "b"}, {"g"}, "fc");
    m.node("Sigmoid", {"g"}, {"y"}, "sig");
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).act.kind, ActKind::kSigmoid);
    EXPECT_EQ(g.node(0).fused, (std::vector<std::string>{"fc", "sig"}));
  }
  {
    OnnxModel m(13);
    m.input("a", {2, 3});
    m.init_f("b", {3, 4}, std::vector<float>(12, 1.0f));
    m.node("MatMul", {"a", "b"}, {"g"}, "mm");
    attr_f(m.node("LeakyRelu", {"g"}, {"y"}, "lrelu"), "alpha", 0.2f);
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).act.kind, ActKind::kLeakyRelu);
    EXPECT_FLOAT_EQ(g.node(0).act.alpha, 0.2f);
  }
  {  // Conv + Clip(0, 6) at opset 11 (MobileNet's ReLU6)
    OnnxModel m(11);
    m.input("x", {1, 1, 2, 2});
    m.init_f("w", {1, 1, 1, 1}, {1.0f});
    m.init_f("lo", {}, {0.0f});
    m.init_f("hi", {}, {6.0f});
    m.node("Conv", {"x", "w"}, {"c"}, "conv");
    m.node("Clip", {"c", "lo", "hi"}, {"y"}, "relu6");
    m.output("y");
    const LayerGraph g = m.import();
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).act.kind, ActKind::kClip);
    EXPECT_FLOAT_EQ(g.node(0).act.alpha, 0.0f);
    EXPECT_FLOAT_EQ(g.node(0).act.beta, 6.0f);
  }
  for (const char* act : {"HardSigmoid", "HardSwish", "Relu"}) {
    OnnxModel m(14);
    m.input("x", {1, 1, 2, 2});
    m.init_f("w", {1, 1, 1, 1}, {1.0f});
    m.node("Conv", {"x", "w"}, {"c"}, "conv");
    m.node(act, {"c"}, {"y"}, "act");
    m.output("y");
    EXPECT_EQ(m.import().nodes().size(), 1u) << act;
  }
}

TEST(OnnxFusion, AddSumWithReluOrClipOnly) {
  auto residual = [](const std::string& head, const std::string& act) {
    OnnxModel m(13);
    m.input("a", {2, 3});
    m.input("b", {2, 3});
    m.node(head, {"a", "b"}, {"s"}, "add");
    m.node(act, {"s"}, {"y"}, "act");
    m.output("y");
    return m.import();
  };
  {
    const LayerGraph g = residual("Add", "Relu");
    ASSERT_EQ(g.nodes().size(), 1u);
    EXPECT_EQ(g.node(0).act.kind, ActKind::kRelu);
    EXPECT_EQ(g.node(0).fused, (std::vector<std::string>{"add", "act"}));
  }
  EXPECT_EQ(residual("Sum", "Clip").nodes().size(), 1u);
  EXPECT_EQ(residual("Add", "Sigmoid").nodes().size(), 2u);
  EXPECT_EQ(residual("Mul", "Relu").nodes().size(), 2u);
}

TEST(OnnxFusion, OnlySingleConsumerIntermediates) {
  auto conv_relu = [](bool extra_consumer, bool conv_is_output) {
    OnnxModel m(13);
    m.input("x", {1, 1, 2, 2});
    m.init_f("w", {1, 1, 1, 1}, {1.0f});
    m.node("Conv", {"x", "w"}, {"c"}, "conv");
    m.node("Relu", {"c"}, {"y"}, "relu");
    m.output("y");
    if (extra_consumer) {
      m.node("Sigmoid", {"c"}, {"z"}, "sig");
      m.output("z");
    }
    if (conv_is_output) m.output("c");
    return m.import();
  };
  EXPECT_EQ(conv_relu(false, false).nodes().size(), 1u);
  EXPECT_EQ(conv_relu(true, false).nodes().size(), 3u);
  EXPECT_EQ(conv_relu(false, true).nodes().size(), 2u);

  OnnxModel m(13);  // Relu -> Relu: only the first one fuses
  m.input("x", {1, 1, 2, 2});
  m.init_f("w", {1, 1, 1, 1}, {1.0f});
  m.node("Conv", {"x", "w"}, {"c"}, "conv");
  m.node("Relu", {"c"}, {"r"}, "relu1");
  m.node("Relu", {"r"}, {"y"}, "relu2");
  m.output("y");
  const LayerGraph g = m.import();
  EXPECT_EQ(g.nodes().size(), 2u);
  OnnxImportOptions o;
  o.fuse_activations = false;
  EXPECT_EQ(m.import(o).nodes().size(), 3u);
}

TEST(OnnxNames, UniqueStableNames) {
  OnnxModel m(13);
  m.input("x", {3});
  m.node("Relu", {"x"}, {"r1"});
  m.node("Sigmoid", {"r1"}, {"r2"}, "dup");
  m.node("Sigmoid", {"r2"}, {"r3"}, "dup");
  m.node("Sigmoid", {"r3"}, {"y"}, "dup_2");
  m.output("y");
  const LayerGraph g = m.import();
  std::vector<std::string> names;
  for (NodeId id : g.topo_order()) names.push_back(g.node(id).name);
  EXPECT_EQ(names, (std::vector<std::string>{"r1", "dup", "dup_2", "dup_2_2"}));
}

// ---------------------------------------------------------------- model-level behaviour

TEST(OnnxGraph, SymbolicBatch) {
  OnnxModel m(13);
  m.input("x", {-1, 3, 8, 8});
  m.input("z", {-2, 3});
  m.init_f("w", {4, 3, 1, 1}, std::vector<float>(12, 1.0f));
  m.node("Conv", {"x", "w"}, {"y"}, "conv");
  m.node("Relu", {"z"}, {"zr"}, "relu");
  m.output("y");
  m.output("zr");
  OnnxImportOptions o;
  o.batch = 4;
  const LayerGraph g = m.import(o);
  EXPECT_EQ(g.value(g.inputs()[0]).shape, (Shape{4, 3, 8, 8}));
  EXPECT_EQ(g.value(g.inputs()[1]).shape, (Shape{4, 3}));
  EXPECT_EQ(out0(g).shape, (Shape{4, 4, 8, 8}));

  OnnxModel s(13);
  s.input("x", {1, 3, -1, 8});
  s.node("Relu", {"x"}, {"y"});
  s.output("y");
  expect_import_error(s, "graph input 'x' has a symbolic dimension 2 ('N')");
}

TEST(OnnxGraph, ShapeOverflowIsAnError) {
  OnnxModel m(13);
  m.input("x", {int64_t{1} << 40, int64_t{1} << 40});
  m.node("Relu", {"x"}, {"y"});
  m.output("y");
  expect_import_error(m, "2^63");

  OnnxModel u(13);  // 2^62 is representable, Concat doubles it past 2^63
  u.input("x", {int64_t{1} << 62});
  attr_i(u.node("Concat", {"x", "x"}, {"y"}), "axis", 0);
  u.output("y");
  expect_import_error(u, "overflow");
}

TEST(OnnxGraph, DeclaredOutputShapesAreChecked) {
  OnnxModel m(13);
  m.input("x", {2, 3});
  m.node("Relu", {"x"}, {"y"});
  m.output("y", {2, 4});
  expect_import_error(m, "graph output 'y' is declared 2x4 but shape inference gives 2x3");
  OnnxModel ok(13);
  ok.input("x", {2, 3});
  ok.node("Relu", {"x"}, {"y"});
  ok.output("y", {-1, 3});
  EXPECT_NO_THROW(ok.import());
}

TEST(OnnxGraph, Ir3InputsWithInitializersAreConstants) {
  OnnxModel m(9, 3);
  m.input("x", {1, 1, 2, 2});
  m.input("w", {1, 1, 1, 1});
  m.init_f("w", {1, 1, 1, 1}, {3.0f});
  m.node("Conv", {"x", "w"}, {"y"}, "conv");
  m.output("y");
  const LayerGraph g = m.import();
  ASSERT_EQ(g.inputs().size(), 1u);
  EXPECT_TRUE(g.value(g.node(0).inputs[1]).is_constant);
}

TEST(OnnxGraph, BoundInputsBecomeConstants) {
  OneOp t("Reshape", {{"x", {2, 6}}, {"s", {2}}});
  t.m.proto().mutable_graph()->mutable_input(1)->mutable_type()->mutable_tensor_type()->set_elem_type(
      TensorProto::INT64);
  expect_import_error(t.m, "shape 's' must be a constant");
  OnnxImportOptions o;
  o.constant_inputs.emplace("s", Tensor::from<int64_t>({2}, std::vector<int64_t>{3, 4}));
  const LayerGraph g = t.import(o);
  EXPECT_EQ(out0(g).shape, (Shape{3, 4}));
  EXPECT_EQ(g.inputs().size(), 1u);
  o.constant_inputs.emplace("nope", Tensor::scalar<float>(1.0f));
  expect_import_error(t.m, "'nope', which is not a graph input", o);
}

// ---------------------------------------------------------------- error paths

TEST(OnnxErrors, UnsupportedOperatorsAllListed) {
  OnnxModel m(13);
  m.input("x", {1, 1, 2, 2});
  m.node("Resize", {"x"}, {"a"}, "up1");
  m.node("LSTM", {"a"}, {"b"}, "lstm_0");
  m.node("Resize", {"b"}, {"c"}, "up2");
  m.node("Relu", {"c"}, {"d"}, "relu");
  auto* custom = m.node("FusedConv", {"d"}, {"y"});
  custom->set_domain("com.microsoft");
  m.output("y");
  EXPECT_EQ(error_of([&] { m.import(); }),
            "m.onnx: unsupported operators: Resize (node 'up1'), LSTM (node 'lstm_0'), com.microsoft.FusedConv "
            "(node 'y')");
}

TEST(OnnxErrors, NamesWithControlCharactersStayOnOneLine) {
  OnnxModel m(13);
  m.input("x", {3});
  m.node("Res\nize", {"x"}, {"y"}, "up\x01");
  m.output("y");
  EXPECT_EQ(error_of([&] { m.import(); }), "m.onnx: unsupported operators: Res\\x0aize (node 'up\\x01')");
}

TEST(OnnxErrors, MalformedBytes) {
  auto bytes_error = [](const std::string& bytes) {
    return error_of([&] { import_onnx_bytes(bytes, "m.onnx"); });
  };
  EXPECT_EQ(bytes_error(""), "m.onnx: empty file, not an ONNX model");

  // Truncated in the middle of a large initializer.
  OnnxModel m = passthrough();
  m.init_f("c", {1000}, std::vector<float>(1000, 1.0f));
  m.output("y");
  const std::string full = m.bytes();
  for (std::size_t cut : {full.size() / 2, full.size() - 1, std::size_t{3}}) {
    const std::string msg = bytes_error(full.substr(0, cut));
    EXPECT_EQ(msg.rfind("m.onnx: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  EXPECT_NE(bytes_error(full.substr(0, full.size() / 2)).find("not a valid ONNX model"), std::string::npos);

  // Pseudo-random bytes (fixed seed): never a crash, always one line naming the file.
  uint64_t state = 42;
  for (int round = 0; round < 20; ++round) {
    std::string junk(1 + round * 97, '\0');
    for (char& ch : junk) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      ch = static_cast<char>(state >> 56);
    }
    const std::string msg = bytes_error(junk);
    EXPECT_EQ(msg.rfind("m.onnx: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_EQ(bytes_error("hello, this is not protobuf"), "m.onnx: not a valid ONNX model (protobuf parse failed: "
                                                        "truncated or corrupt file)");

  const std::string missing = error_of([] { import_onnx("/nonexistent/dir/m.onnx"); });
  EXPECT_EQ(missing, "/nonexistent/dir/m.onnx: cannot open: No such file or directory");
}

TEST(OnnxErrors, GraphStructure) {
  {
    OnnxModel m(13);
    m.input("x", {1, 1, 2, 2});
    m.node("Conv", {"x", "w"}, {"y"}, "conv");
    m.output("y");
    expect_import_error(m, "node 'conv' (Conv): input 'w' is missing");
  }
  {
    OnnxModel m(13);
    m.input("x", {3});
    m.node("Relu", {"a"}, {"y"}, "second");
    m.node("Relu", {"x"}, {"a"}, "first");
    m.output("y");
    expect_import_error(m, "node 'second' (Relu): input 'a' is used before it is produced (by node 'first'");
  }
  {
    OnnxModel m(13);
    m.input("x", {3});
    m.node("Add", {"x", "b"}, {"a"}, "n1");
    m.node("Relu", {"a"}, {"b"}, "n2");
    m.output("b");
    expect_import_error(m, "the graph has a cycle through node");
  }
  {
    OnnxModel m(13);
    m.input("x", {3});
    m.node("Relu", {"x"}, {"a"}, "n1");
    m.node("Relu", {"x"}, {"a"}, "n2");
    m.output("a");
    expect_import_error(m, "output 'a' is already produced");
  }
  {
    OnnxModel m(13);
    m.input("x", {3});
    m.node("Relu", {"x"}, {"a"});
    m.output("b");
    expect_import_error(m, "graph output 'b' is not produced by any node");
  }
  {
    OnnxModel m(13);
    m.input("x", {3});
    m.node("Relu", {"x"}, {"a"});
    expect_import_error(m, "the graph has no outputs");
  }
  {
    OnnxModel m(13);
    m.proto().clear_graph();
    expect_import_error(m, "no graph");
  }
}

TEST(OnnxErrors, Opsets) {
  for (int64_t opset : {0, 22}) {
    OnnxModel m(opset);
    m.input("x", {3});
    m.node("Relu", {"x"}, {"y"});
    m.output("y");
    expect_import_error(m, "opset " + std::to_string(opset) + " of the default domain is not supported");
  }
  OnnxModel none(13);
  none.proto().clear_opset_import();
  none.input("x", {3});
  none.node("Relu", {"x"}, {"y"});
  none.output("y");
  expect_import_error(none, "imports no opset");
  // Old opsets read old semantics: GlobalAveragePool-1 as ONNX's own tests use it.
  OneOp gap("GlobalAveragePool", {{"x", {1, 3, 5, 5}}}, 1);
  EXPECT_EQ(gap.shape(), (Shape{1, 3, 1, 1}));
}

TEST(OnnxErrors, NonTensorInputs) {
  OnnxModel m(16);
  auto* in = m.proto().mutable_graph()->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(
      TensorProto::FLOAT);
  m.node("Identity", {"x"}, {"y"});
  m.output("y");
  expect_import_error(m, "graph input 'x' is not a tensor");
}

TEST(OnnxWire, UnknownGroupFieldFallsBackToProtobuf) {
  // The payload pre-pass does not walk groups; protobuf accepts them as unknown
  // fields, so the import must still succeed (through a plain parse).
  OnnxModel m = passthrough();
  m.init_f("c", {600}, std::vector<float>(600, 2.0f));
  m.output("y");
  std::string bytes = m.bytes();
  bytes += static_cast<char>(((99 << 3 | 3) & 0x7f) | 0x80);  // field 99, start group (2-byte varint tag)
  bytes += static_cast<char>((99 << 3 | 3) >> 7);
  bytes += static_cast<char>(((99 << 3 | 4) & 0x7f) | 0x80);  // end group
  bytes += static_cast<char>((99 << 3 | 4) >> 7);
  const LayerGraph g = import_onnx_bytes(bytes, "m.onnx");
  EXPECT_EQ(out0(g).data->data<float>()[599], 2.0f);
}

TEST(OnnxTensorFiles, ParseAndErrors) {
  TensorProto t;
  t.set_name("x");
  t.set_data_type(TensorProto::INT32);
  t.add_dims(2);
  t.add_int32_data(-4);
  t.add_int32_data(9);
  const Tensor x = parse_onnx_tensor(t.SerializeAsString(), "input_0.pb");
  EXPECT_EQ(x.shape(), (Shape{2}));
  EXPECT_EQ(x.data<int32_t>()[0], -4);
  EXPECT_EQ(error_of([] { parse_onnx_tensor("", "input_0.pb"); }), "input_0.pb: empty file, not an ONNX TensorProto");
  EXPECT_EQ(error_of([] { load_onnx_tensor("/nonexistent/input_0.pb"); }),
            "/nonexistent/input_0.pb: cannot open: No such file or directory");
  t.add_int32_data(1);
  EXPECT_NE(error_of([&] { parse_onnx_tensor(t.SerializeAsString(), "input_0.pb"); }).find("expected 2"),
            std::string::npos);
}

TEST(OnnxTensorFiles, InputsNeedingValues) {
  OnnxModel m(13);
  m.input("x", {2, 6});
  m.input("shape", {2}, TensorProto::INT64);
  m.input("lo", {});
  m.init_f("hi", {}, {6.0f});
  m.node("Reshape", {"x", "shape"}, {"r"});
  m.node("Clip", {"r", "lo", "hi"}, {"y"});
  m.output("y");
  const std::string path = ::testing::TempDir() + "/qsim_inputs_needing_values.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << m.bytes();
  }
  EXPECT_EQ(onnx_inputs_needing_values(path), (std::vector<std::string>{"shape", "lo"}));
  std::remove(path.c_str());
}

TEST(OnnxPasses, PipelineIsAnExplicitList) {
  const auto all = import_passes(true, true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "remove_identities");
  EXPECT_EQ(all[1].name, "fold_batchnorm");
  EXPECT_EQ(all[2].name, "fuse_activations");
  EXPECT_EQ(import_passes(false, false).size(), 1u);
}

}  // namespace
}  // namespace qsim
