// ONNX's own operator tests through import + executor.
//
// Every case of Debian's libonnx-testdata (/usr/share/libonnx-testdata/data/node,
// ONNX 1.12) is imported; a case the importer rejects for an operator it does not
// support is skipped as unsupported. Every other case must import and its outputs
// must match output_N.pb within ONNX's tolerances (rtol 1e-3, atol 1e-7; integer
// and bool outputs exactly). Cases the importer refuses although their operators
// are supported are listed with the reason and must stay within the known list.
// The test prints how many cases ran and which were skipped.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <onnx/onnx.pb.h>

#include "graph/error.h"
#include "graph/onnx_import.h"
#include "runtime/executor.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

fs::path node_test_dir() {
  if (const char* env = std::getenv("QSIM_ONNX_NODE_TESTS")) return env;
  return "/usr/share/libonnx-testdata/data/node";
}

// The operators the importer claims (graph/onnx_import.cpp, supported_ops()). A case
// is skipped as unsupported only when it uses another operator or domain, and the
// importer must then reject it: the two lists cannot drift apart silently.
const std::set<std::string>& importer_ops() {
  static const std::set<std::string> ops{
      "Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid",
      "HardSwish", "Mul", "Add", "Sum", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
      "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Dropout", "Identity", "Softmax", "LRN", "Pad",
      "QuantizeLinear", "DequantizeLinear", "Constant", "ConstantOfShape", "Shape", "Gather", "Cast"};
  return ops;
}

// Refusals the importer documents, for cases made of supported operators only:
// value types without a DType (float16, bfloat16, string, sequence, optional) and
// random training-mode Dropout. Each maps to a fragment of the importer's message.
bool known_refusal(const std::string& name, const std::string& message) {
  std::string msg = message;
  std::transform(msg.begin(), msg.end(), msg.begin(), [](unsigned char c) { return std::tolower(c); });
  if (msg.find("is not a tensor") != std::string::npos) return true;  // sequence / optional types
  if (msg.find("random") != std::string::npos && name.find("training_dropout") != std::string::npos) return true;
  // Element types without a DType: float16, bfloat16, string (in the model or in its test data).
  return msg.find("float16") != std::string::npos || msg.find("string") != std::string::npos;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Compares one output; returns an empty string when it matches.
std::string compare(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape()) return "shape " + shape_str(got.shape()) + " != " + shape_str(want.shape());
  if (got.dtype() != want.dtype())
    return "type " + std::string(dtype_name(got.dtype())) + " != " + std::string(dtype_name(want.dtype()));
  const bool is_float = want.dtype() == DType::kFloat32 || want.dtype() == DType::kFloat64;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.as_double(i), w = want.as_double(i);
    if (is_float) {
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && g == w) continue;
      if (std::abs(g - w) <= 1e-7 + 1e-3 * std::abs(w)) continue;
    } else if (g == w) {
      continue;
    }
    std::ostringstream os;
    os << "element " << i << ": got " << g << ", want " << w;
    return os.str();
  }
  return {};
}

TEST(OnnxNodeConformance, ComparisonUsesOnnxTolerances) {
  const Tensor want = Tensor::from<float>({3}, std::vector<float>{1.0f, -2.0f, 0.0f});
  EXPECT_EQ(compare(Tensor::from<float>({3}, std::vector<float>{1.0009f, -2.0f, 0.0f}), want), "");
  EXPECT_NE(compare(Tensor::from<float>({3}, std::vector<float>{1.0011f, -2.0f, 0.0f}), want), "");
  EXPECT_NE(compare(Tensor::from<float>({3}, std::vector<float>{1.0f, -2.0f, 1e-6f}), want), "");
  EXPECT_NE(compare(Tensor::from<float>({1, 3}, std::vector<float>{1.0f, -2.0f, 0.0f}), want), "");
  EXPECT_NE(compare(Tensor::from<int64_t>({2}, std::vector<int64_t>{1, 2}),
                    Tensor::from<int64_t>({2}, std::vector<int64_t>{1, 3})),
            "");
}

struct SuiteResult {
  int ran = 0, data_sets = 0, compared = 0;
  std::vector<std::string> unsupported, refused, failed;
};

SuiteResult run_suite(const fs::path& root) {
  SuiteResult r;
  int& ran = r.ran;
  int& data_sets = r.data_sets;
  int& compared = r.compared;
  auto& unsupported = r.unsupported;
  auto& refused = r.refused;
  auto& failed = r.failed;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());

  ThreadPool pool(2);
  for (const fs::path& dir : dirs) {
    const std::string name = dir.filename().string();
    const std::string model_path = (dir / "model.onnx").string();
    onnx::ModelProto m;
    if (!m.ParseFromString(slurp(model_path))) {
      ADD_FAILURE() << "cannot parse " << model_path;
      continue;
    }
    std::string other_op;
    for (const auto& n : m.graph().node())
      if (!(n.domain().empty() || n.domain() == "ai.onnx") || !importer_ops().count(n.op_type()))
        other_op = n.domain().empty() ? n.op_type() : n.domain() + "." + n.op_type();
    if (!other_op.empty()) {
      unsupported.push_back(name + " (" + other_op + ")");
      try {
        import_onnx(model_path);
        ADD_FAILURE() << name << " uses " << other_op << " but the importer accepted it";
      } catch (const Error&) {
      }
      continue;
    }

    // Graph inputs the importer needs as values are bound from the first data set.
    OnnxImportOptions o;
    const fs::path data0 = dir / "test_data_set_0";
    try {
      for (const std::string& in : onnx_inputs_needing_values(model_path))
        for (int i = 0; i < m.graph().input_size(); ++i)
          if (m.graph().input(i).name() == in) {
            const fs::path pb = data0 / ("input_" + std::to_string(i) + ".pb");
            if (fs::exists(pb)) o.constant_inputs.emplace(in, load_onnx_tensor(pb.string()));
          }
    } catch (const Error& e) {
      const std::string msg = e.what();
      refused.push_back(name + " (" + msg.substr(msg.find(": ") + 2) + ")");
      EXPECT_TRUE(known_refusal(name, msg)) << name << ": " << msg;
      continue;
    }

    LayerGraph g;
    try {
      g = import_onnx(model_path, o);
    } catch (const Error& e) {
      const std::string msg = e.what();
      refused.push_back(name + " (" + msg.substr(msg.find(": ") + 2) + ")");
      EXPECT_TRUE(known_refusal(name, msg)) << name << " uses supported operators but failed to import: " << msg;
      continue;
    }

    std::string problem;
    try {
      Executor ex(g, ExecOptions{.threads = 0, .pool = &pool});
      for (const auto& set : fs::directory_iterator(dir)) {
        if (!set.is_directory() || set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
        std::vector<Tensor> inputs;
        for (ValueId v : g.inputs()) {
          const std::string& vname = g.value(v).name;
          int index = -1;
          for (int i = 0; i < m.graph().input_size(); ++i)
            if (m.graph().input(i).name() == vname) index = i;
          inputs.push_back(load_onnx_tensor((set.path() / ("input_" + std::to_string(index) + ".pb")).string()));
        }
        const std::vector<Tensor> outputs = ex.run(inputs);
        for (std::size_t k = 0; k < outputs.size(); ++k) {
          const fs::path pb = set.path() / ("output_" + std::to_string(k) + ".pb");
          if (!fs::exists(pb)) continue;
          const std::string diff = compare(outputs[k], load_onnx_tensor(pb.string()));
          ++compared;
          if (!diff.empty() && problem.empty())
            problem = set.path().filename().string() + " output " + std::to_string(k) + ": " + diff;
        }
        ++data_sets;
      }
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (known_refusal(name, msg)) {  // e.g. float16 test data
        refused.push_back(name + " (" + msg.substr(msg.find(": ") + 2) + ")");
        continue;
      }
      problem = "executor: " + msg;
    }
    ++ran;
    if (std::getenv("QSIM_CONFORMANCE_VERBOSE")) std::cout << "  ran " << name << "\n";
    if (!problem.empty()) failed.push_back(name + ": " + problem);
  }

  return r;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "\n    " + x;
  return s;
}

TEST(OnnxNodeConformance, SupportedOperatorCasesPass) {
  const fs::path root = node_test_dir();
  if (!fs::exists(root)) GTEST_SKIP() << "no ONNX node tests at " << root << " (Debian package libonnx-testdata)";
  const SuiteResult r = run_suite(root);
  const int ran = r.ran, data_sets = r.data_sets, compared = r.compared;
  const auto& unsupported = r.unsupported;
  const auto& refused = r.refused;
  const auto& failed = r.failed;
  std::cout << "[ conformance ] ran " << ran << " cases (" << data_sets << " data sets, " << compared
            << " outputs compared), " << ran - failed.size()
            << " passed, " << failed.size() << " failed; skipped " << unsupported.size()
            << " with unsupported operators; " << refused.size() << " refused by the importer:" << join(refused)
            << "\n[ conformance ] skipped as unsupported:" << join(unsupported) << "\n";
  EXPECT_TRUE(failed.empty()) << failed.size() << " failing cases:" << join(failed);
  EXPECT_GE(ran, 175);  // 177 with ONNX 1.12's data and this importer
  EXPECT_GE(compared, ran);
}

// The PyTorch-exported cases of the same package (Conv/pool variants with groups,
// dilations, 3-D, ...): same rules, reported separately.
TEST(OnnxNodeConformance, PytorchConvertedCasesPass) {
  const fs::path root = node_test_dir().parent_path() / "pytorch-converted";
  if (!fs::exists(root)) GTEST_SKIP() << "no " << root;
  const SuiteResult r = run_suite(root);
  std::cout << "[ pytorch-converted ] ran " << r.ran << " cases (" << r.compared << " outputs compared), "
            << r.failed.size() << " failed; skipped " << r.unsupported.size() << " with unsupported operators; "
            << r.refused.size() << " refused by the importer:" << join(r.refused) << "\n";
  EXPECT_TRUE(r.failed.empty()) << r.failed.size() << " failing cases:" << join(r.failed);
  EXPECT_GT(r.ran, 0);
}

}  // namespace
}  // namespace qsim
