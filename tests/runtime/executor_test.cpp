// The executor's plan on hand-built LayerGraphs: results against loops written
// here, memory reuse, hooks and overrides, batches, re-batching, input checks.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "graph/error.h"
#include "quant/eval.h"
#include "runtime/executor.h"
#include "tests/test_util.h"

namespace qsim {
namespace {

using testing::all_close;
using testing::GraphBuilder;
using testing::random_tensor;

// conv 3x3 pad 1 (C -> 4, bias, ReLU) -> maxpool 2x2 -> flatten -> gemm (transB, C) -> softmax
struct SmallCnn {
  LayerGraph g;
  Tensor w, b, fw, fb;
  int64_t C = 2, H = 6, W = 6, O = 4, classes = 5;
};

SmallCnn small_cnn(int64_t batch) {
  SmallCnn m;
  m.w = random_tensor({m.O, m.C, 3, 3}, 1);
  m.b = random_tensor({m.O}, 2);
  const int64_t feat = m.O * (m.H / 2) * (m.W / 2);
  m.fw = random_tensor({m.classes, feat}, 3);
  m.fb = random_tensor({m.classes}, 4);
  GraphBuilder gb;
  const ValueId x = gb.input("x", {batch, m.C, m.H, m.W});
  const ValueId w = gb.constant("w", m.w), b = gb.constant("b", m.b);
  const ValueId c = gb.value("conv", {batch, m.O, m.H, m.W});
  ConvAttrs ca;
  ca.kernel = {3, 3};
  ca.strides = {1, 1};
  ca.dilations = {1, 1};
  ca.pads = {1, 1, 1, 1};
  ca.has_bias = true;
  gb.node("conv", OpKind::kConv, {x, w, b}, {c}, ca, {ActKind::kRelu});
  const ValueId p = gb.value("pool", {batch, m.O, m.H / 2, m.W / 2});
  PoolAttrs pa;
  pa.kernel = {2, 2};
  pa.strides = {2, 2};
  pa.dilations = {1, 1};
  pa.pads = {0, 0, 0, 0};
  gb.node("pool", OpKind::kMaxPool, {c}, {p}, pa);
  const ValueId f = gb.value("flat", {batch, feat});
  gb.node("flat", OpKind::kFlatten, {p}, {f}, AxisAttrs{1, false});
  const ValueId fw = gb.constant("fw", m.fw), fb = gb.constant("fb", m.fb);
  const ValueId l = gb.value("logits", {batch, m.classes});
  GemmAttrs ga;
  ga.trans_b = true;
  ga.has_c = true;
  gb.node("fc", OpKind::kGemm, {f, fw, fb}, {l}, ga);
  const ValueId y = gb.value("prob", {batch, m.classes});
  gb.node("softmax", OpKind::kSoftmax, {l}, {y}, AxisAttrs{1, false});
  m.g = gb.finish({y, l});
  return m;
}

// The same network, one sample, with plain loops.
std::vector<float> small_cnn_ref(const SmallCnn& m, const float* x) {
  const int64_t C = m.C, H = m.H, W = m.W, O = m.O;
  std::vector<float> conv(static_cast<std::size_t>(O * H * W));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        double s = m.b.data<float>()[o];
        for (int64_t c = 0; c < C; ++c)
          for (int64_t ki = 0; ki < 3; ++ki)
            for (int64_t kj = 0; kj < 3; ++kj) {
              const int64_t y = i + ki - 1, xx = j + kj - 1;
              if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
              s += double(x[(c * H + y) * W + xx]) * m.w.data<float>()[((o * C + c) * 3 + ki) * 3 + kj];
            }
        conv[(o * H + i) * W + j] = std::max(0.0f, static_cast<float>(s));
      }
  std::vector<float> pooled;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < H / 2; ++i)
      for (int64_t j = 0; j < W / 2; ++j)
        pooled.push_back(std::max({conv[(o * H + 2 * i) * W + 2 * j], conv[(o * H + 2 * i) * W + 2 * j + 1],
                                   conv[(o * H + 2 * i + 1) * W + 2 * j], conv[(o * H + 2 * i + 1) * W + 2 * j + 1]}));
  std::vector<float> logits(static_cast<std::size_t>(m.classes));
  for (int64_t k = 0; k < m.classes; ++k) {
    double s = m.fb.data<float>()[k];
    for (std::size_t f = 0; f < pooled.size(); ++f) s += double(pooled[f]) * m.fw.data<float>()[k * pooled.size() + f];
    logits[k] = static_cast<float>(s);
  }
  return logits;
}

TEST(Executor, SmallCnnMatchesLoopsForEveryThreadCountAndBatch) {
  for (int64_t batch : {1, 3}) {
    const SmallCnn m = small_cnn(batch);
    const Tensor x = random_tensor({batch, m.C, m.H, m.W}, 9);
    std::vector<Tensor> first;
    for (int threads : {1, 2}) {
      Executor ex(m.g, ExecOptions{.threads = threads});
      const auto out = ex.run(std::vector<Tensor>{x});
      ASSERT_EQ(out.size(), 2u);
      ASSERT_EQ(out[1].shape(), Shape({batch, m.classes}));
      for (int64_t n = 0; n < batch; ++n) {
        const auto want = small_cnn_ref(m, x.data<float>().data() + n * m.C * m.H * m.W);
        const auto got = out[1].data<float>().subspan(static_cast<std::size_t>(n * m.classes), m.classes);
        EXPECT_TRUE(all_close(got, want, 1e-5, 1e-5)) << "sample " << n << " threads " << threads;
        double total = 0;
        for (int64_t k = 0; k < m.classes; ++k) total += out[0].data<float>()[n * m.classes + k];
        EXPECT_NEAR(total, 1.0, 1e-6);
      }
      // Splitting work over threads must not change any sum: results are bitwise identical.
      if (first.empty()) {
        first = out;
      } else {
        EXPECT_TRUE(std::equal(out[1].data<float>().begin(), out[1].data<float>().end(), first[1].data<float>().begin()));
      }
    }
  }
}

TEST(Executor, ArenaReusesDeadBuffersWithoutClobberingLiveOnes) {
  // x -> r1 -> r2 -> ... -> r6, plus r1 + r6 at the end (r1 stays live throughout).
  GraphBuilder gb;
  const Shape s{1, 16, 32, 32};
  const ValueId x = gb.input("x", s);
  ValueId prev = x, r1 = -1;
  for (int i = 1; i <= 6; ++i) {
    const ValueId v = gb.value(fmt::format("r{}", i), s);
    const Activation a = i % 2 ? Activation{ActKind::kLeakyRelu, 0.5f} : Activation{ActKind::kClip, -0.75f, 2.0f};
    gb.node(fmt::format("act{}", i), i % 2 ? OpKind::kLeakyRelu : OpKind::kClip, {prev}, {v}, ActAttrs{a});
    if (i == 1) r1 = v;
    prev = v;
  }
  const ValueId y = gb.value("y", s);
  gb.node("add", OpKind::kAdd, {r1, prev}, {y});
  const LayerGraph g = gb.finish({y});
  Executor ex(g, ExecOptions{.threads = 2});
  const int64_t one = shape_numel(s) * 4;
  EXPECT_EQ(ex.unshared_bytes(), 7 * one);
  EXPECT_LE(ex.arena_bytes(), 3 * one);  // r1, and two alternating buffers for the chain
  const Tensor xin = random_tensor(s, 5, -3.0f, 3.0f);
  const auto out = ex.run(std::vector<Tensor>{xin});
  for (int64_t i = 0; i < shape_numel(s); ++i) {
    float v = xin.data<float>()[i];
    float first = 0;
    for (int k = 1; k <= 6; ++k) {
      v = k % 2 ? (v < 0 ? 0.5f * v : v) : std::clamp(v, -0.75f, 2.0f);
      if (k == 1) first = v;
    }
    ASSERT_FLOAT_EQ(out[0].data<float>()[i], first + v) << i;
  }
}

// Two residual blocks: x -> conv a (3x3, Relu) -> conv b (1x1) -> add1 = Relu(b + x)
// -> conv c (1x1) -> add2 = c + add1. With `expose`, conv b's output is also a graph
// output, which rules out fusing it.
LayerGraph residual_blocks(bool expose) {
  const int64_t C = 8, H = 9, W = 11;
  GraphBuilder gb;
  const ValueId x = gb.input("x", {1, C, H, W});
  auto conv = [&](const std::string& name, ValueId in, int64_t k, Activation act, unsigned seed) {
    ConvAttrs ca;
    ca.kernel = {k, k};
    ca.strides = {1, 1};
    ca.dilations = {1, 1};
    ca.pads = {k / 2, k / 2, k / 2, k / 2};
    ca.has_bias = true;
    const ValueId w = gb.constant(name + ".w", random_tensor({C, C, k, k}, seed));
    const ValueId b = gb.constant(name + ".b", random_tensor({C}, seed + 1));
    const ValueId y = gb.value(name, {1, C, H, W});
    gb.node(name, OpKind::kConv, {in, w, b}, {y}, ca, act);
    return y;
  };
  const ValueId a = conv("a", x, 3, {ActKind::kRelu}, 31);
  const ValueId b = conv("b", a, 1, {}, 33);
  const ValueId add1 = gb.value("add1", {1, C, H, W});
  gb.node("add1", OpKind::kAdd, {b, x}, {add1}, {}, {ActKind::kRelu});
  const ValueId c = conv("c", add1, 1, {}, 35);
  const ValueId add2 = gb.value("add2", {1, C, H, W});
  gb.node("add2", OpKind::kAdd, {add1, c}, {add2});
  std::vector<ValueId> outs{add2};
  if (expose) outs.push_back(b);
  return gb.finish(outs);
}

TEST(Executor, ConvAddFusionEqualsSeparateNodes) {
  const LayerGraph fused_g = residual_blocks(false), plain_g = residual_blocks(true);
  const Tensor x = random_tensor({1, 8, 9, 11}, 37);
  for (int threads : {1, 2}) {
    Executor plain(plain_g, ExecOptions{.threads = threads});
    const auto want = plain.run(std::vector<Tensor>{x});
    // Fused: the Adds do not run (no time), the result is bit for bit the same (the
    // epilogue adds bias, then the residual, then clamps, as the two nodes do).
    Executor fused(fused_g, ExecOptions{.threads = threads, .profile = true});
    const auto got = fused.run(std::vector<Tensor>{x});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].data<float>().size() == want[0].data<float>().size() &&
                std::equal(got[0].data<float>().begin(), got[0].data<float>().end(), want[0].data<float>().begin()));
    for (const char* add : {"add1", "add2"}) EXPECT_EQ(fused.node_seconds()[static_cast<std::size_t>(*fused_g.find_node(add))], 0.0) << add;
    // A hook on either node of a pair runs both separately, with the same result.
    int seen = 0;
    fused.add_hook(*fused_g.find_node("b"), [&](NodeId, std::span<const TensorRef>) { ++seen; });
    fused.add_hook(*fused_g.find_node("add2"), [&](NodeId, std::span<const TensorRef>) { ++seen; });
    const auto hooked = fused.run(std::vector<Tensor>{x});
    EXPECT_EQ(seen, 2);
    EXPECT_TRUE(std::equal(hooked[0].data<float>().begin(), hooked[0].data<float>().end(), want[0].data<float>().begin()));
    EXPECT_GT(fused.node_seconds()[static_cast<std::size_t>(*fused_g.find_node("add1"))], 0.0);
  }
}

TEST(Executor, HooksObserveAndOverridesReplace) {
  const SmallCnn m = small_cnn(1);
  Executor ex(m.g);
  const NodeId conv = *m.g.find_node("conv");
  const NodeId fc = *m.g.find_node("fc");
  double conv_max = -1;
  int calls = 0;
  ex.add_hook(conv, [&](NodeId id, std::span<const TensorRef> outs) {
    EXPECT_EQ(id, conv);
    ASSERT_EQ(outs.size(), 1u);
    EXPECT_EQ(*outs[0].shape, Shape({1, m.O, m.H, m.W}));
    for (float v : outs[0].as<float>()) conv_max = std::max<double>(conv_max, v);
    ++calls;
  });
  const Tensor x = random_tensor({1, m.C, m.H, m.W}, 3);
  auto out = ex.run(std::vector<Tensor>{x});
  EXPECT_EQ(calls, 1);
  EXPECT_GE(conv_max, 0.0);  // ReLU was fused: the hook sees the activated output
  // A hook may modify outputs in place (fake quantization): zero the conv output.
  ex.add_hook(conv, [](NodeId, std::span<const TensorRef> outs) {
    for (float& v : outs[0].as<float>()) v = 0.0f;
  });
  out = ex.run(std::vector<Tensor>{x});
  for (int64_t k = 0; k < m.classes; ++k) EXPECT_FLOAT_EQ(out[1].data<float>()[k], m.fb.data<float>()[k]);
  // An override replaces the node's computation.
  ex.clear_hooks();
  ex.set_override(fc, [&](NodeId, std::span<const TensorRef> ins, std::span<const TensorRef> outs) {
    EXPECT_EQ(ins.size(), 3u);
    auto y = outs[0].as<float>();
    for (std::size_t k = 0; k < y.size(); ++k) y[k] = static_cast<float>(k);
  });
  out = ex.run(std::vector<Tensor>{x});
  for (int64_t k = 0; k < m.classes; ++k) EXPECT_FLOAT_EQ(out[1].data<float>()[k], static_cast<float>(k));
  EXPECT_GT(out[0].data<float>()[4], out[0].data<float>()[0]);  // softmax of 0..4
  EXPECT_THROW(ex.set_override(*m.g.find_node("flat"), {}), std::logic_error);  // a view has no storage
}

TEST(Executor, RebatchEqualsSampleBySample) {
  const SmallCnn m1 = small_cnn(1);
  std::string why;
  const auto g4 = rebatch(m1.g, 4, &why);
  ASSERT_TRUE(g4) << why;
  EXPECT_EQ(g4->value(g4->inputs()[0]).shape, Shape({4, m1.C, m1.H, m1.W}));
  const Tensor x = random_tensor({4, m1.C, m1.H, m1.W}, 17);
  Executor ex4(*g4, ExecOptions{.threads = 2});
  const auto out4 = ex4.run(std::vector<Tensor>{x});
  Executor ex1(m1.g, ExecOptions{.threads = 1});
  for (int64_t n = 0; n < 4; ++n) {
    Tensor xn(DType::kFloat32, {1, m1.C, m1.H, m1.W});
    std::copy_n(x.data<float>().data() + n * xn.numel(), xn.numel(), xn.data<float>().data());
    const auto o = ex1.run(std::vector<Tensor>{xn});
    // The batch is the Gemm's row count: only closeness is promised (the GEMM's row
    // tiles change with it; today each element still sums its products in order).
    for (int64_t k = 0; k < m1.classes; ++k) {
      const float want = o[1].data<float>()[k];
      EXPECT_NEAR(out4[1].data<float>()[n * m1.classes + k], want, 1e-5 * std::max(1.0f, std::abs(want)))
          << n << "," << k;
    }
  }
}

TEST(Executor, RebatchRefusesGraphsThatMixSamples) {
  {  // Concat along the batch axis.
    GraphBuilder gb;
    const ValueId a = gb.input("a", {1, 3});
    const ValueId y = gb.value("y", {2, 3});
    gb.node("cat", OpKind::kConcat, {a, a}, {y}, AxisAttrs{0, false});
    std::string why;
    EXPECT_FALSE(rebatch(gb.finish({y}), 8, &why));
    EXPECT_NE(why.find("no batch axis"), std::string::npos) << why;
  }
  {  // Softmax over axis 0.
    GraphBuilder gb;
    const ValueId a = gb.input("a", {1, 3});
    const ValueId y = gb.value("y", {1, 3});
    gb.node("sm", OpKind::kSoftmax, {a}, {y}, AxisAttrs{0, false});
    std::string why;
    EXPECT_FALSE(rebatch(gb.finish({y}), 8, &why));
    EXPECT_NE(why.find("Softmax over axis 0"), std::string::npos) << why;
  }
  {  // A Reshape that drops the batch axis.
    GraphBuilder gb;
    const ValueId a = gb.input("a", {1, 4});
    const ValueId y = gb.value("y", {4});
    gb.node("r", OpKind::kReshape, {a}, {y});
    std::string why;
    EXPECT_FALSE(rebatch(gb.finish({y}), 2, &why));
    EXPECT_NE(why.find("'y'"), std::string::npos) << why;
  }
}

TEST(Executor, ViewsAliasAndIntegerAndIndicesOutputs) {
  GraphBuilder gb;
  const ValueId a = gb.input("a", {1, 1, 4, 4}, DType::kUInt8);
  const ValueId r = gb.value("r", {1, 16}, DType::kUInt8);
  gb.node("reshape", OpKind::kReshape, {a}, {r});
  const ValueId sum = gb.value("sum", {1, 16}, DType::kUInt8);
  gb.node("add", OpKind::kAdd, {r, r}, {sum});
  const ValueId p = gb.value("p", {1, 1, 2, 2}, DType::kUInt8);
  const ValueId idx = gb.value("idx", {1, 1, 2, 2}, DType::kInt64);
  PoolAttrs pa;
  pa.kernel = {2, 2};
  pa.strides = {2, 2};
  pa.dilations = {1, 1};
  pa.pads = {0, 0, 0, 0};
  gb.node("pool", OpKind::kMaxPool, {a}, {p, idx}, pa);
  const LayerGraph g = gb.finish({r, sum, p, idx});
  Executor ex(g);
  std::vector<uint8_t> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<uint8_t>(i * 17);
  const auto out = ex.run(std::vector<Tensor>{Tensor::from<uint8_t>({1, 1, 4, 4}, v)});
  EXPECT_EQ(out[0].shape(), Shape({1, 16}));
  EXPECT_EQ(out[0].as_int64(15), 255);
  EXPECT_EQ(out[1].as_int64(15), 254);  // 255 + 255 wraps in uint8
  EXPECT_EQ(out[2].as_int64(0), 85);     // max of {0, 17, 68, 85}
  EXPECT_EQ(out[3].as_int64(0), 5);
  EXPECT_EQ(out[3].as_int64(3), 15);
}

TEST(Executor, InputChecksNameTheInput) {
  const SmallCnn m = small_cnn(1);
  Executor ex(m.g);
  auto err = [&](std::vector<Tensor> in) {
    try {
      ex.run(in);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err({Tensor(DType::kFloat32, {1, 2, 6, 5})}).find("input 'x' must be float32 1x2x6x6, got float32 1x2x6x5"),
            std::string::npos);
  EXPECT_NE(err({Tensor(DType::kFloat64, {1, 2, 6, 6})}).find("got float64"), std::string::npos);
  EXPECT_NE(err({}).find("takes 1 input(s), got 0"), std::string::npos);
  // Constants without data (a shapes-only import) cannot run.
  LayerGraph shapes_only = m.g;
  for (std::size_t v = 0; v < shapes_only.values().size(); ++v)
    if (shapes_only.value(static_cast<ValueId>(v)).is_constant) shapes_only.value(static_cast<ValueId>(v)).data.reset();
  EXPECT_THROW(Executor{shapes_only}, Error);
}

TEST(Executor, BroadcastMatMulAndGemmVariants) {
  // MatMul [2,1,3,4] x [5,4,2] -> [2,5,3,2] (batch broadcast, neither operand constant).
  GraphBuilder gb;
  const ValueId a = gb.input("a", {2, 1, 3, 4});
  const ValueId b = gb.input("b", {5, 4, 2});
  const ValueId y = gb.value("y", {2, 5, 3, 2});
  gb.node("mm", OpKind::kMatMul, {a, b}, {y});
  // Gemm with transA, alpha, beta and a full C: Y = 0.5 * A^T B + 2 * C.
  const ValueId ga = gb.input("ga", {4, 3});
  const Tensor gbt = random_tensor({4, 6}, 31), gct = random_tensor({3, 6}, 32);
  const ValueId gbv = gb.constant("gb", gbt), gcv = gb.constant("gc", gct);
  const ValueId gy = gb.value("gy", {3, 6});
  GemmAttrs attrs;
  attrs.trans_a = true;
  attrs.alpha = 0.5f;
  attrs.beta = 2.0f;
  attrs.has_c = true;
  gb.node("gemm", OpKind::kGemm, {ga, gbv, gcv}, {gy}, attrs, {ActKind::kRelu});
  const LayerGraph g = gb.finish({y, gy});
  const Tensor at = random_tensor({2, 1, 3, 4}, 33), bt = random_tensor({5, 4, 2}, 34), gat = random_tensor({4, 3}, 35);
  Executor ex(g, ExecOptions{.threads = 2});
  const auto out = ex.run(std::vector<Tensor>{at, bt, gat});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j)
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 2; ++c) {
          double s = 0;
          for (int k = 0; k < 4; ++k) s += double(at.data<float>()[(i * 3 + r) * 4 + k]) * bt.data<float>()[(j * 4 + k) * 2 + c];
          EXPECT_NEAR(out[0].data<float>()[((i * 5 + j) * 3 + r) * 2 + c], s, 1e-5);
        }
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 6; ++c) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += double(gat.data<float>()[k * 3 + r]) * gbt.data<float>()[k * 6 + c];
      const double want = std::max(0.0, 0.5 * s + 2.0 * gct.data<float>()[r * 6 + c]);
      EXPECT_NEAR(out[1].data<float>()[r * 6 + c], want, 1e-5);
    }
}

}  // namespace
}  // namespace qsim
