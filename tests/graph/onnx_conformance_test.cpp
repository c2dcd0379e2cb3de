// ONNX's own operator conformance cases (onnx/backend/test/data/node, shipped by
// Debian's python3-onnx 1.12, opsets up to 17) through the importer: every case
// whose operators are all supported must import, and every output must have the
// shape and type of the reference output_N.pb. Outputs that fold to constants at
// import (Shape, Constant, ConstantOfShape, Gather, Cast, ...) must also equal
// the reference values. Graph inputs that feed static operands (Reshape's shape,
// Clip's bounds, ...) are bound from the case's input_N.pb.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "tests/test_files.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

std::string node_test_dir() {
  if (const char* env = std::getenv("QSIM_ONNX_NODE_TESTS")) return env;
  return "/usr/lib/python3/dist-packages/onnx/backend/test/data/node";
}

const std::set<std::string>& supported() {
  static const std::set<std::string> ops{
      "Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid",
      "HardSwish", "Mul", "Add", "Sum", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
      "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Dropout", "Identity", "Softmax", "LRN", "Pad",
      "Constant", "ConstantOfShape", "Shape", "Gather", "Cast"};
  return ops;
}

// Cases refused on purpose, with the reason the importer gives. Nothing else may fail.
const std::map<std::string, std::string>& expected_refusals() {
  static const std::map<std::string, std::string> r{
      {"test_identity_opt", "is not a tensor"},          // optional type
      {"test_identity_sequence", "is not a tensor"},     // sequence type
      {"test_training_dropout", "random"},               // ratio 0.75 in training mode
      {"test_training_dropout_default", "random"},       // ratio 0.5 in training mode
      {"test_training_dropout_default_mask", "random"},
      {"test_training_dropout_mask", "random"},
  };
  return r;
}

bool refused_type(const std::string& name) {  // float16 / bfloat16 / string have no DType
  return name.find("FLOAT16") != std::string::npos || name.find("STRING") != std::string::npos;
}

TEST(OnnxConformance, SupportedOperatorCasesImport) {
  const fs::path root = node_test_dir();
  if (!fs::exists(root)) GTEST_SKIP() << "no ONNX node tests at " << root << " (Debian package python3-onnx)";
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());

  int imported = 0, refused = 0, folded_outputs = 0;
  for (const fs::path& dir : dirs) {
    const std::string name = dir.filename().string();
    const std::string model_path = (dir / "model.onnx").string();
    onnx::ModelProto m;
    ASSERT_TRUE(m.ParseFromString(slurp(model_path))) << model_path;
    bool all_supported = true;
    for (const auto& n : m.graph().node())
      all_supported = all_supported && (n.domain().empty() || n.domain() == "ai.onnx") && supported().count(n.op_type());
    if (!all_supported) continue;

    OnnxImportOptions o;
    const fs::path data = dir / "test_data_set_0";
    for (const std::string& in : onnx_inputs_needing_values(model_path)) {
      for (int i = 0; i < m.graph().input_size(); ++i)
        if (m.graph().input(i).name() == in) {
          const fs::path pb = data / ("input_" + std::to_string(i) + ".pb");
          if (!fs::exists(pb)) continue;
          try {
            o.constant_inputs.emplace(in, load_onnx_tensor(pb.string()));
          } catch (const Error&) {
            // float16/bfloat16/string data: left unbound, the import then refuses the input type
          }
        }
    }

    const auto refusal = expected_refusals().find(name);
    const bool expect_refusal = refusal != expected_refusals().end() || refused_type(name);
    LayerGraph g;
    try {
      g = import_onnx(model_path, o);
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(expect_refusal) << name << ": " << msg;
      if (refusal != expected_refusals().end()) {
        EXPECT_NE(msg.find(refusal->second), std::string::npos) << msg;
      }
      EXPECT_EQ(msg.find('\n'), std::string::npos);
      ++refused;
      continue;
    }
    EXPECT_FALSE(expect_refusal) << name << " imported but is listed as refused";
    ++imported;

    ASSERT_EQ(static_cast<int>(g.outputs().size()), m.graph().output_size()) << name;
    for (std::size_t k = 0; k < g.outputs().size(); ++k) {
      const fs::path pb = data / ("output_" + std::to_string(k) + ".pb");
      if (!fs::exists(pb)) continue;
      const Tensor want = load_onnx_tensor(pb.string());
      const Value& got = g.value(g.outputs()[k]);
      EXPECT_EQ(got.shape, want.shape()) << name << " output " << k;
      EXPECT_EQ(got.dtype, want.dtype()) << name << " output " << k;
      if (got.is_constant && got.data && got.shape == want.shape() && got.dtype == want.dtype()) {
        ++folded_outputs;
        for (int64_t i = 0; i < want.numel(); ++i)
          ASSERT_EQ(got.data->as_double(i), want.as_double(i)) << name << " output " << k << " element " << i;
      }
    }
  }
  EXPECT_GE(imported, 177) << "fewer conformance cases than with onnx 1.12's data";
  std::cout << "[ conformance ] " << imported << " cases imported, " << refused << " refused as listed, "
            << folded_outputs << " outputs folded and compared\n";
}

}  // namespace
}  // namespace qsim
