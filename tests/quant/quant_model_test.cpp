// The quantized model: plan (widths as the timing model derives them), calibration
// spec round trip, and the two executors (fake-quant on the float32 executor and
// integer-only) against each other and against independent references.
//
// - Hand-built graphs cover every quantized role (grouped/depthwise Conv, Gemm,
//   MatMul, Add/Sum, Concat, pools, Transpose, Pad, Relu/Clip, float fallbacks,
//   width changes): both executors must give identical outputs, and the integer
//   results must equal a direct evaluation of the integer formulas written here.
// - Bundled Fashion-MNIST models on a subset of the test split (the full 10k is
//   scripts/ptq_table.sh --check-modes): identical logits and argmax in both modes at
//   8/8 and 4/8, and 8-bit accuracy close to float32.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "graph/onnx_import.h"
#include "data/dataset.h"
#include "quant/int_exec.h"
#include "data/npy.h"
#include "quant/quant_eval.h"
#include "quant/quant_fake.h"
#include "quant/quant_model.h"
#include "sim/analytical/analytical_backend.h"
#include "sim/config/hw_spec_yaml.h"
#include "tests/test_util.h"
#include "tests/bundled_models.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;
using testing::GraphBuilder;

bool have_data() { return fs::exists(kFashionMnistDir) && fs::exists(bundled_onnx("fmnist_resnet")); }

// Samples along axis 0 of a tensor as a labelled Dataset (labels: all 0).
class TensorDataset final : public Dataset {
 public:
  explicit TensorDataset(Tensor t) : t_(std::move(t)) { shape_.assign(t_.shape().begin() + 1, t_.shape().end()); }
  int64_t size() const override { return t_.dim(0); }
  const Shape& sample_shape() const override { return shape_; }
  void load(int64_t i, float* dst) const override {
    const int64_t n = sample_numel();
    std::copy_n(t_.data<float>().data() + i * n, n, dst);
  }
  int64_t label(int64_t) const override { return 0; }
  std::string description() const override { return "test tensor"; }

 private:
  Tensor t_;
  Shape shape_;
};

// Runs both executors on `inputs` and checks they agree exactly; returns the outputs.
std::vector<Tensor> both_modes(const QuantizedModel& qm, const std::vector<Tensor>& inputs) {
  FakeQuantExecutor fake(qm, ExecOptions{.threads = 2});
  IntExecutor integer(qm, ExecOptions{.threads = 2});
  const auto a = fake.run(inputs);
  const auto b = integer.run(inputs);
  EXPECT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const auto x = a[i].data<float>(), y = b[i].data<float>();
    int64_t differ = 0;
    for (std::size_t k = 0; k < x.size(); ++k) differ += x[k] != y[k];
    EXPECT_EQ(differ, 0) << "output " << i << ": fake-quant and integer outputs differ in " << differ << " of " << x.size();
  }
  return b;
}

// ------------------------------------------------------------------ hand-built graphs

// x [2,4,6,6] -> Conv 3x3 (+Relu) -> depthwise Conv (+Clip 0..6) -> Add(conv, dw) ->
// MaxPool 2x2 -> Concat(pool, AveragePool 3x3 pad 1 of pool) -> Transpose back and forth
// -> Pad -> Sigmoid (float) -> GlobalAveragePool -> Flatten -> Gemm (transB=0) -> out
LayerGraph coverage_graph() {
  GraphBuilder b;
  const ValueId x = b.input("x", {2, 4, 6, 6});
  const ValueId w1 = b.constant("w1", testing::random_tensor({8, 2, 3, 3}, 1, -0.5f, 0.5f));
  const ValueId b1 = b.constant("b1", testing::random_tensor({8}, 2, -0.2f, 0.2f));
  const ValueId c1 = b.value("c1", {2, 8, 6, 6});
  b.node("conv1", OpKind::kConv, {x, w1, b1}, {c1}, ConvAttrs{{3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 2, true},
         Activation{ActKind::kRelu});
  const ValueId w2 = b.constant("w2", testing::random_tensor({8, 1, 3, 3}, 3, -0.7f, 0.7f));
  const ValueId c2 = b.value("c2", {2, 8, 6, 6});
  b.node("dw", OpKind::kConv, {c1, w2}, {c2}, ConvAttrs{{3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 8, false},
         Activation{ActKind::kClip, 0.0f, 6.0f});
  const ValueId s = b.value("s", {2, 8, 6, 6});
  b.node("add", OpKind::kAdd, {c1, c2}, {s});
  const ValueId p = b.value("p", {2, 8, 3, 3});
  b.node("maxpool", OpKind::kMaxPool, {s}, {p}, PoolAttrs{{2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}});
  const ValueId ap = b.value("ap", {2, 8, 3, 3});
  PoolAttrs avg{{3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}};
  b.node("avgpool", OpKind::kAveragePool, {p}, {ap}, avg);
  const ValueId cat = b.value("cat", {2, 16, 3, 3});
  b.node("concat", OpKind::kConcat, {p, ap}, {cat}, AxisAttrs{1});
  const ValueId t1 = b.value("t1", {2, 3, 3, 16});
  b.node("t1", OpKind::kTranspose, {cat}, {t1}, AxesAttrs{{0, 2, 3, 1}});
  const ValueId t2 = b.value("t2", {2, 16, 3, 3});
  b.node("t2", OpKind::kTranspose, {t1}, {t2}, AxesAttrs{{0, 3, 1, 2}});
  const ValueId pd = b.value("pd", {2, 16, 5, 5});
  b.node("pad", OpKind::kPad, {t2}, {pd}, PadAttrs{PadMode::kConstant, {0, 0, 1, 1, 0, 0, 1, 1}, 0.0});
  const ValueId sg = b.value("sg", {2, 16, 5, 5});
  b.node("sigmoid", OpKind::kSigmoid, {pd}, {sg}, ActAttrs{Activation{ActKind::kSigmoid}});
  const ValueId gp = b.value("gp", {2, 16, 1, 1});
  b.node("gap", OpKind::kGlobalAveragePool, {sg}, {gp});
  const ValueId fl = b.value("fl", {2, 16});
  b.node("flatten", OpKind::kFlatten, {gp}, {fl}, AxisAttrs{1});
  const ValueId wf = b.constant("wf", testing::random_tensor({16, 5}, 4, -1.0f, 1.0f));
  const ValueId bf = b.constant("bf", testing::random_tensor({5}, 5, -0.5f, 0.5f));
  const ValueId y = b.value("y", {2, 5});
  GemmAttrs ga;
  ga.alpha = 0.5f;
  ga.beta = 2.0f;
  ga.has_c = true;
  b.node("fc", OpKind::kGemm, {fl, wf, bf}, {y}, ga);
  return b.finish({y});
}

PrecisionAlloc uniform(const LayerGraph& g, int w, int a, bool pc) { return PrecisionAlloc::uniform(g, w, a, pc); }

TEST(QuantModel, CoverageGraphBothModesAgree) {
  const LayerGraph g = coverage_graph();
  const TensorDataset calib(testing::random_tensor({32, 4, 6, 6}, 7, -1.0f, 2.0f));
  for (int bits : {8, 4}) {
    for (bool pc : {false, true}) {
      QuantOptions o;
      o.calib = CalibMethod::kMinMax;
      const QuantSpec spec = calibrate(g, uniform(g, bits, bits, pc), "test", calib, o);
      const QuantizedModel qm(g, spec);
      int roles[16] = {};
      for (std::size_t i = 0; i < qm.graph().nodes().size(); ++i) ++roles[static_cast<int>(qm.role(static_cast<NodeId>(i)))];
      EXPECT_EQ(roles[static_cast<int>(QRole::kCompute)], 3);
      EXPECT_EQ(roles[static_cast<int>(QRole::kAdd)], 1);
      EXPECT_EQ(roles[static_cast<int>(QRole::kConcat)], 1);
      EXPECT_EQ(roles[static_cast<int>(QRole::kAvgPool)], 2);
      EXPECT_EQ(roles[static_cast<int>(QRole::kMaxPool)], 1);
      EXPECT_EQ(roles[static_cast<int>(QRole::kMove)], 3);
      EXPECT_EQ(roles[static_cast<int>(QRole::kFloat)], 1);
      EXPECT_EQ(roles[static_cast<int>(QRole::kDequant)], 1);
      EXPECT_EQ(roles[static_cast<int>(QRole::kQuant)], 1);
      const std::vector<Tensor> in{testing::random_tensor({2, 4, 6, 6}, 11, -1.0f, 2.0f)};
      const auto out = both_modes(qm, in);
      // Against float32: close at 8 bits.
      Executor fe(g, ExecOptions{.threads = 1});
      const auto ref = fe.run(in);
      double worst = 0, scale = 0;
      for (int64_t i = 0; i < ref[0].numel(); ++i) {
        worst = std::max(worst, std::abs(double(out[0].data<float>()[static_cast<std::size_t>(i)]) - ref[0].data<float>()[static_cast<std::size_t>(i)]));
        scale = std::max(scale, std::abs(double(ref[0].data<float>()[static_cast<std::size_t>(i)])));
      }
      if (bits == 8) {
        EXPECT_LT(worst, 0.05 * scale) << "per_channel " << pc;
      }
    }
  }
}

// Convolutions through the integer executor's packed GEMM: several K slices (K = 9 *
// 80 > 512), row tails (20 and 13 output channels), column chunks and a remainder
// panel, every kind of im2col load (stride 2 straddling output rows, 7-pixel rows
// gathered, stride 1 with padding), a 1x1 read in place, a residual Add and a Relu /
// Clip range; K tap-major (80, 20 and 64 input channels) and channel-major (13); at 8 and 4 bits, one and two threads: identical to the fake-quant
// executor (its float32 convolutions are exact on these integers).
TEST(QuantModel, PackedIntegerConvolutionsAgree) {
  GraphBuilder b;
  const ValueId x = b.input("x", {1, 80, 29, 29});
  auto conv = [&](const std::string& name, ValueId in, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                  int64_t hw_out, Activation act, unsigned seed) {
    const ValueId w = b.constant(name + ".w", testing::random_tensor({cout, cin, k, k}, seed, -0.3f, 0.3f));
    const ValueId bias = b.constant(name + ".b", testing::random_tensor({cout}, seed + 1, -0.2f, 0.2f));
    const ValueId y = b.value(name, {1, cout, hw_out, hw_out});
    b.node(name, OpKind::kConv, {in, w, bias}, {y},
           ConvAttrs{{k, k}, {stride, stride}, {1, 1}, {k / 2, k / 2, k / 2, k / 2}, 1, true}, act);
    return y;
  };
  const ValueId c1 = conv("c1", x, 80, 20, 3, 2, 15, {ActKind::kRelu}, 21);          // K = 720, stride 2
  const ValueId c2 = conv("c2", c1, 20, 13, 3, 2, 8, {}, 23);                         // 8x8 out: straddles
  const ValueId c3 = conv("c3", c2, 13, 13, 5, 1, 8, {ActKind::kClip, 0.0f, 6.0f}, 25);  // pad 2
  const ValueId s = b.value("s", {1, 13, 8, 8});
  b.node("add", OpKind::kAdd, {c2, c3}, {s});
  const ValueId c4 = conv("c4", s, 13, 64, 1, 1, 8, {ActKind::kRelu}, 27);           // 1x1 in place
  const ValueId c5 = conv("c5", c4, 64, 16, 3, 2, 4, {}, 29);                         // 4x4 out: gathers
  const LayerGraph g = b.finish({c5});
  const TensorDataset calib(testing::random_tensor({8, 80, 29, 29}, 31, -1.0f, 1.5f));
  for (int bits : {8, 4}) {
    QuantOptions o;
    o.calib = CalibMethod::kMinMax;
    const QuantizedModel qm(g, calibrate(g, uniform(g, bits, 8, true), "test", calib, o));
    const std::vector<Tensor> in{testing::random_tensor({1, 80, 29, 29}, 33, -1.0f, 1.5f)};
    const auto two = both_modes(qm, in);
    IntExecutor one(qm, ExecOptions{.threads = 1, .profile = true});
    const auto o1 = one.run(in);
    EXPECT_TRUE(std::equal(o1[0].data<float>().begin(), o1[0].data<float>().end(), two[0].data<float>().begin()))
        << "one and two threads differ at w" << bits;
    // The profile times every node that runs (here every node does: no views).
    ASSERT_EQ(one.node_seconds().size(), g.nodes().size());
    for (double t : one.node_seconds()) EXPECT_GT(t, 0.0);
  }
}

// ------------------------------------------------------------------ bundled models

struct Bundled {
  const char* name;
  int wbits, abits;
};

class BundledModels : public ::testing::TestWithParam<Bundled> {};

// Fake-quant and integer executors on the first 500 test images (they include the
// committed models/fmnist_test100.npy; without the Fashion-MNIST package the test runs
// on those 100, calibrated on them): identical logits (so identical argmax, and within
// one output step a fortiori); 8/8 close to float32. The full 10k test split:
// scripts/ptq_table.sh --check-modes (docs/quantization.md).
TEST_P(BundledModels, FakeAndIntegerAgree) {
  const Bundled p = GetParam();
  if (!fs::exists(bundled_onnx(p.name))) GTEST_SKIP() << "needs " << bundled_onnx(p.name);
  const LayerGraph g = import_onnx(bundled_onnx(p.name));
  const std::string test100 = std::string(QSIM_SOURCE_DIR) + "/models/fmnist_test100";
  std::unique_ptr<Dataset> train, test;
  if (have_data()) {
    train = load_fashion_mnist("", Split::kTrain);
    test = load_fashion_mnist("", Split::kTest, 500);
  } else {
    train = load_npy_dataset(test100 + ".npy", "", 0);
    test = load_npy_dataset(test100 + ".npy", test100 + "_labels.npy", 0);
  }
  QuantOptions o;
  o.calib_samples = 256;
  const QuantSpec spec = calibrate(g, uniform(g, p.wbits, p.abits, true), "test", *train, o);
  EXPECT_GE(test->size(), 100);
  QuantEvalOptions eo;
  eo.modes = {QuantMode::kFake, QuantMode::kInt};
  eo.threads = 2;
  const QuantEvalResult r = evaluate_quantized(g, spec, *test, eo);
  const QuantizedModel qm(g, spec);
  EXPECT_EQ(qm.exact_layers(), qm.compute_layer_count()) << "float32 accumulation must be exact in fake mode";
  EXPECT_EQ(r.modes_agree, r.samples);
  EXPECT_EQ(r.modes_max_abs_diff, 0.0);
  EXPECT_EQ(r.modes[0].top1_correct, r.modes[1].top1_correct);
  const double drop = r.fp32_top1() - static_cast<double>(r.modes[0].top1_correct) / r.samples;
  std::printf("%s %d/%d: fp32 %.4f fake %.4f int %.4f agreement %.4f sqnr %.1f dB\n", p.name, p.wbits, p.abits,
              r.fp32_top1(), double(r.modes[0].top1_correct) / r.samples, double(r.modes[1].top1_correct) / r.samples,
              double(r.modes[0].agree_fp32) / r.samples, r.modes[0].sqnr_db());
  if (p.wbits == 8 && p.abits == 8) {
    EXPECT_LE(drop, 0.01);
    EXPECT_GE(r.modes[0].agree_fp32, r.samples * 97 / 100);
    EXPECT_GT(r.modes[0].sqnr_db(), 20.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Quant, BundledModels,
                         ::testing::Values(Bundled{"fmnist_resnet", 8, 8}, Bundled{"fmnist_resnet", 4, 8},
                                           Bundled{"fmnist_mobilenetv2", 8, 8}, Bundled{"fmnist_mobilenetv2", 4, 8},
                                           Bundled{"fmnist_squeezenet", 8, 8}, Bundled{"fmnist_squeezenet", 4, 8},
                                           Bundled{"fmnist_vgg", 8, 8}, Bundled{"fmnist_vgg", 4, 8}),
                         [](const auto& info) {
                           return std::string(info.param.name) + "_w" + std::to_string(info.param.wbits) + "a" +
                                  std::to_string(info.param.abits);
                         });

}  // namespace
}  // namespace qsim
