// `qsim quantize` through the binary, on the committed 100 test images (npy data, no
// dataset package): the --json keys and ranges, --out writing the QDQ model and its
// alloc.json (the model loads and `qsim run` on it gives the argmax of `qsim run
// --precision` with that alloc.json), and a bad --precision file: exit 2, one line,
// no output file.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("qsim_quantize_cli_{}_{}", ::getpid(), counter_++);
    fs::create_directories(dir_);
    if (!fs::exists(model("fmnist_resnet.onnx")) || !fs::exists(model("fmnist_test100.npy")))
      GTEST_SKIP() << "needs the bundled models";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string model(const std::string& name) { return std::string(QSIM_SOURCE_DIR) + "/models/" + name; }
  Result run(const std::string& args) const {
    const std::string cmd = fmt::format("{} {} >{} 2>{}", QSIM_BINARY, args, path("stdout"), path("stderr"));
    const int status = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(path("stdout"));
    r.err = read_file(path("stderr"));
    fs::remove(path("stdout"));
    fs::remove(path("stderr"));
    return r;
  }
  // quantize on the committed images (calibration on 16 of them) with extra arguments.
  Result quantize(const std::string& extra) const {
    return run(fmt::format("quantize --model {} --data npy:{} --labels {} --calib-samples 16 --threads 2 {}",
                           model("fmnist_resnet.onnx"), model("fmnist_test100.npy"), model("fmnist_test100_labels.npy"), extra));
  }
  fs::path dir_;
  static inline int counter_ = 0;
};

TEST_F(QuantizeCli, JsonReport) {
  const Result r = quantize(fmt::format("--bits 8 --per-channel --json {}", path("q.json")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("quant top-1:"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read_file(path("q.json")));
  for (const char* k : {"fp32_top1", "quant_top1", "agreement"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k;
    EXPECT_GE(j[k].get<double>(), 0.0) << k;
    EXPECT_LE(j[k].get<double>(), 1.0) << k;
  }
  ASSERT_TRUE(j.contains("sqnr_db") && j["sqnr_db"].is_number());
  EXPECT_GT(j["sqnr_db"].get<double>(), 10.0);
  EXPECT_EQ(j["samples"], 100);
  EXPECT_EQ(j["wbits"], 8);
  EXPECT_EQ(j["abits"], 8);
  EXPECT_EQ(j["per_channel"], true);
  // 8/8 on 100 images: at most a couple of images change class.
  EXPECT_GE(j["agreement"].get<double>(), 0.97);
  EXPECT_NEAR(j["quant_top1"].get<double>(), j["fp32_top1"].get<double>(), 0.03);
}

TEST_F(QuantizeCli, OutWritesQdqModelAndAlloc) {
  const Result r = quantize(fmt::format("--wbits 4 --abits 8 --per-channel --out {}", path("m.q.onnx")));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(path("m.q.onnx")));
  ASSERT_TRUE(fs::exists(path("m.q.alloc.json")));
  EXPECT_NE(r.out.find("wrote " + path("m.q.onnx") + " and " + path("m.q.alloc.json")), std::string::npos) << r.out;
  // The alloc.json: every layer at w4/a8 with its scales, and the activation section.
  const auto a = nlohmann::json::parse(read_file(path("m.q.alloc.json")));
  ASSERT_TRUE(a.contains("layers") && !a["layers"].empty());
  for (const auto& l : a["layers"]) {
    EXPECT_EQ(l["wbits"], 4);
    EXPECT_EQ(l["abits"], 8);
    EXPECT_FALSE(l["weight_scale"].empty());
  }
  ASSERT_TRUE(a.contains("quantization"));
  EXPECT_FALSE(a["quantization"]["activations"].empty());
  // The QDQ model imports (QuantizeLinear/DequantizeLinear present)...
  const LayerGraph g = import_onnx(path("m.q.onnx"));
  int qdq = 0;
  for (const Node& n : g.nodes()) qdq += n.op == OpKind::kQuantizeLinear || n.op == OpKind::kDequantizeLinear;
  EXPECT_GT(qdq, 0);
  // ... and `qsim run` on it gives the argmax of the quantized model run from the alloc.json.
  const std::string x = model("fmnist_test100.npy");
  ASSERT_EQ(run(fmt::format("run --model {} --input {} --output {}", path("m.q.onnx"), x, path("y_qdq.npy"))).code, 0);
  const Result rp = run(fmt::format("run --model {} --precision {} --input {} --output {}", model("fmnist_resnet.onnx"),
                                    path("m.q.alloc.json"), x, path("y_fake.npy")));
  ASSERT_EQ(rp.code, 0) << rp.err;
  const Tensor yq = read_npy(path("y_qdq.npy")), yf = read_npy(path("y_fake.npy"));
  ASSERT_EQ(yq.shape(), yf.shape());
  const int64_t n = yq.dim(0), c = yq.numel() / n;
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto q = yq.data<float>().subspan(static_cast<std::size_t>(i * c), static_cast<std::size_t>(c));
    const auto f = yf.data<float>().subspan(static_cast<std::size_t>(i * c), static_cast<std::size_t>(c));
    same += (std::max_element(q.begin(), q.end()) - q.begin()) == (std::max_element(f.begin(), f.end()) - f.begin());
  }
  EXPECT_EQ(same, n);
}

TEST_F(QuantizeCli, BadPrecisionFileExits2WithoutOutput) {
  {
    std::ofstream(path("bad.json")) << "{\"format\": \"qsim-precision\", \"layers\": [{\"name\": 3}";
  }
  const Result r = quantize(fmt::format("--precision {} --out {} --json {}", path("bad.json"), path("m.q.onnx"), path("q.json")));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("m.q.onnx")));
  EXPECT_FALSE(fs::exists(path("m.q.alloc.json")));
  EXPECT_FALSE(fs::exists(path("q.json")));
  // A well-formed file that lacks a layer of the model: also exit 2, nothing written.
  {
    std::ofstream(path("partial.json")) << R"({"format": "qsim-precision", "layers": [{"name": "nope", "wbits": 8, "abits": 8}]})";
  }
  const Result r2 = quantize(fmt::format("--precision {} --out {}", path("partial.json"), path("m.q.onnx")));
  EXPECT_EQ(r2.code, 2);
  EXPECT_EQ(std::count(r2.err.begin(), r2.err.end(), '\n'), 1) << r2.err;
  EXPECT_FALSE(fs::exists(path("m.q.onnx")));
  EXPECT_FALSE(fs::exists(path("m.q.alloc.json")));
}

}  // namespace
}  // namespace qsim
