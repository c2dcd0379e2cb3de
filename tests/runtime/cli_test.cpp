// `qsim run` and `qsim eval` through the binary: outputs against references,
// re-batching, data sources, JSON, and one-line errors that leave no output file.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <png.h>

#include "graph/file_util.h"
#include "graph/onnx_import.h"
#include "data/npy.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

Result run_qsim(const std::string& args) {
  const fs::path dir = fs::temp_directory_path();
  const std::string out = (dir / fmt::format("qsim_cli_{}.out", ::getpid())).string();
  const std::string err = (dir / fmt::format("qsim_cli_{}.err", ::getpid())).string();
  const std::string cmd = fmt::format("{} {} >{} 2>{}", QSIM_BINARY, args, out, err);
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("qsim_cli_test_{}_{}", ::getpid(), counter_++);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string model(const std::string& name) { return std::string(QSIM_SOURCE_DIR) + "/models/" + name; }
  static bool have_models() { return fs::exists(model("fmnist_resnet.onnx")) && fs::exists(model("fmnist_test100.npy")); }
  fs::path dir_;
  static inline int counter_ = 0;
};

double max_rel(const Tensor& got, const Tensor& want) {
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::abs(want.as_double(i)));
  for (int64_t i = 0; i < want.numel(); ++i) worst = std::max(worst, std::abs(got.as_double(i) - want.as_double(i)));
  return worst / scale;
}

TEST_F(Cli, RunOnnxNodeCaseWithNamedInputs) {
  const fs::path c = "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_and_asymmetric_padding";
  if (!fs::exists(c)) GTEST_SKIP() << "no " << c;
  write_npy(path("x.npy"), load_onnx_tensor((c / "test_data_set_0/input_0.pb").string()));
  write_npy(path("w.npy"), load_onnx_tensor((c / "test_data_set_0/input_1.pb").string()));
  // Named in reverse order: binding is by name.
  const Result r = run_qsim(fmt::format("run --model {} --input W={} --input x={} --output {}", (c / "model.onnx").string(),
                                        path("w.npy"), path("x.npy"), path("y.npy")));
  ASSERT_EQ(r.code, 0) << r.err;
  const Tensor want = load_onnx_tensor((c / "test_data_set_0/output_0.pb").string());
  const Tensor got = read_npy(path("y.npy"));
  EXPECT_EQ(got.shape(), want.shape());
  EXPECT_LE(max_rel(got, want), 1e-6);
  EXPECT_NE(r.out.find("-> " + path("y.npy")), std::string::npos) << r.out;
}

// `qsim run` on ONNX zoo graphs in their opset-9 form (weights from ConstantOfShape),
// with the input onnx's test runner makes for them (see models_test.cpp).
TEST_F(Cli, RunLightZooModels) {
  const fs::path dir = fs::path(QSIM_SOURCE_DIR) / "tests" / "data" / "onnx-light";
  int ran = 0;
  for (const char* name : {"densenet121", "squeezenet", "inception_v1"}) {
    const fs::path m = dir / fmt::format("light_{}.onnx", name);
    const fs::path ref = dir / fmt::format("light_{}_output_0.pb", name);
    if (!fs::exists(m) || !fs::exists(ref)) continue;
    const LayerGraph g = import_onnx(m.string());
    Tensor x(DType::kFloat32, g.value(g.inputs()[0]).shape);
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) x.data<float>()[static_cast<std::size_t>(i)] = static_cast<float>(double(i) / n);
    write_npy(path("x.npy"), x);
    const Result r = run_qsim(fmt::format("run --model {} --input {} --output {}", m.string(), path("x.npy"), path("y.npy")));
    ASSERT_EQ(r.code, 0) << name << ": " << r.err;
    const Tensor want = load_onnx_tensor(ref.string());
    const Tensor got = read_npy(path("y.npy"));
    ASSERT_EQ(got.shape(), want.shape()) << name;
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_LE(std::abs(got.as_double(i) - want.as_double(i)), 1e-7 + 2e-3 * std::abs(want.as_double(i))) << name << " " << i;
    ++ran;
  }
  EXPECT_GT(ran, 0) << "no light models in " << dir;
}

TEST_F(Cli, RunBundledModelPerSampleAndRebatched) {
  if (!have_models()) GTEST_SKIP() << "no bundled models";
  const Tensor x = read_npy(model("fmnist_test100.npy"));
  const Tensor logits = read_npy(model("fmnist_resnet.logits.npy"));
  // One image (the model's own batch of 1), output selected by name.
  Tensor x0(DType::kFloat32, {1, 1, 28, 28});
  std::copy_n(x.data<float>().data(), 784, x0.data<float>().data());
  write_npy(path("x0.npy"), x0);
  Result r = run_qsim(fmt::format("run -m {} -i {} -o logits={}", model("fmnist_resnet.onnx"), path("x0.npy"), path("y0.npy")));
  ASSERT_EQ(r.code, 0) << r.err;
  const Tensor y0 = read_npy(path("y0.npy"));
  ASSERT_EQ(y0.shape(), Shape({1, 10}));
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(y0.data<float>()[k], logits.data<float>()[k], 1e-4);
  // Five images at once: the batch-1 graph is re-batched.
  Tensor x5(DType::kFloat32, {5, 1, 28, 28});
  std::copy_n(x.data<float>().data(), 5 * 784, x5.data<float>().data());
  write_npy(path("x5.npy"), x5);
  r = run_qsim(fmt::format("run -m {} -i {} -o {}", model("fmnist_resnet.onnx"), path("x5.npy"), path("y5.npy")));
  ASSERT_EQ(r.code, 0) << r.err;
  const Tensor y5 = read_npy(path("y5.npy"));
  ASSERT_EQ(y5.shape(), Shape({5, 10}));
  for (int i = 0; i < 50; ++i) EXPECT_NEAR(y5.data<float>()[i], logits.data<float>()[i], 1e-4) << i;
}

TEST_F(Cli, RunErrorsAreOneLineAndWriteNothing) {
  if (!have_models()) GTEST_SKIP() << "no bundled models";
  write_npy(path("bad.npy"), Tensor(DType::kFloat32, {1, 1, 27, 28}));
  write_npy(path("good.npy"), Tensor(DType::kFloat32, {1, 1, 28, 28}));
  struct Case {
    std::string args, message;
  };
  const std::string m = model("fmnist_resnet.onnx");
  const Case cases[] = {
      {fmt::format("run -m {} -i {} -o {}", m, path("bad.npy"), path("out.npy")),
       "has shape 1x1x27x28, but model input 'input' is 1x1x28x28"},
      {fmt::format("run -m {} -i nope={} -o {}", m, path("bad.npy"), path("out.npy")), "the model has no input 'nope'"},
      {fmt::format("run -m {} -i {} -o {}", m, path("missing.npy"), path("out.npy")), "missing.npy: cannot open"},
      {fmt::format("run -m {} -i {} -o other={}", m, path("good.npy"), path("out.npy")), "the model has no output 'other'"},
      {fmt::format("run -m {} -o {}", m, path("out.npy")), "no --input for model input 'input'"},
      {fmt::format("eval -m {} --data mnist", m), "expected fashion-mnist[:DIR], images:DIR or npy:FILE"},
      {fmt::format("eval -m {} --data images:{}", m, dir_.string()), "needs --labels FILE"},
  };
  for (const Case& c : cases) {
    const Result r = run_qsim(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(path("out.npy")));
  }
}

TEST_F(Cli, EvalFashionMnistJson) {
  if (!have_models() || !fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "no models or data";
  const Result r = run_qsim(fmt::format("eval -m {} --data fashion-mnist --limit 500 --json {}", model("fmnist_resnet.onnx"),
                                        path("e.json")));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(path("e.json")));
  EXPECT_EQ(j.at("samples"), 500);
  EXPECT_EQ(j.at("classes"), 10);
  EXPECT_GT(j.at("fp32_top1").get<double>(), 0.85);
  EXPECT_GE(j.at("fp32_top5").get<double>(), j.at("fp32_top1").get<double>());
  EXPECT_NE(r.out.find("fp32 top-1:"), std::string::npos) << r.out;
}

std::string png_gray(const float* px) {  // 28x28 gray PNG of [0,1] pixels that were k / 255
  std::array<uint8_t, 784> v{};
  for (int i = 0; i < 784; ++i) v[static_cast<std::size_t>(i)] = static_cast<uint8_t>(std::lround(px[i] * 255.0f));
  png_image im{};
  im.version = PNG_IMAGE_VERSION;
  im.width = 28;
  im.height = 28;
  im.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&im, nullptr, &size, 0, v.data(), 0, nullptr);
  std::string out(size, '\0');
  png_image_write_to_memory(&im, out.data(), &size, 0, v.data(), 0, nullptr);
  out.resize(size);
  return out;
}

TEST_F(Cli, EvalNpyAndImageFolderAgreeWithPyTorch) {
  if (!have_models()) GTEST_SKIP() << "no bundled models";
  const Tensor x = read_npy(model("fmnist_test100.npy"));
  const Tensor labels = read_npy(model("fmnist_test100_labels.npy"));
  const Tensor logits = read_npy(model("fmnist_vgg.logits.npy"));
  int64_t torch_correct = 0;
  for (int i = 0; i < 100; ++i) {
    const float* l = logits.data<float>().data() + i * 10;
    torch_correct += std::max_element(l, l + 10) - l == labels.as_int64(i);
  }
  // The 100 committed images as a .npy data set ...
  Result r = run_qsim(fmt::format("eval -m {} --data npy:{} --labels {} --json {}", model("fmnist_vgg.onnx"),
                                  model("fmnist_test100.npy"), model("fmnist_test100_labels.npy"), path("n.json")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(read_file(path("n.json"))).at("fp32_top1_correct"), torch_correct);
  // ... and the first 20 as PNG files with a "<name> <class>" labels file.
  fs::create_directories(dir_ / "png");
  std::string lines;
  int64_t torch20 = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string name = fmt::format("img{:03d}.png", i);
    write_file_atomic(path("png/" + name), png_gray(x.data<float>().data() + i * 784));
    lines += fmt::format("{} {}\n", name, labels.as_int64(i));
    const float* l = logits.data<float>().data() + i * 10;
    torch20 += std::max_element(l, l + 10) - l == labels.as_int64(i);
  }
  write_file_atomic(path("labels.txt"), lines);
  r = run_qsim(fmt::format("eval -m {} --data images:{} --labels {} --resize 28 --crop 28 --json {}",
                           model("fmnist_vgg.onnx"), path("png"), path("labels.txt"), path("i.json")));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(path("i.json")));
  EXPECT_EQ(j.at("samples"), 20);
  EXPECT_EQ(j.at("fp32_top1_correct"), torch20);
}

}  // namespace
}  // namespace qsim
