// Whole models through import + executor against outside references.
//
// - Bundled Fashion-MNIST CNNs (models/fmnist_*.onnx): float32 logits on the 100
//   committed test images must match PyTorch's (models/<name>.logits.npy) within
//   1e-4 relative (per sample: |ours - torch| <= 1e-4 * max |torch logit|).
// - ONNX's "light" zoo models (full ONNX-zoo graphs in their opset-9 form, weights
//   given by ConstantOfShape), committed in tests/data/onnx-light/ from the onnx/onnx
//   repository (light_<name>.onnx + light_<name>_output_0.pb, see docs/executor.md).
//   Input as onnx's backend test runner makes it (generate_dummy_data, random=False):
//   arange(n).reshape(shape) / n in float32; tolerances as in onnx/backend/test/case/model.
// Each test skips (with the reason) when its files are absent.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "graph/onnx_import.h"
#include "quant/eval.h"
#include "runtime/executor.h"
#include "data/npy.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> bundled_models() {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(QSIM_SOURCE_DIR) / "models";
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("fmnist_", 0) == 0 && e.path().extension() == ".onnx") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(BundledModels, LogitsMatchPyTorch) {
  const fs::path dir = fs::path(QSIM_SOURCE_DIR) / "models";
  const auto models = bundled_models();
  const fs::path images = dir / "fmnist_test100.npy";
  if (models.empty() || !fs::exists(images)) GTEST_SKIP() << "no models/fmnist_*.onnx with models/fmnist_test100.npy";
  const Tensor x = read_npy(images.string());
  ASSERT_EQ(x.rank(), 4);
  const int64_t n = x.dim(0), per = x.numel() / n;
  int checked = 0;
  for (const fs::path& m : models) {
    const fs::path ref_path = dir / (m.stem().string() + ".logits.npy");
    if (!fs::exists(ref_path)) {
      ADD_FAILURE() << m << " has no " << ref_path.filename();
      continue;
    }
    const Tensor ref = read_npy(ref_path.string());
    ASSERT_EQ(ref.dim(0), n) << ref_path;
    const int64_t classes = ref.numel() / n;
    const LayerGraph g = import_onnx(m.string());
    // Batch 1 sample by sample, exactly as the model was exported ...
    Executor ex(g, ExecOptions{.threads = 2});
    std::vector<Tensor> in{Tensor(DType::kFloat32, g.value(g.inputs()[0]).shape)}, out;
    ASSERT_EQ(in[0].numel(), per) << m;
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(x.data<float>().data() + i * per, per, in[0].data<float>().data());
      ex.run(in, out);
      const float* r = ref.data<float>().data() + i * classes;
      float scale = 0;
      for (int64_t c = 0; c < classes; ++c) scale = std::max(scale, std::abs(r[c]));
      for (int64_t c = 0; c < classes; ++c)
        worst = std::max(worst, std::abs(double(out[0].data<float>()[static_cast<std::size_t>(c)]) - r[c]) / scale);
    }
    EXPECT_LE(worst, 1e-4) << m.filename() << ": worst relative logit difference " << worst;
    // ... and re-batched to all 100 at once, which must give the same logits.
    std::string why;
    const auto gb = rebatch(g, n, &why);
    if (gb) {
      Executor exb(*gb, ExecOptions{.threads = 2});
      const auto outb = exb.run(std::vector<Tensor>{x});
      double worst_b = 0;
      for (int64_t i = 0; i < n * classes; ++i) {
        const float* r = ref.data<float>().data();
        float scale = 0;
        for (int64_t c = 0; c < classes; ++c) scale = std::max(scale, std::abs(r[(i / classes) * classes + c]));
        worst_b = std::max(worst_b, std::abs(double(outb[0].data<float>()[static_cast<std::size_t>(i)]) - r[i]) / scale);
      }
      EXPECT_LE(worst_b, 1e-4) << m.filename() << " re-batched to " << n;
    }
    std::cout << "[ bundled ] " << m.filename().string() << ": worst relative difference " << worst
              << (gb ? "" : " (not re-batchable: " + why + ")") << "\n";
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(models.size()));
}

struct LightModel {
  const char* name;
  double rtol;
};

void PrintTo(const LightModel& m, std::ostream* os) { *os << m.name; }

class LightModels : public ::testing::TestWithParam<LightModel> {};

TEST_P(LightModels, ReproduceReferenceOutput) {
  const LightModel lm = GetParam();
  const fs::path dir = fs::path(QSIM_SOURCE_DIR) / "tests" / "data" / "onnx-light";
  const fs::path model = dir / ("light_" + std::string(lm.name) + ".onnx");
  const fs::path expected = dir / ("light_" + std::string(lm.name) + "_output_0.pb");
  ASSERT_TRUE(fs::exists(model) && fs::exists(expected)) << model << " / " << expected.filename();
  const LayerGraph g = import_onnx(model.string());
  ASSERT_EQ(g.inputs().size(), 1u);
  const Value& in = g.value(g.inputs()[0]);
  Tensor x(DType::kFloat32, in.shape);
  const int64_t n = x.numel();
  auto xd = x.data<float>();
  for (int64_t i = 0; i < n; ++i) xd[static_cast<std::size_t>(i)] = static_cast<float>(static_cast<double>(i) / n);
  Executor ex(g, ExecOptions{.threads = 2});
  const auto out = ex.run(std::vector<Tensor>{x});
  const Tensor want = load_onnx_tensor(expected.string());
  ASSERT_EQ(out[0].shape(), want.shape());
  double worst = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g0 = out[0].as_double(i), w = want.as_double(i);
    const double err = std::abs(g0 - w);
    if (err > 1e-7 + lm.rtol * std::abs(w)) ++bad;
    worst = std::max(worst, err / std::max(std::abs(w), 1e-30));
  }
  EXPECT_EQ(bad, 0) << lm.name << ": " << bad << " of " << want.numel() << " outside rtol " << lm.rtol
                    << " (worst relative " << worst << ")";
  std::cout << "[ light ] " << lm.name << ": " << want.numel() << " outputs within rtol " << lm.rtol
            << ", worst relative difference " << worst << "\n";
}

// Tolerances from onnx/backend/test/case/model/__init__.py.
INSTANTIATE_TEST_SUITE_P(Zoo, LightModels,
                         ::testing::Values(LightModel{"bvlc_alexnet", 1e-3}, LightModel{"densenet121", 2e-3},
                                           LightModel{"inception_v1", 1e-3}, LightModel{"inception_v2", 1e-3},
                                           LightModel{"resnet50", 1e-3}, LightModel{"shufflenet", 1e-3},
                                           LightModel{"squeezenet", 1e-3}, LightModel{"vgg19", 1e-3},
                                           LightModel{"zfnet512", 1e-3}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace qsim
