// `qsim info` end to end through the binary: JSON contract, and bad ONNX input
// giving exit code 2 with one line on stderr that names the file.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/app/cli_test_util.h"
#include "tests/graph/onnx_test_util.h"

namespace qsim {
namespace {

using testing::attr_f;
using testing::attr_ints;
using testing::OnnxModel;

using test::RunResult;
using test::run_qsim;
using test::TempDir;

std::string write(const TempDir& tmp, const std::string& name, const std::string& bytes) {
  test::write_text(tmp / name, bytes);
  return (tmp / name).string();
}

// x -> Conv(+BN) -> Relu -> MaxPool -> Flatten -> Gemm -> y
std::string small_model() {
  OnnxModel m(13);
  m.input("x", {1, 2, 6, 6});
  m.init_f("w", {4, 2, 3, 3}, std::vector<float>(72, 0.1f));
  for (const char* p : {"s", "b", "mean", "var"}) m.init_f(p, {4}, std::vector<float>(4, 1.0f));
  m.init_f("fc_w", {16, 3}, std::vector<float>(48, 0.5f));
  m.init_f("fc_b", {3}, std::vector<float>(3, 0.0f));
  attr_ints(m.node("Conv", {"x", "w"}, {"c"}, "conv1"), "pads", {1, 1, 1, 1});
  m.node("BatchNormalization", {"c", "s", "b", "mean", "var"}, {"bn"}, "bn1");
  m.node("Relu", {"bn"}, {"r"}, "relu1");
  auto* pool = m.node("MaxPool", {"r"}, {"p"}, "pool1");
  attr_ints(pool, "kernel_shape", {3, 3});
  attr_ints(pool, "strides", {3, 3});
  m.node("Flatten", {"p"}, {"f"}, "flatten");
  m.node("Gemm", {"f", "fc_w", "fc_b"}, {"y"}, "fc");
  m.output("y");
  return m.bytes();
}

bool have_binary() { return fs::exists(QSIM_BINARY); }

TEST(OnnxCli, InfoJsonContract) {
  if (!have_binary()) GTEST_SKIP() << "qsim binary not built";
  TempDir tmp;
  const std::string path = write(tmp, "small.onnx", small_model());
  const RunResult r = run_qsim({"info", "--model", path, "--json"}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("compute_layers").get<int>(), 2);
  const int64_t conv_macs = 1 * 4 * 6 * 6 * 2 * 9;
  const int64_t fc_macs = 16 * 3;
  EXPECT_EQ(j.at("total_macs").get<int64_t>(), conv_macs + fc_macs);
  EXPECT_EQ(j.at("total_params").get<int64_t>(), 72 + 4 + 48 + 3);
  const auto& layers = j.at("layers");
  ASSERT_EQ(layers.size(), 4u);  // conv1(+bn1+relu1), pool1, flatten, fc
  const auto& conv = layers.at(0);
  EXPECT_EQ(conv.at("name"), "conv1");
  EXPECT_EQ(conv.at("op"), "Conv");
  EXPECT_EQ(conv.at("M").get<int64_t>(), 36);
  EXPECT_EQ(conv.at("N").get<int64_t>(), 4);
  EXPECT_EQ(conv.at("K").get<int64_t>(), 18);
  EXPECT_EQ(conv.at("macs").get<int64_t>(), conv_macs);
  EXPECT_EQ(conv.at("params").get<int64_t>(), 76);
  for (const auto& l : layers)
    for (const char* key : {"name", "op", "M", "N", "K", "macs", "params"}) EXPECT_TRUE(l.contains(key)) << key;
  EXPECT_EQ(layers.at(3).at("op"), "Gemm");
}

TEST(OnnxCli, InfoTable) {
  if (!have_binary()) GTEST_SKIP() << "qsim binary not built";
  TempDir tmp;
  const std::string path = write(tmp, "small_table.onnx", small_model());
  const RunResult r = run_qsim({"info", "--model", path}, tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("conv1"), std::string::npos);
  EXPECT_NE(r.out.find("Conv+Relu"), std::string::npos);
  EXPECT_NE(r.out.find("1x2x6x6"), std::string::npos);
  EXPECT_NE(r.out.find("2592"), std::string::npos);  // conv MACs
}

void expect_one_line_error(const TempDir& tmp, const std::string& model_path, const std::string& part) {
  const RunResult r = run_qsim({"info", "--model", model_path}, tmp);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  EXPECT_NE(r.err.find(model_path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
}

TEST(OnnxCli, BadInputExitsTwoWithOneLine) {
  if (!have_binary()) GTEST_SKIP() << "qsim binary not built";
  TempDir tmp;
  const std::string good = small_model();
  expect_one_line_error(tmp, write(tmp, "empty.onnx", ""), "empty file");
  expect_one_line_error(tmp, write(tmp, "truncated.onnx", good.substr(0, good.size() / 2)), "not a valid ONNX model");
  expect_one_line_error(tmp, write(tmp, "random.onnx", std::string("\x12\x34\xff\x00\x99junk", 9)), ".onnx: ");
  expect_one_line_error(tmp, (tmp / "missing.onnx").string(), "No such file");

  OnnxModel unsupported(13);
  unsupported.input("x", {1, 1, 2, 2});
  unsupported.node("Resize", {"x"}, {"a"}, "up1");
  unsupported.node("LSTM", {"a"}, {"y"}, "lstm_0");
  unsupported.output("y");
  const std::string up = write(tmp, "unsupported.onnx", unsupported.bytes());
  expect_one_line_error(tmp, up, "unsupported operators: Resize (node 'up1'), LSTM (node 'lstm_0')");

  OnnxModel missing(13);
  missing.input("x", {1, 1, 2, 2});
  missing.node("Conv", {"x", "w"}, {"y"}, "conv");
  missing.output("y");
  expect_one_line_error(tmp, write(tmp, "missing_init.onnx", missing.bytes()), "input 'w' is missing");

  OnnxModel cycle(13);
  cycle.input("x", {3});
  cycle.node("Add", {"x", "b"}, {"a"}, "n1");
  cycle.node("Relu", {"a"}, {"b"}, "n2");
  cycle.output("b");
  expect_one_line_error(tmp, write(tmp, "cycle.onnx", cycle.bytes()), "cycle");

  OnnxModel rank(13);
  rank.input("x", {1, 3, 8});
  rank.init_f("w", {8, 3, 3, 3}, std::vector<float>(216, 0.0f));
  rank.node("Conv", {"x", "w"}, {"y"}, "conv");
  rank.output("y");
  expect_one_line_error(tmp, write(tmp, "rank.onnx", rank.bytes()), "rank");
}

}  // namespace
}  // namespace qsim
